// SPDX-License-Identifier: Apache-2.0
// LoRA factors for the trainable image encoders (see model/lora-adapters.h).
#include "model/lora-adapters.h"

#include <cmath>
#include <random>

#include "sa/status.h"

namespace sa {

int64_t append_flat_param(std::vector<FlatParam> & params, std::map<std::string, size_t> & index, int64_t & total,
                          const std::string & name, const std::vector<int64_t> & shape) {
    FlatParam p;
    p.name = name;
    p.shape = shape;
    p.offset = total;
    p.numel = 1;
    for (int64_t d : shape) p.numel *= d;
    total += (p.numel + 15) / 16 * 16;
    index[name] = params.size();
    params.push_back(p);
    return p.offset;
}

LoraTargets parse_lora_targets(const LoraConfig & l) {
    SA_CHECK_ARG(l.rank > 0 && l.rank <= 1024, "LoRA: rank must be in 1..1024, got " + std::to_string(l.rank));
    SA_CHECK_ARG(std::isfinite(l.alpha) && l.alpha >= 0, "LoRA: alpha must be finite and >= 0");
    LoraTargets t;
    for (const std::string & s : l.targets) {
        if (s == "q") t.qkv[0] = true;
        else if (s == "k") t.qkv[1] = true;
        else if (s == "v") t.qkv[2] = true;
        else if (s == "qkv") t.qkv[0] = t.qkv[1] = t.qkv[2] = true;
        else if (s == "proj") t.proj = true;
        else if (s == "lin1" || s == "fc1") t.mlp1 = true;
        else if (s == "lin2" || s == "fc2") t.mlp2 = true;
        else if (s == "mlp") t.mlp1 = t.mlp2 = true;
        else fail(SA_ERR_INVALID_ARG, "LoRA: unknown target '" + s + "' (q, k, v, qkv, proj, lin1/fc1, lin2/fc2, mlp)");
    }
    SA_CHECK_ARG(t.any_qkv() || t.proj || t.mlp1 || t.mlp2, "LoRA: no target modules");
    return t;
}

float LoraAdapters::scale() const {
    return cfg_.rank > 0 ? (cfg_.alpha > 0 ? cfg_.alpha : (float) cfg_.rank) / (float) cfg_.rank : 0.0f;
}

LoraAdapter LoraAdapters::add(const std::string & module, int64_t in, int64_t out,
                              std::vector<std::pair<int64_t, int64_t>> frozen) {
    auto param = [&](const std::string & name, const std::vector<int64_t> & shape) {
        return append_flat_param(params_, index_, total_, name, shape);
    };
    LoraAdapter ad;
    ad.in = in;
    ad.out = out;
    ad.a = param(module + ".lora_A.weight", {cfg_.rank, in});
    ad.b = param(module + ".lora_B.weight", {out, cfg_.rank});
    ad.frozen = std::move(frozen);
    return ad;
}

void LoraAdapters::allocate() {
    if (total_ == 0) return;
    // A ~ U(-1/sqrt(in), 1/sqrt(in)) (PEFT's Kaiming-uniform bound with a = sqrt(5)), B = 0
    std::vector<float> init((size_t) total_, 0.0f);
    std::mt19937_64 rng(cfg_.seed);
    for (const FlatParam & p : params_) {
        if (p.name.find("lora_A") == std::string::npos) continue;
        const float bound = 1.0f / std::sqrt((float) p.shape[1]);
        std::uniform_real_distribution<float> u(-bound, bound);
        for (int64_t k = 0; k < p.numel; ++k) init[(size_t) (p.offset + k)] = u(rng);
    }
    P_ = bufs_.alloc(total_);
    G_ = bufs_.alloc(total_);
    M_ = bufs_.alloc(total_);
    V_ = bufs_.alloc(total_);
    be_.upload(P_, init.data(), (size_t) total_);
    be_.synchronize();
    for (float * buf : {G_, M_, V_}) be_.fill(buf, 0.0f, (size_t) total_);
}

void LoraAdapters::forward(const LoraAdapter & ad, const float * x, float * y, float * u, int64_t rows) {
    if (!ad.on()) return;
    const int64_t r = cfg_.rank;
    be_.gemm({false, true, rows, r, ad.in, 1.0f, {x, ad.in}, {P_ + ad.a, ad.in}, 0.0f, {u, r}});
    be_.gemm({false, true, rows, ad.out, r, scale(), {u, r}, {P_ + ad.b, r}, 1.0f, {y, ad.out}});
}

void LoraAdapters::backward(const LoraAdapter & ad, const float * x, const float * dy, const float * u, float * dx,
                            float * du, int64_t rows) {
    if (!ad.on()) return;
    const int64_t r = cfg_.rank;
    const float s = scale();
    be_.gemm({false, false, rows, r, ad.out, s, {dy, ad.out}, {P_ + ad.b, r}, 0.0f, {du, r}});
    be_.gemm({true, false, ad.out, r, rows, s, {dy, ad.out}, {u, r}, 1.0f, {G_ + ad.b, r}});
    be_.gemm({true, false, r, ad.in, rows, 1.0f, {du, r}, {x, ad.in}, 1.0f, {G_ + ad.a, ad.in}});
    if (dx) be_.gemm({false, false, rows, ad.in, r, 1.0f, {du, r}, {P_ + ad.a, ad.in}, 1.0f, {dx, ad.in}});
    for (const auto & [first, count] : ad.frozen) be_.fill(G_ + ad.b + first * r, 0.0f, (size_t) (count * r));
}

void LoraAdapters::merge_into(const LoraAdapter & ad, float * W) const {
    // clang-format off
    be_.gemm({false, false, ad.out, ad.in, cfg_.rank, scale(), {P_ + ad.b, cfg_.rank}, {P_ + ad.a, ad.in}, 1.0f, {W, ad.in}});
    // clang-format on
}

const FlatParam * LoraAdapters::find(const std::string & name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &params_[it->second];
}

void LoraAdapters::zero_grad() {
    if (total_ > 0) be_.fill(G_, 0.0f, (size_t) total_);
}

void LoraAdapters::adam_step(float lr, float beta1, float beta2, float eps, float weight_decay, bool decoupled) {
    SA_CHECK_ARG(total_ > 0, "image encoder: no LoRA adapters to step");
    ++t_;
    be_.adam_step_zero_grad({P_, G_, M_, V_, total_, lr, beta1, beta2, eps, weight_decay, decoupled, t_});
}

void LoraAdapters::set_step_count(int64_t t) {
    SA_CHECK_ARG(t >= 0, "image encoder: the LoRA step count must be >= 0");
    t_ = t;
}

void LoraAdapters::get_state(const std::string & name, float * m_host, float * v_host) const {
    const FlatParam * p = find(name);
    SA_CHECK_ARG(p, "image encoder: no LoRA adapter named '" + name + "'");
    be_.synchronize();
    be_.download(m_host, M_ + p->offset, (size_t) p->numel);
    be_.download(v_host, V_ + p->offset, (size_t) p->numel);
}

void LoraAdapters::set_state(const std::string & name, const float * m_host, const float * v_host) {
    const FlatParam * p = find(name);
    SA_CHECK_ARG(p, "image encoder: no LoRA adapter named '" + name + "'");
    be_.upload(M_ + p->offset, m_host, (size_t) p->numel);
    be_.upload(V_ + p->offset, v_host, (size_t) p->numel);
    be_.synchronize();
}

}  // namespace sa
