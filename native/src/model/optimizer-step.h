// SPDX-License-Identifier: Apache-2.0
// The optimiser half of a training step over flat parameter, gradient and moment buffers, shared by
// the decoder trainer and the prediction-head trainer.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "sa/backend.h"
#include "sa/decoder-trainer.h"

namespace sa {

// Checks the TrainConfig's numbers (SA_ERR_INVALID_ARG naming `who`).
void check_train_config(const TrainConfig & c, const char * who);

// Refuses a non-finite loss or squared gradient norm (SA_ERR_NUMERIC; nothing changed), clips the
// gradients to cfg.grad_clip_norm (torch.nn.utils.clip_grad_norm_), increments t and runs Adam/AdamW
// over each [begin, end) range of the buffers, clearing those gradients. lr_override >= 0 replaces
// cfg.lr. `total`: the length of the buffers (clipping scales all of them).
void optimizer_step(Backend & be, const TrainConfig & cfg, float * params, float * grads, float * m, float * v,
                    int64_t total, const std::vector<std::pair<int64_t, int64_t>> & ranges, float loss, float sumsq,
                    float lr_override, int64_t & t);

}  // namespace sa
