// SPDX-License-Identifier: Apache-2.0
// Mask-decoder fine-tuning against PyTorch (fixtures/sam-tiny, train/*): the gradient of every decoder
// parameter per tensor for the dicece loss and of the medsam and sam subsets, the 3-step Adam / AdamW
// loss trajectories and the watched parameters after them.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sa/backend.h"
#include "sa/decoder-trainer.h"
#include "sa/sam-decoder.h"
#include "sa/status.h"
#include "testing.h"

using satest::Tensor;

namespace {

using satest::golden;

struct Setup {
    std::unique_ptr<sa::Backend> be = sa::make_cpu_backend();
    sa::WeightMap w = satest::weight_map(satest::sam_tiny_weights(), "image_encoder.");
    std::unique_ptr<sa::SamDecoder> dec;
    std::vector<float> labels;
    sa::Prompts p;
    Setup() {
        dec = std::make_unique<sa::SamDecoder>(*be, w, 256, 16);
        const std::string k = "case/points10_box/";
        p.B = 1;
        p.n_points = golden(k + "points_input").shape[0];
        p.points = golden(k + "points_input").data.data();
        labels = golden(k + "labels").data;
        p.labels = labels.data();
        p.boxes = golden(k + "boxes_input").data.data();
    }
    const float * emb() const { return golden("image_embedding").data.data(); }
    const float * target() const { return golden("train/target_low_res").data.data(); }
};

float run_loss(Setup & s, sa::DecoderTrainer & tr) {
    return tr.loss_and_grad(s.emb(), s.p, s.target());
}

void check_loss(const std::string & loss, sa::LossKind kind) {
    Setup s;
    sa::TrainConfig cfg;
    cfg.loss = kind;
    sa::DecoderTrainer tr(*s.be, *s.dec, cfg);
    const float l = run_loss(s, tr);
    const float ref = golden("train/" + loss + "/loss").data[0];
    satest::expect(std::fabs(l - ref) <= 1e-5f * std::max(1.0f, std::fabs(ref)),
                   loss + " loss " + std::to_string(l) + " vs " + std::to_string(ref));
}

// The gradients of the last loss_and_grad against the fixture's train/<loss>/grad/* (PyTorch at the
// initial weights), tensor by tensor: max |got - ref| / max |ref| <= 1e-3. A reference that is zero up
// to rounding (max |ref| <= 1e-6: k_proj biases, whose exact gradient vanishes because softmax is
// shift invariant; parameters with no gradient path) is judged by its absolute error, <= 1e-6.
// Returns the number of tensors compared.
int check_gradients_golden(const std::string & loss, sa::LossKind kind) {
    Setup s;
    sa::TrainConfig cfg;
    cfg.loss = kind;
    sa::DecoderTrainer tr(*s.be, *s.dec, cfg);
    run_loss(s, tr);
    const std::string prefix = "train/" + loss + "/grad/";
    std::string bad;
    int n = 0, near_zero_n = 0;
    double worst = 0;
    for (const auto & kv : golden()) {
        if (kv.first.rfind(prefix, 0) != 0) continue;
        const std::string name = "mask_decoder." + kv.first.substr(prefix.size());
        std::vector<float> g((size_t) kv.second.numel());
        tr.get_grad(name, g.data());
        const satest::Diff d = satest::diff(g.data(), kv.second.data.data(), kv.second.numel());
        const bool near_zero = d.ref_max <= 1e-6;
        const bool ok = near_zero ? d.max_abs <= 1e-6 : d.max_abs <= 1e-3 * d.ref_max;
        if (near_zero) ++near_zero_n;
        else worst = std::max(worst, d.rel());
        if (!ok)
            bad += "\n      " + name + ": max |err| " + std::to_string(d.max_abs) + ", max |ref| " +
                   std::to_string(d.ref_max) + (near_zero ? " (near-zero reference)" : "");
        ++n;
    }
    std::printf("    %s: %d gradient tensors, worst relative error %.3g, %d near-zero references\n", loss.c_str(), n,
                worst, near_zero_n);
    satest::expect(bad.empty(), loss + " gradients:" + bad);
    return n;
}

std::vector<std::string> decoder_params() {
    Setup s;
    std::vector<std::string> out;
    for (const auto & n : s.dec->param_names())
        if (n.rfind("mask_decoder.", 0) == 0) out.push_back(n);
    return out;
}

void check_trajectory(const std::string & opt, sa::OptimKind kind, bool compare_params) {
    Setup s;
    sa::TrainConfig cfg;
    cfg.optim = kind;
    sa::DecoderTrainer tr(*s.be, *s.dec, cfg);
    const Tensor & ref = golden("train/" + opt + "/losses");
    for (int64_t i = 0; i < ref.numel(); ++i) {
        const float l = tr.step(s.emb(), s.p, s.target());
        satest::expect(std::fabs(l - ref.data[(size_t) i]) <= 1e-5f * std::max(1.0f, std::fabs(ref.data[(size_t) i])),
                       opt + " step " + std::to_string(i) + " loss " + std::to_string(l) + " vs " +
                           std::to_string(ref.data[(size_t) i]));
    }
    satest::expect(tr.step_count() == ref.numel(), "step count");
    if (!compare_params) return;
    const std::string prefix = "train/" + opt + "/after/";
    int n = 0;
    for (const auto & kv : golden()) {
        if (kv.first.rfind(prefix, 0) != 0) continue;
        const std::string name = "mask_decoder." + kv.first.substr(prefix.size());
        std::vector<float> v((size_t) kv.second.numel());
        s.dec->get_param(name, v.data());
        // An Adam step moves each entry by at most about lr; entries whose gradient is at the scale of
        // eps (1e-8) are decided by float rounding of the gradient, so allow a tenth of lr.
        satest::expect_close(prefix + name, v.data(), kv.second, 0.1 * cfg.lr, 0.0);
        ++n;
    }
    satest::expect(n == 7, "watched parameters compared: " + std::to_string(n));
}

}  // namespace

