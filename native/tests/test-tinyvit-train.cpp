// SPDX-License-Identifier: Apache-2.0
// The trainable TinyViT (make_trainable_tinyvit: encoder backward pass and LoRA) on small random TinyViT
// configurations:
//   * every gradient (encoder parameters from layers.0.downsample on, and the adapters) against central
//     differences of the float forward pass, on sampled coordinates, per tensor;
//   * the forward pass with B = 0 equals the inference encoder; merged weights W + s B A reproduce the
//     adapted encoder in the inference encoder;
//   * factor gradients follow the base-weight gradient G (dL/dB = s G A^T, dL/dA = s B^T G), also when
//     only the adapters' gradients are computed;
//   * a batch equals its images one by one; adapters trained with Adam lower a loss and leave the
//     encoder's weights alone; bad calls are refused.
// (There are no PyTorch TinyViT gradients among the fixtures; the ops are checked in test-tinyvit.cpp.)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "model/tinyvit.h"
#include "sa/backend.h"
#include "sa/image-encoder.h"
#include "sa/status.h"
#include "sa/trainable-encoder.h"
#include "sa/trainable-tinyvit.h"
#include "testing.h"

namespace {

using Vec = std::vector<float>;

// dims 8/8/12/16, depths 1/1/2/1, heads -/2/3/2, windows -/3/3/2, neck 8. At 64 x 64 the stage grids
// are 16/8/4/4: stage 1's and 2's windows need padding tokens, stage 3's do not.
sa::TinyVitConfig small_config() {
    // img_size, in_chans, dims, depths, heads, windows, hidden, merge strides, neck
    return sa::TinyVitConfig{64,        3, {8, 8, 12, 16}, {1, 1, 2, 1}, {0, 2, 3, 2}, {0, 3, 3, 2}, {16, 16, 24, 32},
                             {2, 2, 1}, 8};
}

// Random weights of a configuration's shapes, scaled by 1/sqrt(fan-in) (norm weights near 1).
struct RandomTinyVit {
    std::map<std::string, satest::Tensor> t;
    explicit RandomTinyVit(const sa::TinyVitConfig & c, uint32_t seed = 1) {
        std::mt19937 rng(seed);
        for (const auto & [name, shape] : sa::tinyvit_weight_shapes(c, "image_encoder.")) {
            satest::Tensor & x = t[name];
            x.shape = shape;
            int64_t n = 1;
            for (auto d : shape) n *= d;
            const bool vec = shape.size() == 1, norm = vec && name.find("norm") != std::string::npos &&
                                                       name.compare(name.size() - 7, 7, ".weight") == 0;
            const float sd = vec ? 0.1f
                             : name.find("attention_biases") != std::string::npos
                                 ? 0.5f
                                 : 1.0f / std::sqrt((float) (n / shape[0]));
            std::normal_distribution<float> d(0.0f, sd);
            x.data.resize((size_t) n);
            for (auto & v : x.data) v = (norm ? 1.0f : 0.0f) + d(rng);
        }
    }
};

using satest::numel;

sa::TrainableTinyVitOptions options(int64_t img, int64_t rank, std::vector<std::string> targets, bool base_grads) {
    sa::TrainableTinyVitOptions o;
    o.img_size = img;
    o.lora.rank = rank;
    o.lora.alpha = 2.0f * (float) rank;  // s = 2
    o.lora.targets = std::move(targets);
    o.lora.seed = 3;
    o.base_grads = base_grads;
    return o;
}

// Random B for every adapter (rows of slices that are not adapted stay zero, as training keeps them).
void randomise_b(sa::TrainableEncoder & m, float scale, bool k_adapted) {
    uint32_t seed = 100;
    for (const auto & n : m.lora_names()) {
        if (n.find("lora_B") == std::string::npos) continue;
        const auto shape = m.param_shape(n);
        Vec B = satest::randn((size_t) numel(shape), seed++, scale);
        if (n.find("attn.qkv") != std::string::npos && !k_adapted) {
            // TinyViT's qkv rows: per head q|k|v, each head_dim wide (head_dim = out / 3 / heads)
            const std::string mod = n.substr(0, n.find(".lora_"));
            const int64_t out = shape[0], r = shape[1];
            const int64_t s = std::stoll(mod.substr(7, mod.find('.', 7) - 7));
            const int64_t heads = s == 1 ? 2 : s == 2 ? 3 : 2;
            const int64_t d = out / 3 / heads;
            for (int64_t h = 0; h < heads; ++h)
                std::fill(B.begin() + (h * 3 * d + d) * r, B.begin() + (h * 3 * d + 2 * d) * r, 0.0f);
        }
        m.set_param(n, B.data());
    }
}

// A trainable TinyViT on its own CPU backend over small random weights (RandomTinyVit's seed).
struct TrainableModel {
    std::unique_ptr<sa::Backend> be = sa::make_cpu_backend();
    RandomTinyVit rw;
    std::unique_ptr<sa::TrainableEncoder> enc;
    TrainableModel(uint32_t seed, const sa::TrainableTinyVitOptions & o) : rw(small_config(), seed) {
        sa::WeightMap w = satest::weight_map(rw.t);
        enc = sa::make_trainable_tinyvit(*be, w, "image_encoder.", o);
    }
};

template <class F>
sa_status status_of(F && f) {
    try {
        f();
    } catch (const sa::Error & e) {
        return e.status();
    }
    return SA_OK;
}

}  // namespace

