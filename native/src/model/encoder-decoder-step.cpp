// SPDX-License-Identifier: Apache-2.0
// encoder_decoder_step: encoder forward, decoder loss and backward, encoder backward (adapters), then
// both optimiser steps, so that a failed check leaves every parameter as it was.
#include "sa/encoder-decoder-step.h"

#include <cmath>
#include <string>
#include <vector>

#include "sa/status.h"

namespace sa {

namespace {

int64_t numel(const std::vector<int64_t> & shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

bool all_finite(const std::vector<float> & v) {
    for (float x : v)
        if (!std::isfinite(x)) return false;
    return true;
}

}  // namespace

float encoder_decoder_step(TrainableEncoder & enc, DecoderTrainer & trainer, const float * images, const Prompts & p,
                           const float * targets, float lr_override) {
    const TrainConfig & cfg = trainer.config();
    SA_CHECK_ARG(cfg.embedding_grad, "encoder training: the decoder trainer must compute the embedding gradient");
    const std::vector<std::string> adapters = enc.lora_names();
    SA_CHECK_ARG(!adapters.empty(), "encoder training: the image encoder has no LoRA adapters to train");
    SA_CHECK_ARG(images != nullptr && targets != nullptr, "encoder training: null images or targets");
    SA_CHECK_ARG(p.B >= 1, "encoder training: the batch must hold at least one sample");
    const float lr = lr_override >= 0.0f ? lr_override : cfg.lr;
    SA_CHECK_ARG(std::isfinite(lr), "encoder training: the learning rate must be finite");
    const int64_t E = enc.embed_size();
    std::vector<float> emb((size_t) (p.B * enc.embed_dim() * E * E));
    enc.zero_grad();  // a step that failed its checks may have left adapter gradients behind
    enc.forward(images, p.B, emb.data());
    const float loss = trainer.loss_and_grad(emb.data(), p, targets);
    SA_CHECK(std::isfinite(loss), SA_ERR_NUMERIC,
             "encoder training: the loss is " + std::to_string(loss) + "; parameters left unchanged");
    trainer.embedding_grad(emb.data());
    SA_CHECK(all_finite(emb), SA_ERR_NUMERIC,
             "encoder training: the embedding gradient contains NaN or Inf; parameters left unchanged");
    enc.backward(emb.data());
    std::vector<float> g;
    for (const std::string & name : adapters) {
        g.resize((size_t) numel(enc.param_shape(name)));
        enc.get_grad(name, g.data());
        SA_CHECK(
            all_finite(g), SA_ERR_NUMERIC,
            "encoder training: the gradient of adapter '" + name + "' contains NaN or Inf; parameters left unchanged");
    }
    trainer.apply_step(lr);  // checks the decoder's gradients before it changes anything
    enc.lora_adam_step(lr, cfg.beta1, cfg.beta2, cfg.eps, cfg.weight_decay, cfg.optim == OptimKind::AdamW);
    return loss;
}

}  // namespace sa