SA_TEST(losses_match_pytorch) {
    check_loss("dicece", sa::LossKind::DiceCE);
    check_loss("medsam", sa::LossKind::MedSAM);
    check_loss("sam", sa::LossKind::SAM);
}
SA_TEST(dicece_gradients_match_pytorch_per_tensor) {
    const int n = check_gradients_golden("dicece", sa::LossKind::DiceCE);
    satest::expect(n == (int) decoder_params().size(),
                   "dicece: every decoder parameter compared, got " + std::to_string(n));
}
SA_TEST(medsam_gradients_match_pytorch_per_tensor) {
    const int n = check_gradients_golden("medsam", sa::LossKind::MedSAM);
    satest::expect(n == 8, "medsam tensors compared (the manifest lists 8): " + std::to_string(n));
}
SA_TEST(sam_gradients_match_pytorch_per_tensor) {
    const int n = check_gradients_golden("sam", sa::LossKind::SAM);
    satest::expect(n == 8, "sam tensors compared (the manifest lists 8): " + std::to_string(n));
}
// The 3-step trajectories of torch.optim.Adam / AdamW reproduce the PyTorch losses, which depend on
// every gradient through the optimiser, and the watched parameters after the third step.
SA_TEST(adam_trajectory) {
    check_trajectory("adam", sa::OptimKind::Adam, true);
}
SA_TEST(adamw_trajectory) {
    check_trajectory("adamw", sa::OptimKind::AdamW, true);
}

SA_TEST(every_decoder_gradient_is_covered) {
    int n = 0;
    for (const auto & kv : golden())
        if (kv.first.rfind("train/dicece/grad/", 0) == 0) ++n;
    Setup s;
    int dec_params = 0;
    for (const auto & name : s.dec->param_names())
        if (name.rfind("mask_decoder.", 0) == 0) ++dec_params;
    satest::expect(n == dec_params,
                   "fixture grads " + std::to_string(n) + " vs decoder params " + std::to_string(dec_params));
}

SA_TEST(deterministic_losses) {
    auto run = [] {
        Setup s;
        sa::DecoderTrainer tr(*s.be, *s.dec, sa::TrainConfig{});
        std::vector<float> out;
        for (int i = 0; i < 3; ++i) out.push_back(tr.step(s.emb(), s.p, s.target()));
        std::vector<float> w(256 * 64 * 4);
        s.dec->get_param("mask_decoder.output_upscaling.0.weight", w.data());
        out.insert(out.end(), w.begin(), w.end());
        return out;
    };
    const auto a = run(), b = run();
    satest::expect(a == b, "two identical runs must be bit-identical");
}