// L = sum(out * w) in double over the float forward pass; each tensor's gradient against five-point
// central differences (step 3e-3) on 4 coordinates (its largest-gradient entry and 3 spread ones):
// max |num - ana| <= 5e-3 max |ana| of the tensor (a wrong gradient is off by O(1)).
SA_TEST(gradients_against_finite_differences) {
    TrainableModel model(1, options(64, 2, {"qkv", "proj", "mlp"}, true));
    sa::TrainableEncoder & m = *model.enc;
    satest::expect(m.embed_size() == 4 && m.embed_dim() == 8 && m.img_size() == 64, "geometry " + m.describe());
    randomise_b(m, 0.3f, true);
    const Vec image = satest::randn(3 * 64 * 64, 5), wout = satest::randn(8 * 4 * 4, 6);
    Vec out(wout.size());
    auto loss = [&] {
        m.forward(image.data(), 1, out.data());
        double s = 0;
        for (size_t i = 0; i < out.size(); ++i) s += (double) out[i] * wout[i];
        return s;
    };
    loss();
    m.zero_grad();
    m.backward(wout.data());
    std::vector<std::string> names = m.param_names();
    const auto lora = m.lora_names();
    names.insert(names.end(), lora.begin(), lora.end());
    int checked = 0, skipped = 0;
    double worst = 0;
    std::string bad;
    for (const auto & n : names) {
        const int64_t k = numel(m.param_shape(n));
        Vec x((size_t) k), g((size_t) k);
        m.get_param(n, x.data());
        if (n.rfind("patch_embed.", 0) == 0 || n.rfind("layers.0.blocks.", 0) == 0) {
            satest::expect(status_of([&] { m.get_grad(n, g.data()); }) == SA_ERR_UNSUPPORTED,
                           n + ": no gradient before layers.0.downsample");
            ++skipped;
            continue;
        }
        m.get_grad(n, g.data());
        double gmax = 0;
        size_t imax = 0;
        for (size_t i = 0; i < g.size(); ++i)
            if (std::fabs(g[i]) > gmax) gmax = std::fabs(g[(imax = i)]);
        std::vector<size_t> at = {imax};
        for (uint64_t s = 1; s <= 3 && s < (uint64_t) k; ++s) at.push_back((size_t) (s * 2654435761u % (uint64_t) k));
        double err = 0;
        for (size_t i : at) {
            // five-point central difference (truncation error O(h^4)) on the float forward pass
            const float x0 = x[i], h = 3e-3f;
            auto at_offset = [&](float dx) {
                x[i] = x0 + dx;
                m.set_param(n, x.data());
                return loss();
            };
            const double num =
                (8.0 * (at_offset(h) - at_offset(-h)) - (at_offset(2 * h) - at_offset(-2 * h))) / (12.0 * h);
            x[i] = x0;
            m.set_param(n, x.data());
            err = std::max(err, std::fabs(num - (double) g[i]));
        }
        const double rel = err / std::max(gmax, 1e-4);
        worst = std::max(worst, rel);
        if (!(rel <= 5e-3))
            bad += "\n      " + n + ": rel err " + std::to_string(rel) + " (max |g| " + std::to_string(gmax) + ")";
        if (gmax == 0 && n.find("lora_A") == std::string::npos) bad += "\n      " + n + ": zero gradient";
        ++checked;
    }
    std::printf("    %d tensors checked (%d without gradient), worst relative error %.3g\n", checked, skipped, worst);
    satest::expect(bad.empty(), "gradients:" + bad);
    satest::expect(status_of([&] {
                       Vec d(3 * 64 * 64);
                       m.backward(wout.data(), d.data());
                   }) == SA_ERR_UNSUPPORTED,
                   "no input-image gradient");
}

