// SPDX-License-Identifier: Apache-2.0
// The SAM ViT image encoder with a backward pass, for training the encoder (or adapters inside it)
// through the mask decoder: forward keeps only each block's input and the neck's activations; the
// backward pass recomputes one block at a time from its input (activation memory: depth x tokens x
// width, plus one block's workspace) and accumulates the gradient of every parameter, optionally
// also the input image's.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sa/backend.h"
#include "sa/trainable-encoder.h"
#include "sa/weights.h"

namespace sa {

class TrainableVitImpl;

using TrainableVitOptions = TrainableEncoderOptions;

// LoRA targets (see LoraConfig): q, k, v, qkv (attn.qkv), proj (attn.proj), lin1, lin2, mlp (mlp.lin1/2).
class TrainableVit final : public TrainableEncoder {
  public:
    // Reads every weight under `prefix` (official key names) and copies them to the backend; the
    // configuration is inferred as for make_vit_encoder. Throws SA_ERR_WEIGHTS / SA_ERR_SHAPE.
    // Runs on the CPU backend only (SA_ERR_UNSUPPORTED elsewhere: the backward ops have no kernels
    // there yet).
    TrainableVit(Backend & be, WeightMap & w, const std::string & prefix = "image_encoder.",
                 TrainableVitOptions opt = {});
    ~TrainableVit();
    TrainableVit(const TrainableVit &) = delete;
    TrainableVit & operator=(const TrainableVit &) = delete;

    std::string arch() const override { return "vit"; }
    int64_t img_size() const override;
    int64_t embed_dim() const override;
    int64_t embed_size() const override;
    std::string describe() const override;

    void forward(const float * images, int64_t B, float * out) override;
    void backward(const float * dout, float * dimages = nullptr) override;
    void zero_grad() override;

    std::vector<std::string> param_names() const override;
    std::vector<int64_t> param_shape(const std::string & name) const override;
    void get_param(const std::string & name, float * host) const override;
    void set_param(const std::string & name, const float * host) override;
    void get_grad(const std::string & name, float * host) const override;

    std::vector<std::string> lora_names() const override;
    float lora_scale() const override;
    void lora_adam_step(float lr, float beta1, float beta2, float eps, float weight_decay, bool decoupled) override;
    void merged_weight(const std::string & name, float * host) const override;
    int64_t lora_step_count() const override;
    void set_lora_step_count(int64_t t) override;
    void get_lora_state(const std::string & name, float * m_host, float * v_host) const override;
    void set_lora_state(const std::string & name, const float * m_host, const float * v_host) override;

    TrainableVitImpl & impl() { return *impl_; }

  private:
    std::unique_ptr<TrainableVitImpl> impl_;
};

}  // namespace sa
