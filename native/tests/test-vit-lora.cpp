// SPDX-License-Identifier: Apache-2.0
// LoRA in the SAM ViT encoder (TrainableVit with LoraConfig), on the sam-tiny fixture:
//   * factor gradients follow PyTorch's encoder gradients G = dL/dW (train/encoder/grad/*): with the
//     base weight set to W - s B A the adapted layer equals the fixture's W, so dL/dB = s G A^T and
//     dL/dA = s B^T G exactly (per tensor, 1e-3 relative);
//   * merged weights W + s B A reproduce the adapted encoder in the plain inference encoder;
//   * adapters and decoder trained together lower the loss and leave the encoder's weights alone.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sa/backend.h"
#include "sa/decoder-trainer.h"
#include "sa/image-encoder.h"
#include "sa/sam-decoder.h"
#include "sa/status.h"
#include "sa/trainable-vit.h"
#include "testing.h"

namespace {

using Vec = std::vector<float>;
using satest::golden;

using Sample = satest::TrainCase;

using satest::numel;

// The module name ("blocks.0.attn.qkv") of an adapter factor name.
std::string module_of(const std::string & factor) {
    return factor.substr(0, factor.find(".lora_"));
}

void check_factor_gradients(const std::vector<std::string> & targets) {
    std::unique_ptr<sa::Backend> be = sa::make_cpu_backend();
    sa::WeightMap w = satest::weight_map(satest::sam_tiny_weights());
    sa::TrainableVitOptions opt;
    opt.lora.rank = 3;
    opt.lora.alpha = 6;  // s = 2
    opt.lora.targets = targets;
    opt.lora.seed = 7;
    opt.base_grads = false;
    sa::TrainableVit vit(*be, w, "image_encoder.", opt);
    const float s = vit.lora_scale();
    satest::expect(s == 2.0f, "scale alpha / rank");
    const auto names = vit.lora_names();
    satest::expect(!names.empty(), "adapters made");
    // B random (the k rows of a q/v-only qkv adapter stay zero), base W := W - s B A.
    const bool k_adapted = std::find(targets.begin(), targets.end(), "k") != targets.end() ||
                           std::find(targets.begin(), targets.end(), "qkv") != targets.end();
    for (const auto & n : names) {
        if (n.find("lora_B") == std::string::npos) continue;
        const std::string mod = module_of(n);
        const auto bs = vit.param_shape(n), as = vit.param_shape(mod + ".lora_A.weight");
        const int64_t out = bs[0], r = bs[1], in = as[1];
        Vec B = satest::randn((size_t) (out * r), 100 + (uint32_t) n.size(), 0.05f);
        if (mod.find("qkv") != std::string::npos && !k_adapted)
            std::fill(B.begin() + out / 3 * r, B.begin() + 2 * out / 3 * r, 0.0f);
        vit.set_param(n, B.data());
        Vec A((size_t) (r * in)), W((size_t) (out * in));
        vit.get_param(mod + ".lora_A.weight", A.data());
        vit.get_param(mod + ".weight", W.data());
        for (int64_t o = 0; o < out; ++o)
            for (int64_t i = 0; i < in; ++i) {
                double acc = 0;
                for (int64_t k = 0; k < r; ++k) acc += (double) B[(size_t) (o * r + k)] * A[(size_t) (k * in + i)];
                W[(size_t) (o * in + i)] -= (float) (s * acc);
            }
        vit.set_param(mod + ".weight", W.data());
    }
    Sample smp;
    Vec emb((size_t) (256 * 16 * 16));
    vit.forward(smp.image(), 1, emb.data());
    satest::expect_close("adapted encoder embedding", emb.data(), golden("train/encoder/image_embedding"), 1e-4, 1e-3);
    sa::WeightMap wd = satest::weight_map(satest::sam_tiny_weights(), "image_encoder.");
    sa::SamDecoder dec(*be, wd, 256, 16);
    sa::TrainConfig cfg;
    cfg.embedding_grad = true;
    sa::DecoderTrainer tr(*be, dec, cfg);
    tr.loss_and_grad(emb.data(), smp.p, smp.target());
    Vec demb(emb.size());
    tr.embedding_grad(demb.data());
    vit.backward(demb.data());

    std::string bad;
    double worst = 0;
    int compared = 0;
    for (const auto & n : names) {
        const std::string mod = module_of(n);
        const bool is_b = n.find("lora_B") != std::string::npos;
        const satest::Tensor & Gt = golden("train/encoder/grad/" + mod + ".weight");
        const int64_t out = Gt.shape[0], in = Gt.shape[1];
        const int64_t r = opt.lora.rank;
        Vec A((size_t) (r * in)), B((size_t) (out * r)), got((size_t) numel(vit.param_shape(n)));
        vit.get_param(mod + ".lora_A.weight", A.data());
        vit.get_param(mod + ".lora_B.weight", B.data());
        vit.get_grad(n, got.data());
        satest::Tensor ref;
        ref.shape = vit.param_shape(n);
        ref.data.assign(got.size(), 0.0f);
        const std::vector<float> & G = Gt.data;
        if (is_b) {  // s G A^T [out, r]; rows of slices not adapted stay zero
            for (int64_t o = 0; o < out; ++o) {
                if (mod.find("qkv") != std::string::npos && !k_adapted && o >= out / 3 && o < 2 * out / 3) continue;
                for (int64_t k = 0; k < r; ++k) {
                    double acc = 0;
                    for (int64_t i = 0; i < in; ++i)
                        acc += (double) G[(size_t) (o * in + i)] * A[(size_t) (k * in + i)];
                    ref.data[(size_t) (o * r + k)] = (float) (s * acc);
                }
            }
        } else {  // s B^T G [r, in]
            for (int64_t k = 0; k < r; ++k)
                for (int64_t i = 0; i < in; ++i) {
                    double acc = 0;
                    for (int64_t o = 0; o < out; ++o)
                        acc += (double) B[(size_t) (o * r + k)] * G[(size_t) (o * in + i)];
                    ref.data[(size_t) (k * in + i)] = (float) (s * acc);
                }
        }
        const satest::Diff d = satest::diff(got.data(), ref.data.data(), ref.numel());
        worst = std::max(worst, d.rel());
        if (!(d.ref_max > 0 && d.max_abs <= 1e-3 * d.ref_max))
            bad += "\n      " + n + ": max |err| " + std::to_string(d.max_abs) + ", max |ref| " +
                   std::to_string(d.ref_max);
        ++compared;
    }
    std::printf("    %d factor gradients, worst relative error %.3g\n", compared, worst);
    satest::expect(bad.empty(), "LoRA factor gradients:" + bad);
}

}  // namespace

