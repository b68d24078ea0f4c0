// SPDX-License-Identifier: Apache-2.0
// Fine-tuning of SAM's mask decoder on cached image embeddings (the paper's method): the image
// encoder and the prompt encoder's positional encoding and mask downscaling stay frozen; forward,
// loss, hand-written backward and the optimiser step all run on the decoder's Backend.
//
// Loss target: mask token 0 (multimask false, the paper's setting); with multimask true, per sample
// the lowest loss among mask tokens 1..3 (SAM's practice for ambiguous prompts). Parameters with no
// gradient path for the chosen loss (the IoU head unless the loss is "sam"; the hypernetworks of mask
// tokens not trained) are left out of the optimiser, as PyTorch skips parameters whose grad is None.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sa/backend.h"
#include "sa/losses.h"
#include "sa/sam-decoder.h"
#include "sa/trainer-state.h"

namespace sa {

enum class OptimKind { Adam, AdamW };

struct TrainConfig {
    LossKind loss = LossKind::DiceCE;
    OptimKind optim = OptimKind::Adam;  // Adam: L2 decay added to the gradient; AdamW: decoupled decay
    float lr = 1e-4f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f, weight_decay = 1e-4f;
    float grad_clip_norm = 0;  // > 0: scale gradients so that their global L2 norm is at most this
    bool multimask = false;
    // Also train the prompt encoder's learned embeddings (point_embeddings.0-3, not_a_point_embed,
    // no_mask_embed). The positional encoding and the mask downscaling stay frozen.
    bool train_prompt_encoder = false;
    // Also compute the gradient of the image embeddings (embedding_grad()), for training the image
    // encoder through the decoder.
    bool embedding_grad = false;
};

class DecoderTrainerImpl;

class DecoderTrainer : public TrainerState {
  public:
    // Validates cfg (SA_ERR_INVALID_ARG). dec must outlive the trainer; be must be dec's backend.
    DecoderTrainer(Backend & be, SamDecoder & dec, TrainConfig cfg);
    ~DecoderTrainer();
    DecoderTrainer(const DecoderTrainer &) = delete;
    DecoderTrainer & operator=(const DecoderTrainer &) = delete;

    const TrainConfig & config() const;

    // embeddings: host [B, embed_dim, E, E] (one per sample); p: B prompts; targets: host
    // [B, 1, 4E, 4E] in {0, 1}. Forward, loss and backward; the gradients are kept (get_grad), the
    // parameters are not changed. Returns the loss.
    float loss_and_grad(const float * embeddings, const Prompts & p, const float * targets);
    // loss_and_grad followed by an optimiser step (lr_override >= 0 replaces cfg.lr for this step).
    // A NaN / Inf loss or gradient throws SA_ERR_NUMERIC before any parameter or optimiser state changes.
    float step(const float * embeddings, const Prompts & p, const float * targets, float lr_override = -1);

    // The optimiser step of step() on the gradients of the last loss_and_grad (once per loss_and_grad,
    // SA_ERR_INVALID_ARG otherwise; the same SA_ERR_NUMERIC checks first). Returns that loss.
    float apply_step(float lr_override = -1);

    // Names of the parameters the optimiser updates (official key names, a subset of param_names()).
    std::vector<std::string> trained_params() const;
    // get_grad (TrainerState) takes any parameter of the decoder.

    // d loss / d embeddings of the last loss_and_grad, host [B, embed_dim, E, E] (the layout of the
    // embeddings passed in). Needs cfg.embedding_grad (SA_ERR_INVALID_ARG otherwise).
    void embedding_grad(float * host) const;

  private:
    std::pair<int64_t, int64_t> param_range(const std::string & name) const override;

    std::unique_ptr<DecoderTrainerImpl> impl_;
};

}  // namespace sa
