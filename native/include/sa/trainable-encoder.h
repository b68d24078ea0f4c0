// SPDX-License-Identifier: Apache-2.0
// The interface of an image encoder with a backward pass (the SAM ViT: TrainableVit; TinyViT), for
// training the encoder, or low-rank adapters (LoRA) inside it, through the mask decoder. Training
// code (encoder_decoder_step, the addon) sees only this interface, so every encoder trains the same way.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sa/backend.h"
#include "sa/weights.h"

namespace sa {

// Low-rank adapters (LoRA) on the encoder's linear layers: W' = W + s B A with A [r, in], B [out, r],
// s = alpha / r; A ~ U(-1/sqrt(in), 1/sqrt(in)) from `seed`, B = 0, so training starts from the
// pretrained encoder. One adapter per targeted module, named as PEFT does (under the encoder's prefix):
// "<module>.lora_A.weight", "<module>.lora_B.weight". Targets: "q", "k", "v" (slices of the fused
// qkv projection: one adapter on qkv whose B rows of the other slices stay zero), "qkv" (all three),
// "proj" (the attention output), "lin1", "lin2", "mlp" (the MLP's layers; "mlp" = both); an encoder
// documents its module names.
struct LoraConfig {
    int64_t rank = 0;  // 0: no adapters
    float alpha = 0;   // 0: alpha = rank (s = 1)
    std::vector<std::string> targets = {"q", "v"};
    uint64_t seed = 0;
};

struct TrainableEncoderOptions {
    LoraConfig lora;
    // Gradients of the encoder's own parameters. Off: only the adapters' gradients (and the input
    // gradients that carry them) are computed, which skips every weight-gradient product.
    bool base_grads = true;
};

class TrainableEncoder {
  public:
    virtual ~TrainableEncoder() = default;

    virtual std::string arch() const = 0;  // "vit", "tinyvit"
    virtual int64_t img_size() const = 0;
    virtual int64_t embed_dim() const = 0;   // output channels (256)
    virtual int64_t embed_size() const = 0;  // embedding grid side
    virtual std::string describe() const = 0;

    // images: host [B, 3, S, S] (normalised, padded); out: host [B, embed_dim, E, E]. Keeps what the
    // backward pass needs.
    virtual void forward(const float * images, int64_t B, float * out) = 0;
    // Backward of the last forward: dout host [B, embed_dim, E, E]. Parameter gradients are ACCUMULATED
    // (zero_grad() clears them); dimages (host [B, 3, S, S]) is written when non-null.
    virtual void backward(const float * dout, float * dimages = nullptr) = 0;
    virtual void zero_grad() = 0;

    // Parameters by their names under the prefix (official key names); get/set/get_grad also take
    // the adapters' names.
    virtual std::vector<std::string> param_names() const = 0;
    virtual std::vector<int64_t> param_shape(const std::string & name) const = 0;
    virtual void get_param(const std::string & name, float * host) const = 0;
    virtual void set_param(const std::string & name, const float * host) = 0;
    virtual void get_grad(const std::string & name, float * host) const = 0;

    // Adapters: their parameter names (empty without LoRA), the scale s, one Adam / AdamW step over
    // all of them (then their gradients are zero), and a targeted layer's merged weight W + s B A
    // (the plain weight when the layer has no adapter).
    virtual std::vector<std::string> lora_names() const = 0;
    virtual float lora_scale() const = 0;
    virtual void lora_adam_step(float lr, float beta1, float beta2, float eps, float weight_decay, bool decoupled) = 0;
    virtual void merged_weight(const std::string & name, float * host) const = 0;
    // The adapters' optimiser state, for checkpoints and resume: the step count and an adapter's
    // first and second moments (host, the adapter's shape).
    virtual int64_t lora_step_count() const = 0;
    virtual void set_lora_step_count(int64_t t) = 0;
    virtual void get_lora_state(const std::string & name, float * m_host, float * v_host) const = 0;
    virtual void set_lora_state(const std::string & name, const float * m_host, const float * v_host) = 0;
};

// A trainable encoder by architecture ("vit" or "tinyvit"), weights under `prefix` (official key
// names). SA_ERR_INVALID_ARG for an unknown architecture; SA_ERR_UNSUPPORTED where an architecture
// or backend has no backward pass.
std::unique_ptr<TrainableEncoder> make_trainable_encoder(Backend & be, WeightMap & w, const std::string & arch,
                                                         const std::string & prefix = "image_encoder.",
                                                         TrainableEncoderOptions opt = {});

}  // namespace sa