// With B = 0 the trainable encoder is the inference encoder; merged weights carry the adapters to it.
SA_TEST(zero_b_equals_inference_and_merged_weights_reproduce_the_adapters) {
    std::unique_ptr<sa::Backend> be = sa::make_cpu_backend();
    RandomTinyVit rw(small_config(), 2);
    const Vec image = satest::randn(3 * 1024 * 1024, 7);
    Vec ref(8 * 64 * 64), got(ref.size());
    {
        sa::WeightMap w = satest::weight_map(rw.t);
        auto enc = sa::make_tinyvit_encoder(*be, w, "image_encoder.");
        enc->encode(image.data(), 1, ref.data());
    }
    sa::WeightMap w = satest::weight_map(rw.t);
    auto mp = sa::make_trainable_tinyvit(*be, w, "image_encoder.", options(1024, 4, {"q", "v", "proj", "fc2"}, false));
    sa::TrainableEncoder & m = *mp;
    m.forward(image.data(), 1, got.data());
    const satest::Diff d0 = satest::diff(got.data(), ref.data(), (int64_t) ref.size());
    std::printf("    B = 0: max |trainable - inference| %.3g (max |ref| %.3g)\n", d0.max_abs, d0.ref_max);
    satest::expect(d0.max_abs <= 1e-5 * std::max(1.0, d0.ref_max), "B = 0 forward vs inference encoder");

    randomise_b(m, 0.2f, false);
    m.forward(image.data(), 1, got.data());
    std::map<std::string, satest::Tensor> merged;
    for (const auto & n : m.param_names()) {  // W + s B A where adapted, else W
        satest::Tensor & t = merged["image_encoder." + n];
        t = satest::Tensor{m.param_shape(n), Vec((size_t) numel(m.param_shape(n)))};
        m.merged_weight(n, t.data.data());
    }
    sa::WeightMap mw = satest::weight_map(merged);
    auto enc = sa::make_tinyvit_encoder(*be, mw, "image_encoder.");
    Vec plain(ref.size());
    enc->encode(image.data(), 1, plain.data());
    satest::Tensor at{{1, 8, 64, 64}, got};
    satest::expect_close("merged weights vs adapted forward", plain.data(), at, 1e-5, 1e-5);
    satest::expect(satest::diff(got.data(), ref.data(), (int64_t) ref.size()).max_abs > 1e-3,
                   "the adapters must change the embedding");
}

