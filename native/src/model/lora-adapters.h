// SPDX-License-Identifier: Apache-2.0
// Low-rank adapters (LoRA, sa::LoraConfig) on the linear layers of a trainable image encoder: the
// factors, their gradients and Adam moments in flat backend buffers, PEFT-style names, and the three
// small GEMMs of the forward and backward passes; and the flat parameter layout the trainable encoders
// keep their own weights in. Shared by TrainableVit and the trainable TinyViT.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/device-buffers.h"
#include "sa/backend.h"
#include "sa/trainable-encoder.h"

namespace sa {

// A named tensor at an offset of a flat buffer.
struct FlatParam {
    std::string name;
    std::vector<int64_t> shape;
    int64_t offset = 0, numel = 0;
};

// Appends `name` of `shape` to a flat buffer's layout (entries 64-byte aligned, `total` floats so far,
// `index` by name); returns its offset.
int64_t append_flat_param(std::vector<FlatParam> & params, std::map<std::string, size_t> & index, int64_t & total,
                          const std::string & name, const std::vector<int64_t> & shape);

// One adapter: A [r, in] at offset a, B [out, r] at offset b of the factor buffer. Rows of B in
// `frozen` ([first, count) ranges, e.g. the k slice of a q/v adapter on qkv) keep a zero gradient, so
// they stay zero.
struct LoraAdapter {
    int64_t a = -1, b = -1, in = 0, out = 0;
    std::vector<std::pair<int64_t, int64_t>> frozen;
    bool on() const { return a >= 0; }
};

// Which layers a LoraConfig targets. Names: "q", "k", "v" (slices of attn.qkv), "qkv", "proj"
// (attn.proj), "lin1" / "fc1" and "lin2" / "fc2" (the MLP's first and second layer, as the ViT and
// TinyViT name them), "mlp" (both). Throws SA_ERR_INVALID_ARG for a bad rank, alpha or target.
struct LoraTargets {
    bool qkv[3] = {false, false, false};
    bool proj = false, mlp1 = false, mlp2 = false;
    bool any_qkv() const { return qkv[0] || qkv[1] || qkv[2]; }
};
LoraTargets parse_lora_targets(const LoraConfig & l);

class LoraAdapters {
  public:
    LoraAdapters(Backend & be, const LoraConfig & cfg) : be_(be), cfg_(cfg), bufs_(be) {}
    int64_t rank() const { return cfg_.rank; }
    float scale() const;
    bool empty() const { return total_ == 0; }

    // Declares the adapter of `module` ("<module>.lora_A.weight", "<module>.lora_B.weight"); then
    // allocate() once all are declared: A ~ U(-1/sqrt(in), 1/sqrt(in)) from the seed (in declaration
    // order), B = 0, so training starts from the pretrained encoder.
    LoraAdapter add(const std::string & module, int64_t in, int64_t out,
                    std::vector<std::pair<int64_t, int64_t>> frozen = {});
    void allocate();

    // y[rows, out] += s (x A^T) B^T, keeping u = x A^T [rows, r].
    void forward(const LoraAdapter & ad, const float * x, float * y, float * u, int64_t rows);
    // From dy [rows, out] and the forward's u: dB += s dy^T u, dA += (s dy B)^T x, dx += (s dy B) A
    // (dx may be null); du [rows, r] is scratch.
    void backward(const LoraAdapter & ad, const float * x, const float * dy, const float * u, float * dx, float * du,
                  int64_t rows);
    // W [out, in] (device) += s B A.
    void merge_into(const LoraAdapter & ad, float * W) const;

    const std::vector<FlatParam> & params() const { return params_; }
    const FlatParam * find(const std::string & name) const;
    float * value(const FlatParam & p) const { return P_ + p.offset; }
    float * grad(const FlatParam & p) const { return G_ + p.offset; }
    void zero_grad();
    void adam_step(float lr, float beta1, float beta2, float eps, float weight_decay, bool decoupled);
    // The Adam state, for checkpoints and resume: the step count and one factor's moments (host).
    int64_t step_count() const { return t_; }
    void set_step_count(int64_t t);
    void get_state(const std::string & name, float * m_host, float * v_host) const;
    void set_state(const std::string & name, const float * m_host, const float * v_host);

  private:
    Backend & be_;
    LoraConfig cfg_;
    DeviceBuffers bufs_;
    // factors (P_), gradients (G_), Adam moments (M_, V_): one layout, `total_` floats each
    float *P_ = nullptr, *G_ = nullptr, *M_ = nullptr, *V_ = nullptr;
    std::vector<FlatParam> params_;
    std::map<std::string, size_t> index_;
    int64_t total_ = 0, t_ = 0;  // t_: Adam steps taken
};

}  // namespace sa