SA_TEST(factor_gradients_follow_pytorch_q_v) {
    check_factor_gradients({"q", "v"});
}
SA_TEST(factor_gradients_follow_pytorch_all_targets) {
    check_factor_gradients({"qkv", "proj", "mlp"});
}

SA_TEST(merged_weights_reproduce_the_adapted_encoder) {
    std::unique_ptr<sa::Backend> be = sa::make_cpu_backend();
    sa::WeightMap w = satest::weight_map(satest::sam_tiny_weights());
    sa::TrainableVitOptions opt;
    opt.lora.rank = 4;
    opt.lora.targets = {"q", "v", "proj", "lin2"};
    sa::TrainableVit vit(*be, w, "image_encoder.", opt);
    for (const auto & n : vit.lora_names()) {
        if (n.find("lora_B") == std::string::npos) continue;
        Vec B((size_t) numel(vit.param_shape(n)));
        B = satest::randn(B.size(), 5 + (uint32_t) n.size(), 0.1f);
        if (n.find("qkv") != std::string::npos) std::fill(B.begin() + B.size() / 3, B.begin() + 2 * B.size() / 3, 0.0f);
        vit.set_param(n, B.data());
    }
    Sample smp;
    Vec adapted((size_t) (256 * 16 * 16)), plain(adapted.size());
    vit.forward(smp.image(), 1, adapted.data());
    // merged checkpoint for the inference encoder
    std::map<std::string, satest::Tensor> merged;
    for (const auto & n : vit.param_names()) {
        satest::Tensor t;
        t.shape = vit.param_shape(n);
        t.data.resize((size_t) numel(t.shape));
        if (n.size() > 7 && n.compare(n.size() - 7, 7, ".weight") == 0 && t.shape.size() == 2)
            vit.merged_weight(n, t.data.data());
        else vit.get_param(n, t.data.data());
        merged["image_encoder." + n] = t;
    }
    sa::WeightMap mw = satest::weight_map(merged);
    auto enc = sa::make_vit_encoder(*be, mw);
    enc->encode(smp.image(), 1, plain.data());
    satest::Tensor ref;
    ref.shape = {1, 256, 16, 16};
    ref.data = adapted;
    satest::expect_close("merged vs adapted embedding", plain.data(), ref, 1e-4, 1e-4);
    const satest::Diff d =
        satest::diff(adapted.data(), golden("image_embedding").data.data(), (int64_t) adapted.size());
    satest::expect(d.max_abs > 1e-3, "the adapters must change the embedding");
}