// Factor gradients from the base-weight gradient G of the same backward pass (the adapted layer's
// effective weight is W + s B A, so dL/dB = s G A^T and dL/dA = s B^T G); with base_grads off the
// adapters get the same gradients.
SA_TEST(factor_gradients_follow_the_weight_gradient) {
    std::unique_ptr<sa::Backend> be = sa::make_cpu_backend();
    RandomTinyVit rw(small_config(), 3);
    const Vec image = satest::randn(3 * 64 * 64, 8), wout = satest::randn(8 * 4 * 4, 9);
    Vec out(wout.size());
    std::map<std::string, Vec> factor_grads[2];
    for (int pass = 0; pass < 2; ++pass) {
        const bool base = pass == 0;
        sa::WeightMap w = satest::weight_map(rw.t);
        auto mp = sa::make_trainable_tinyvit(*be, w, "image_encoder.", options(64, 3, {"q", "v", "proj", "mlp"}, base));
        sa::TrainableEncoder & m = *mp;
        randomise_b(m, 0.3f, false);
        m.forward(image.data(), 1, out.data());
        m.backward(wout.data());
        const float s = m.lora_scale();
        std::string bad;
        double worst = 0;
        for (const auto & n : m.lora_names()) {
            Vec got((size_t) numel(m.param_shape(n)));
            m.get_grad(n, got.data());
            factor_grads[pass][n] = got;
            if (!base || n.find("lora_B") == std::string::npos) continue;
            const std::string mod = n.substr(0, n.find(".lora_"));
            const auto ws = m.param_shape(mod + ".weight");
            const int64_t O = ws[0], I = ws[1], r = 3;
            Vec G((size_t) (O * I)), A((size_t) (r * I)), B((size_t) (O * r)), gA((size_t) (r * I));
            m.get_grad(mod + ".weight", G.data());
            m.get_param(mod + ".lora_A.weight", A.data());
            m.get_param(mod + ".lora_B.weight", B.data());
            m.get_grad(mod + ".lora_A.weight", gA.data());
            Vec refB((size_t) (O * r)), refA((size_t) (r * I));
            for (int64_t o = 0; o < O; ++o)
                for (int64_t k = 0; k < r; ++k) {
                    double acc = 0;
                    for (int64_t i = 0; i < I; ++i) acc += (double) G[(size_t) (o * I + i)] * A[(size_t) (k * I + i)];
                    refB[(size_t) (o * r + k)] = (float) (s * acc);
                }
            for (int64_t k = 0; k < r; ++k)
                for (int64_t i = 0; i < I; ++i) {
                    double acc = 0;
                    for (int64_t o = 0; o < O; ++o) acc += (double) B[(size_t) (o * r + k)] * G[(size_t) (o * I + i)];
                    refA[(size_t) (k * I + i)] = (float) (s * acc);
                }
            if (mod.find("attn.qkv") != std::string::npos) {  // k rows of B: zero gradient
                const int64_t st = std::stoll(mod.substr(7, mod.find('.', 7) - 7));
                const int64_t heads = st == 1 ? 2 : st == 2 ? 3 : 2, d = O / 3 / heads;
                for (int64_t h = 0; h < heads; ++h)
                    std::fill(refB.begin() + (h * 3 * d + d) * r, refB.begin() + (h * 3 * d + 2 * d) * r, 0.0f);
            }
            for (const auto & [ref, gotv, what] :
                 {std::make_tuple(&refB, &got, n), std::make_tuple(&refA, &gA, mod + ".lora_A.weight")}) {
                const satest::Diff d = satest::diff(gotv->data(), ref->data(), (int64_t) ref->size());
                worst = std::max(worst, d.rel());
                if (!(d.ref_max > 0 && d.max_abs <= 1e-4 * d.ref_max))
                    bad += "\n      " + what + ": max |err| " + std::to_string(d.max_abs) + ", max |ref| " +
                           std::to_string(d.ref_max);
            }
        }
        if (base) {
            std::printf("    %zu factor gradients, worst relative error %.3g\n", factor_grads[0].size(), worst);
            satest::expect(bad.empty(), "factor gradients:" + bad);
        }
    }
    std::string bad;
    for (const auto & [n, g] : factor_grads[0]) {
        const Vec & h = factor_grads[1].at(n);
        const satest::Diff d = satest::diff(h.data(), g.data(), (int64_t) g.size());
        if (!(d.max_abs <= 1e-5 * std::max(1e-6, d.ref_max))) bad += "\n      " + n;
    }
    satest::expect(bad.empty(), "adapter gradients without base_grads differ:" + bad);
}