SA_TEST(nan_embedding_leaves_parameters_unchanged) {
    Setup s;
    sa::DecoderTrainer tr(*s.be, *s.dec, sa::TrainConfig{});
    tr.step(s.emb(), s.p, s.target());
    std::vector<std::vector<float>> before;
    const auto names = s.dec->param_names();
    for (const auto & n : names) {
        int64_t k = 1;
        for (auto d : s.dec->param_shape(n)) k *= d;
        before.emplace_back((size_t) k);
        s.dec->get_param(n, before.back().data());
    }
    std::vector<float> m_before(4 * 256), v_before(4 * 256);
    tr.get_state("mask_decoder.mask_tokens.weight", m_before.data(), v_before.data());
    std::vector<float> bad(golden("image_embedding").data);
    bad[1234] = NAN;
    bool thrown = false;
    try {
        tr.step(bad.data(), s.p, s.target());
    } catch (const sa::Error & e) {
        thrown = e.status() == SA_ERR_NUMERIC;
    }
    satest::expect(thrown, "NaN embedding must throw SA_ERR_NUMERIC");
    satest::expect(tr.step_count() == 1, "step count must not advance");
    for (size_t i = 0; i < names.size(); ++i) {
        std::vector<float> now(before[i].size());
        s.dec->get_param(names[i], now.data());
        satest::expect(std::memcmp(now.data(), before[i].data(), now.size() * sizeof(float)) == 0,
                       names[i] + " changed after a failed step");
    }
    std::vector<float> m_now(4 * 256), v_now(4 * 256);
    tr.get_state("mask_decoder.mask_tokens.weight", m_now.data(), v_now.data());
    satest::expect(m_now == m_before && v_now == v_before, "optimiser state changed after a failed step");
    // Training continues from the last good state.
    const float l = tr.step(s.emb(), s.p, s.target());
    satest::expect(std::isfinite(l), "training must continue after a rejected step");
}

SA_TEST(untrained_parameters_stay_fixed) {
    // dicece, single mask: the IoU head and hypernetworks 1..3 have no gradient path and are not updated.
    Setup s;
    sa::DecoderTrainer tr(*s.be, *s.dec, sa::TrainConfig{});
    const std::string iou = "mask_decoder.iou_prediction_head.layers.2.weight";
    const std::string hyp = "mask_decoder.output_hypernetworks_mlps.2.layers.0.weight";
    std::vector<float> a(4 * 256), b(256 * 256), a2(a.size()), b2(b.size());
    s.dec->get_param(iou, a.data());
    s.dec->get_param(hyp, b.data());
    tr.step(s.emb(), s.p, s.target());
    s.dec->get_param(iou, a2.data());
    s.dec->get_param(hyp, b2.data());
    satest::expect(a == a2 && b == b2, "parameters without a gradient path must not change");
    for (const auto & n : tr.trained_params())
        satest::expect(n.find("iou_prediction_head") == std::string::npos, "iou head listed as trained");
}

// A step leaves every gradient at zero (the optimiser clears what the backward pass wrote), so the
// next step needs no separate clearing pass; checked for each loss and for multimask + prompt training.
SA_TEST(a_step_leaves_all_gradients_zero) {
    struct Cfg {
        const char * name;
        sa::LossKind loss;
        bool multimask, prompt;
    } cfgs[] = {{"dicece", sa::LossKind::DiceCE, false, false},
                {"medsam", sa::LossKind::MedSAM, false, false},
                {"sam", sa::LossKind::SAM, false, false},
                {"multimask + prompt encoder", sa::LossKind::DiceCE, true, true}};
    for (const Cfg & c : cfgs) {
        Setup s;
        sa::TrainConfig cfg;
        cfg.loss = c.loss;
        cfg.multimask = c.multimask;
        cfg.train_prompt_encoder = c.prompt;
        sa::DecoderTrainer tr(*s.be, *s.dec, cfg);
        for (int i = 0; i < 2; ++i) tr.step(s.emb(), s.p, s.target());
        for (const auto & n : s.dec->param_names()) {
            int64_t k = 1;
            for (auto d : s.dec->param_shape(n)) k *= d;
            std::vector<float> g((size_t) k);
            tr.get_grad(n, g.data());
            satest::expect(std::all_of(g.begin(), g.end(), [](float x) { return x == 0.0f; }),
                           std::string(c.name) + ": gradient of " + n + " not cleared by the step");
        }
    }
}