SA_TEST(adapters_and_decoder_trained_together) {
    std::unique_ptr<sa::Backend> be = sa::make_cpu_backend();
    sa::WeightMap w = satest::weight_map(satest::sam_tiny_weights());
    sa::TrainableVitOptions opt;
    opt.lora.rank = 4;
    opt.base_grads = false;
    sa::TrainableVit vit(*be, w, "image_encoder.", opt);
    sa::WeightMap wd = satest::weight_map(satest::sam_tiny_weights(), "image_encoder.");
    sa::SamDecoder dec(*be, wd, 256, 16);
    sa::TrainConfig cfg;
    cfg.embedding_grad = true;
    cfg.lr = 1e-3f;
    sa::DecoderTrainer tr(*be, dec, cfg);
    Sample smp;
    Vec qkv0(64 * 192), qkv1(qkv0.size()), emb((size_t) (256 * 16 * 16)), demb(emb.size());
    vit.get_param("blocks.0.attn.qkv.weight", qkv0.data());
    std::vector<float> losses;
    for (int step = 0; step < 6; ++step) {
        vit.forward(smp.image(), 1, emb.data());
        losses.push_back(tr.step(emb.data(), smp.p, smp.target()));
        tr.embedding_grad(demb.data());
        vit.backward(demb.data());
        vit.lora_adam_step(cfg.lr, 0.9f, 0.999f, 1e-8f, 0.0f, true);
    }
    std::printf("    losses %.5f -> %.5f\n", losses.front(), losses.back());
    satest::expect(losses.back() < losses.front(), "the loss must decrease");
    vit.get_param("blocks.0.attn.qkv.weight", qkv1.data());
    satest::expect(qkv0 == qkv1, "the encoder's own weights must not change");
    Vec B(192 * 4);
    vit.get_param("blocks.0.attn.qkv.lora_B.weight", B.data());
    double q = 0, k = 0, v = 0;
    for (int64_t o = 0; o < 192; ++o)
        for (int r = 0; r < 4; ++r) (o < 64 ? q : o < 128 ? k : v) += std::fabs(B[(size_t) (o * 4 + r)]);
    satest::expect(q > 0 && v > 0 && k == 0, "q and v adapted, k untouched");
    bool thrown = false;
    try {
        Vec g(qkv0.size());
        vit.get_grad("blocks.0.attn.qkv.weight", g.data());
    } catch (const sa::Error & e) {
        thrown = e.status() == SA_ERR_INVALID_ARG;
    }
    satest::expect(thrown, "base gradients are not kept without base_grads");
}

SA_TEST(bad_lora_options_are_refused) {
    std::unique_ptr<sa::Backend> be = sa::make_cpu_backend();
    auto refused = [&](sa::TrainableVitOptions opt) {
        sa::WeightMap w = satest::weight_map(satest::sam_tiny_weights());
        try {
            sa::TrainableVit vit(*be, w, "image_encoder.", opt);
        } catch (const sa::Error & e) {
            return e.status() == SA_ERR_INVALID_ARG;
        }
        return false;
    };
    sa::TrainableVitOptions o;
    o.lora.rank = 4;
    o.lora.targets = {"q", "out_proj"};
    satest::expect(refused(o), "unknown target");
    o.lora.targets = {};
    satest::expect(refused(o), "no target");
    o.lora.targets = {"q"};
    o.lora.rank = -2;
    satest::expect(refused(o), "negative rank");
    o.lora.rank = 2;
    o.lora.alpha = NAN;
    satest::expect(refused(o), "NaN alpha");
}

SA_TEST_MAIN()