// A batch of two images: each embedding as alone, the gradients the sum of the single-image ones.
SA_TEST(batches_equal_single_images) {
    TrainableModel model(7, options(64, 2, {"qkv", "fc1"}, true));
    sa::TrainableEncoder & m = *model.enc;
    randomise_b(m, 0.3f, true);
    const int64_t n_img = 3 * 64 * 64, n_emb = 8 * 4 * 4;
    const Vec images = satest::randn((size_t) (2 * n_img), 14), dout = satest::randn((size_t) (2 * n_emb), 15);
    const std::vector<std::string> probe = {
        "layers.1.blocks.0.attn.qkv.lora_B.weight", "layers.2.blocks.1.mlp.fc1.lora_A.weight",
        "layers.1.blocks.0.attn.attention_biases", "layers.0.downsample.conv2.c.weight"};
    auto grads = [&] {
        std::vector<Vec> out;
        for (const auto & n : probe) {
            out.emplace_back((size_t) numel(m.param_shape(n)));
            m.get_grad(n, out.back().data());
        }
        return out;
    };
    Vec both((size_t) (2 * n_emb)), one((size_t) n_emb);
    m.zero_grad();
    m.forward(images.data(), 2, both.data());
    m.backward(dout.data());
    const std::vector<Vec> g2 = grads();
    m.zero_grad();
    for (int b = 0; b < 2; ++b) {
        m.forward(images.data() + b * n_img, 1, one.data());
        const satest::Diff d = satest::diff(one.data(), both.data() + b * n_emb, n_emb);
        satest::expect(d.max_abs <= 1e-5 * std::max(1.0, d.ref_max), "image " + std::to_string(b) + " of the batch");
        m.backward(dout.data() + b * n_emb);
    }
    const std::vector<Vec> g1 = grads();
    for (size_t i = 0; i < probe.size(); ++i) {
        const satest::Diff d = satest::diff(g2[i].data(), g1[i].data(), (int64_t) g1[i].size());
        satest::expect(d.ref_max > 0 && d.max_abs <= 1e-4 * d.ref_max, probe[i] + ": batch vs summed single images");
    }
}

SA_TEST(adapters_trained_with_adam_lower_a_loss) {
    TrainableModel model(4, options(64, 4, {"q", "v"}, false));
    sa::TrainableEncoder & m = *model.enc;
    const Vec image = satest::randn(3 * 64 * 64, 10);
    Vec out(8 * 4 * 4), target = satest::randn(out.size(), 11), dout(out.size());
    Vec qkv0(48 * 16), qkv1(qkv0.size());
    m.get_param("layers.3.blocks.0.attn.qkv.weight", qkv0.data());
    std::vector<double> losses;
    for (int step = 0; step < 8; ++step) {
        m.forward(image.data(), 1, out.data());
        double l = 0;
        for (size_t i = 0; i < out.size(); ++i) {
            dout[i] = out[i] - target[i];
            l += 0.5 * (double) dout[i] * dout[i];
        }
        losses.push_back(l);
        m.backward(dout.data());
        m.lora_adam_step(1e-2f, 0.9f, 0.999f, 1e-8f, 0.0f, true);
    }
    std::printf("    losses %.5f -> %.5f\n", losses.front(), losses.back());
    satest::expect(losses.back() < 0.99 * losses.front(), "the loss must decrease");
    m.get_param("layers.3.blocks.0.attn.qkv.weight", qkv1.data());
    satest::expect(qkv0 == qkv1, "the encoder's own weights must not change");
    // layers.3: 2 heads of 8, rows h*24 + [0,8) q, [8,16) k, [16,24) v; |B| summed per slice
    Vec B(48 * 4);
    m.get_param("layers.3.blocks.0.attn.qkv.lora_B.weight", B.data());
    double slice[3] = {0, 0, 0};
    for (size_t i = 0; i < B.size(); ++i) slice[(i / 4 % 24) / 8] += std::fabs(B[i]);
    satest::expect(slice[0] > 0 && slice[2] > 0 && slice[1] == 0, "q and v adapted, k untouched");
    Vec g(qkv0.size());
    satest::expect(status_of([&] { m.get_grad("layers.3.blocks.0.attn.qkv.weight", g.data()); }) == SA_ERR_INVALID_ARG,
                   "no base gradients without base_grads");
}