SA_TEST(multimask_and_prompt_encoder_training_run) {
    Setup s;
    sa::TrainConfig cfg;
    cfg.multimask = true;
    cfg.train_prompt_encoder = true;
    cfg.grad_clip_norm = 0.5f;
    sa::DecoderTrainer tr(*s.be, *s.dec, cfg);
    const float l0 = tr.loss_and_grad(s.emb(), s.p, s.target());
    std::vector<float> g(256);
    tr.get_grad("prompt_encoder.point_embeddings.1.weight", g.data());
    double n2 = 0;
    for (float x : g) n2 += (double) x * x;
    satest::expect(n2 > 0, "positive-point embedding must receive a gradient");
    tr.get_grad("prompt_encoder.no_mask_embed.weight", g.data());
    n2 = 0;
    for (float x : g) n2 += (double) x * x;
    satest::expect(n2 > 0, "no_mask_embed must receive a gradient");
    // A step clears the gradients it used (and a step after loss_and_grad does not accumulate).
    float l = tr.step(s.emb(), s.p, s.target());
    satest::expect(l == l0, "a step after loss_and_grad must see the same loss");
    tr.get_grad("prompt_encoder.no_mask_embed.weight", g.data());
    satest::expect(std::all_of(g.begin(), g.end(), [](float x) { return x == 0.0f; }), "a step clears the gradients");
    for (int i = 0; i < 5; ++i) l = tr.step(s.emb(), s.p, s.target());
    satest::expect(l < l0, "loss must decrease on a single sample: " + std::to_string(l0) + " -> " + std::to_string(l));
}

SA_TEST_MAIN()

// The final attention attends only the IoU token and the mask tokens up to the last selected one. The
// golden gradients cover a single mask (2 of 17 rows); here multimask with the SAM loss (IoU head and
// mask tokens 1..3: 5 of 17 rows) is checked against central differences of the loss, in double the
// step on each side, at the largest-gradient entries of tensors before, inside and after that attention
// (errors relative to max(|gradient|, 0.05); a wrong row would be off by the gradient itself).
SA_TEST(multimask_gradients_match_finite_differences) {
    Setup s;
    sa::TrainConfig cfg;
    cfg.loss = sa::LossKind::SAM;
    cfg.multimask = true;
    sa::DecoderTrainer tr(*s.be, *s.dec, cfg);
    const char * names[] = {"mask_decoder.transformer.final_attn_token_to_image.q_proj.weight",
                            "mask_decoder.transformer.final_attn_token_to_image.k_proj.weight",
                            "mask_decoder.transformer.final_attn_token_to_image.v_proj.weight",
                            "mask_decoder.transformer.layers.1.cross_attn_image_to_token.v_proj.weight",
                            "mask_decoder.transformer.layers.0.cross_attn_token_to_image.q_proj.weight",
                            "mask_decoder.mask_tokens.weight",
                            "mask_decoder.iou_token.weight"};
    run_loss(s, tr);
    std::string bad;
    double worst = 0;
    for (const char * name : names) {
        int64_t k = 1;
        for (auto d : s.dec->param_shape(name)) k *= d;
        std::vector<float> g((size_t) k), w((size_t) k);
        tr.get_grad(name, g.data());
        s.dec->get_param(name, w.data());
        std::vector<int64_t> idx((size_t) k);
        for (int64_t i = 0; i < k; ++i) idx[(size_t) i] = i;
        std::partial_sort(idx.begin(), idx.begin() + 3, idx.end(),
                          [&](int64_t a, int64_t b) { return std::fabs(g[(size_t) a]) > std::fabs(g[(size_t) b]); });
        for (int j = 0; j < 3; ++j) {
            const size_t i = (size_t) idx[(size_t) j];
            const float h = 2e-3f * std::max(1.0f, std::fabs(w[i]));
            auto loss_at = [&](float x) {
                std::vector<float> v = w;
                v[i] = x;
                s.dec->set_param(name, v.data());
                return (double) run_loss(s, tr);
            };
            const double fd = (loss_at(w[i] + h) - loss_at(w[i] - h)) / (2.0 * (double) h);
            s.dec->set_param(name, w.data());
            // float rounding of the loss and the curvature over 2h leave about 2e-4 of absolute noise
            const double err = std::fabs(fd - g[i]) / std::max(0.05, std::fabs((double) g[i]));
            worst = std::max(worst, err);
            if (err > 2e-2)
                bad += "\n      " + std::string(name) + "[" + std::to_string(i) + "]: analytic " +
                       std::to_string(g[i]) + ", finite difference " + std::to_string(fd);
        }
    }
    std::printf("    multimask + sam loss: 21 entries, worst error %.3g\n", worst);
    satest::expect(bad.empty(), "gradients vs finite differences:" + bad);
}
