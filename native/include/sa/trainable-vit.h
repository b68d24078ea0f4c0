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
#include "sa/weights.h"

namespace sa {

class TrainableVitImpl;

// Low-rank adapters (LoRA) on the encoder's linear layers: W' = W + s B A with A [r, in], B [out, r],
// s = alpha / r; A ~ U(-1/sqrt(in), 1/sqrt(in)) from `seed`, B = 0, so training starts from the
// pretrained encoder. One adapter per targeted module, named as PEFT does:
// "blocks.<i>.attn.qkv.lora_A.weight", "...lora_B.weight". Targets: "q", "k", "v" (slices of
// attn.qkv: one adapter on qkv whose B rows of the other slices stay zero), "proj" (attn.proj),
// "lin1", "lin2" (mlp).
struct LoraConfig {
    int64_t rank = 0;  // 0: no adapters
    float alpha = 0;   // 0: alpha = rank (s = 1)
    std::vector<std::string> targets = {"q", "v"};
    uint64_t seed = 0;
};

struct TrainableVitOptions {
    LoraConfig lora;
    // Gradients of the encoder's own parameters. Off: only the adapters' gradients (and the input
    // gradients that carry them) are computed, which skips every weight-gradient product.
    bool base_grads = true;
};

class TrainableVit {
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

    int64_t img_size() const;
    int64_t embed_dim() const;   // neck output channels (256)
    int64_t embed_size() const;  // embedding grid side
    std::string describe() const;

    // images: host [B, 3, S, S] (normalised, padded); out: host [B, embed_dim, E, E]. Keeps what the
    // backward pass needs.
    void forward(const float * images, int64_t B, float * out);
    // Backward of the last forward: dout host [B, embed_dim, E, E]. Parameter gradients are ACCUMULATED
    // (zero_grad() clears them); dimages (host [B, 3, S, S]) is written when non-null.
    void backward(const float * dout, float * dimages = nullptr);
    void zero_grad();

    // Parameters by their names under the prefix ("blocks.0.attn.qkv.weight", "neck.1.bias", ...).
    std::vector<std::string> param_names() const;
    std::vector<int64_t> param_shape(const std::string & name) const;
    void get_param(const std::string & name, float * host) const;
    void set_param(const std::string & name, const float * host);
    void get_grad(const std::string & name, float * host) const;

    // Adapters: their parameter names (empty without LoRA), the scale s, one Adam / AdamW step over
    // all of them (then their gradients are zero), and a targeted layer's merged weight W + s B A
    // (e.g. "blocks.0.attn.qkv.weight"; the plain weight when the layer has no adapter).
    std::vector<std::string> lora_names() const;
    float lora_scale() const;
    void lora_adam_step(float lr, float beta1, float beta2, float eps, float weight_decay, bool decoupled);
    void merged_weight(const std::string & name, float * host) const;

    TrainableVitImpl & impl() { return *impl_; }

  private:
    std::unique_ptr<TrainableVitImpl> impl_;
};

}  // namespace sa
