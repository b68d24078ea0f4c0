// SPDX-License-Identifier: Apache-2.0
// What the trainer wraps (DecoderTrainer, HeadTrainer, TrainableEncoder) read from JS alike: the
// training options and the checks of a step's inputs.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

#include "napi-util.h"

#include "sa/decoder-trainer.h"

namespace saaddon {

// {loss, optimizer, lr, beta1, beta2, eps, weightDecay, gradClipNorm, multimask, trainPromptEncoder,
// embeddingGrad};
// TypeError / RangeError naming `who` and the option.
sa::TrainConfig train_config_from_js(Napi::Env env, Napi::Object o, const char * who);

// The {lr?} option of a step: the override, or -1 (none).
float lr_override_from_js(Napi::Object opts);
// RangeError (ERR_SA_INVALID_ARG) unless targets hold B x 1 x m x m values.
void check_targets(Napi::Env env, const char * what, const Napi::Float32Array & targets, int64_t B, int64_t m);
// RangeError (ERR_SA_INVALID_ARG) unless embeddings hold B x C x E x E values (any B >= 1 when B is
// 0); returns the batch.
int64_t check_embeddings(Napi::Env env, const char * what, const Napi::Float32Array & emb, int64_t B, int64_t C,
                         int64_t E);

}  // namespace saaddon
