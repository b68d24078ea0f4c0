// SPDX-License-Identifier: Apache-2.0
// Prompt-free prediction heads on the frozen image embedding [C, E, E] (the paper's Table 1, ID 10):
// `depth` blocks of (3x3 convolution, padding 1 -> LayerNorm2d -> ReLU) at the embedding grid, a 1x1
// convolution to one logit channel, and a bilinear upsampling (align_corners=False) to the decoder's
// low-res grid 4E x 4E, where SAM's postprocess takes over. depth 0 is the linear head: the 1x1
// convolution and the upsampling alone. Forward, loss (sa/losses.h; DiceCE or MedSAM: the SAM loss
// needs an IoU prediction a head does not make), hand-written backward and Adam/AdamW on a Backend.
//
// Parameters (PyTorch-style names, one flat buffer): blocks.<i>.conv.weight [hidden, in, 3, 3],
// blocks.<i>.conv.bias [hidden], blocks.<i>.norm.weight [hidden], blocks.<i>.norm.bias [hidden],
// out.weight [1, in, 1, 1], out.bias [1]; `in` is the embedding's C for the first layer, else hidden.
// They start at zero: the caller sets its initialisation (set_param).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sa/backend.h"
#include "sa/decoder-trainer.h"
#include "sa/trainer-state.h"

namespace sa {

struct HeadConfig {
    int64_t in_channels = 256;  // the embedding's C
    int64_t embed_size = 64;    // E: the embedding grid side; the output is 4E x 4E
    int64_t depth = 0;          // conv blocks, 0..16 (0: linear head)
    int64_t hidden = 256;       // channels of the blocks
};

class HeadTrainerImpl;

class HeadTrainer : public TrainerState {
  public:
    // Validates both configurations (SA_ERR_INVALID_ARG naming the field).
    HeadTrainer(Backend & be, HeadConfig head, TrainConfig train);
    ~HeadTrainer();
    HeadTrainer(const HeadTrainer &) = delete;
    HeadTrainer & operator=(const HeadTrainer &) = delete;

    const HeadConfig & head_config() const;
    const TrainConfig & train_config() const;

    // Low-res logits: embeddings host [B, C, E, E] -> host [B, 1, 4E, 4E].
    void predict(const float * embeddings, int64_t B, float * low_res);
    // Forward, loss against targets host [B, 1, 4E, 4E] in {0, 1}, backward; gradients kept
    // (get_grad), parameters unchanged. Returns the loss.
    float loss_and_grad(const float * embeddings, int64_t B, const float * targets);
    // loss_and_grad then the optimiser step; a NaN / Inf loss or gradient throws SA_ERR_NUMERIC before
    // anything changes. lr_override >= 0 replaces the configured lr for this step.
    float step(const float * embeddings, int64_t B, const float * targets, float lr_override = -1);

    std::vector<std::string> param_names() const;
    std::vector<int64_t> param_shape(const std::string & name) const;
    int64_t num_params() const;
    void get_param(const std::string & name, float * host) const;
    void set_param(const std::string & name, const float * host);
    // get_grad, step_count, get_state, set_state: TrainerState.
    // Backend memory held (parameters, gradients, moments, workspace of the largest batch so far).
    size_t device_bytes() const;

  private:
    std::pair<int64_t, int64_t> param_range(const std::string & name) const override;

    std::unique_ptr<HeadTrainerImpl> impl_;
};

}  // namespace sa