SA_TEST(bad_options_and_names_are_refused) {
    std::unique_ptr<sa::Backend> be = sa::make_cpu_backend();
    RandomTinyVit rw(small_config(), 5);
    auto make = [&](sa::TrainableTinyVitOptions o) {
        return status_of([&] {
            sa::WeightMap w = satest::weight_map(rw.t);
            sa::make_trainable_tinyvit(*be, w, "image_encoder.", o);
        });
    };
    satest::expect(make(options(64, 2, {"q", "lin9"}, false)) == SA_ERR_INVALID_ARG, "unknown target");
    satest::expect(make(options(64, 2, {}, false)) == SA_ERR_INVALID_ARG, "no target");
    satest::expect(make(options(64, -1, {"q"}, false)) == SA_ERR_INVALID_ARG, "negative rank");
    satest::expect(make(options(4, 2, {"q"}, false)) == SA_ERR_INVALID_ARG, "image too small");
    satest::expect(make(options(64, 2, {"lin1", "lin2"}, false)) == SA_OK, "the ViT's MLP names are accepted");
    {
        std::map<std::string, satest::Tensor> broken = rw.t;
        broken.erase("image_encoder.layers.2.blocks.1.mlp.fc1.bias");
        sa::WeightMap w = satest::weight_map(broken);
        const sa_status st =
            status_of([&] { sa::make_trainable_tinyvit(*be, w, "image_encoder.", options(64, 0, {}, true)); });
        satest::expect(st == SA_ERR_WEIGHTS, "missing weight");
    }
    sa::WeightMap w = satest::weight_map(rw.t);
    auto mp = sa::make_trainable_tinyvit(*be, w, "image_encoder.", options(64, 0, {}, true));
    sa::TrainableEncoder & m = *mp;
    satest::expect(m.lora_names().empty(), "rank 0: no adapters");
    Vec x(4);
    satest::expect(status_of([&] { m.get_param("layers.1.blocks.0.attn.nope", x.data()); }) == SA_ERR_INVALID_ARG,
                   "unknown parameter");
    satest::expect(status_of([&] { m.backward(x.data()); }) == SA_ERR_INVALID_ARG, "backward before forward");
    satest::expect(status_of([&] { m.lora_adam_step(1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, true); }) == SA_ERR_INVALID_ARG,
                   "no adapters to step");
}

SA_TEST(made_by_architecture_with_adam_state_for_resume) {
    std::unique_ptr<sa::Backend> be = sa::make_cpu_backend();
    RandomTinyVit rw(small_config(), 6);
    sa::WeightMap w = satest::weight_map(rw.t);
    sa::TrainableEncoderOptions o;
    o.lora.rank = 2;
    auto enc = sa::make_trainable_encoder(*be, w, "tinyvit", "image_encoder.", o);
    satest::expect(enc->arch() == "tinyvit" && enc->img_size() == 1024 && enc->embed_size() == 64, enc->describe());
    const auto names = enc->lora_names();
    satest::expect(names.size() == 2 * 4 && names.front() == "layers.1.blocks.0.attn.qkv.lora_A.weight",
                   "q, v: one qkv adapter per attention block");
    const std::string n = "layers.2.blocks.1.attn.qkv.lora_B.weight";
    const Vec m = satest::randn(36 * 2, 12), v = satest::randn(36 * 2, 13);
    Vec m2(m.size()), v2(v.size());
    enc->set_lora_state(n, m.data(), v.data());
    enc->set_lora_step_count(7);
    enc->get_lora_state(n, m2.data(), v2.data());
    satest::expect(m2 == m && v2 == v && enc->lora_step_count() == 7, "Adam state round trip");
    satest::expect(status_of([&] { enc->get_lora_state("layers.1.blocks.0.attn.qkv.weight", m2.data(), v2.data()); }) ==
                       SA_ERR_INVALID_ARG,
                   "state of a non-adapter");
}

SA_TEST_MAIN()
