// SPDX-License-Identifier: Apache-2.0
// Mask-decoder fine-tuning against PyTorch (fixtures/sam-tiny, train/*): gradients of every decoder
// parameter for the dicece loss, the medsam and sam subsets, and 3-step Adam / AdamW trajectories.
#include <cmath>
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

const std::map<std::string, Tensor> & golden() {
    static const auto g = satest::load_safetensors(satest::fixtures_dir() + "/sam-tiny/golden.safetensors");
    return g;
}
const std::map<std::string, Tensor> & weights() {
    static const auto w = satest::load_safetensors(satest::fixtures_dir() + "/sam-tiny/sam_tiny.safetensors");
    return w;
}
const Tensor & G(const std::string & k) {
    auto it = golden().find(k);
    if (it == golden().end()) satest::fail("golden tensor missing: " + k);
    return it->second;
}

struct Setup {
    std::unique_ptr<sa::Backend> be = sa::make_cpu_backend();
    sa::WeightMap w;
    std::unique_ptr<sa::SamDecoder> dec;
    std::vector<float> labels;
    sa::Prompts p;
    Setup() {
        for (const auto & kv : weights())
            if (kv.first.rfind("image_encoder.", 0) != 0) w.add(kv.first, sa::WeightView{kv.second.shape, kv.second.data.data()});
        dec = std::make_unique<sa::SamDecoder>(*be, w, 256, 16);
        const std::string k = "case/points10_box/";
        p.B = 1;
        p.n_points = G(k + "points_input").shape[0];
        p.points = G(k + "points_input").data.data();
        labels = G(k + "labels").data;
        p.labels = labels.data();
        p.boxes = G(k + "boxes_input").data.data();
    }
    const float * emb() const { return G("image_embedding").data.data(); }
    const float * target() const { return G("train/target_low_res").data.data(); }
};

void check_grads(const std::string & loss, sa::LossKind kind) {
    Setup s;
    sa::TrainConfig cfg;
    cfg.loss = kind;
    sa::DecoderTrainer tr(*s.be, *s.dec, cfg);
    const float l = tr.loss_and_grad(s.emb(), s.p, s.target());
    const Tensor & ref_loss = G("train/" + loss + "/loss");
    satest::expect(std::fabs(l - ref_loss.data[0]) <= 1e-4 * std::max(1.0f, std::fabs(ref_loss.data[0])),
                   loss + " loss " + std::to_string(l) + " vs " + std::to_string(ref_loss.data[0]));
    const std::string prefix = "train/" + loss + "/grad/";
    int n = 0;
    for (const auto & kv : golden()) {
        if (kv.first.rfind(prefix, 0) != 0) continue;
        const std::string name = "mask_decoder." + kv.first.substr(prefix.size());
        std::vector<float> g((size_t) kv.second.numel());
        tr.get_grad(name, g.data());
        const satest::Diff d = satest::diff(g.data(), kv.second.data.data(), kv.second.numel());
        if (d.ref_max == 0) {
            satest::expect(d.max_abs == 0, name + ": gradient must be zero, max " + std::to_string(d.max_abs));
        } else {
            satest::expect(d.rel() <= 1e-3, name + ": rel err " + std::to_string(d.rel()));
        }
        ++n;
    }
    satest::expect(n >= 8, "too few gradients compared for " + loss);
}

void check_trajectory(const std::string & opt, sa::OptimKind kind) {
    Setup s;
    sa::TrainConfig cfg;
    cfg.optim = kind;
    sa::DecoderTrainer tr(*s.be, *s.dec, cfg);
    const Tensor & ref = G("train/" + opt + "/losses");
    for (int64_t i = 0; i < ref.numel(); ++i) {
        const float l = tr.step(s.emb(), s.p, s.target());
        satest::expect(std::fabs(l - ref.data[(size_t) i]) <= 1e-4 * std::max(1.0f, std::fabs(ref.data[(size_t) i])),
                       opt + " step " + std::to_string(i) + " loss " + std::to_string(l) + " vs " +
                           std::to_string(ref.data[(size_t) i]));
    }
    satest::expect(tr.step_count() == ref.numel(), "step count");
    const std::string prefix = "train/" + opt + "/after/";
    int n = 0;
    for (const auto & kv : golden()) {
        if (kv.first.rfind(prefix, 0) != 0) continue;
        const std::string name = "mask_decoder." + kv.first.substr(prefix.size());
        std::vector<float> v((size_t) kv.second.numel());
        s.dec->get_param(name, v.data());
        satest::expect_close(prefix + name, v.data(), kv.second, 1e-6, 1e-5);
        ++n;
    }
    satest::expect(n == 7, "watched parameters compared: " + std::to_string(n));
}

}  // namespace

SA_TEST(dicece_gradients_all_parameters) { check_grads("dicece", sa::LossKind::DiceCE); }
SA_TEST(medsam_gradients) { check_grads("medsam", sa::LossKind::MedSAM); }
SA_TEST(sam_gradients) { check_grads("sam", sa::LossKind::SAM); }
SA_TEST(adam_trajectory) { check_trajectory("adam", sa::OptimKind::Adam); }
SA_TEST(adamw_trajectory) { check_trajectory("adamw", sa::OptimKind::AdamW); }

SA_TEST(every_decoder_gradient_is_covered) {
    int n = 0;
    for (const auto & kv : golden())
        if (kv.first.rfind("train/dicece/grad/", 0) == 0) ++n;
    Setup s;
    int dec_params = 0;
    for (const auto & name : s.dec->param_names())
        if (name.rfind("mask_decoder.", 0) == 0) ++dec_params;
    satest::expect(n == dec_params, "fixture grads " + std::to_string(n) + " vs decoder params " + std::to_string(dec_params));
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
    std::vector<float> bad(G("image_embedding").data);
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

SA_TEST(multimask_and_prompt_encoder_training_run) {
    Setup s;
    sa::TrainConfig cfg;
    cfg.multimask = true;
    cfg.train_prompt_encoder = true;
    cfg.grad_clip_norm = 0.5f;
    sa::DecoderTrainer tr(*s.be, *s.dec, cfg);
    float l0 = tr.step(s.emb(), s.p, s.target());
    std::vector<float> g(256);
    tr.get_grad("prompt_encoder.point_embeddings.1.weight", g.data());
    double n2 = 0;
    for (float x : g) n2 += (double) x * x;
    satest::expect(n2 > 0, "positive-point embedding must receive a gradient");
    tr.get_grad("prompt_encoder.no_mask_embed.weight", g.data());
    n2 = 0;
    for (float x : g) n2 += (double) x * x;
    satest::expect(n2 > 0, "no_mask_embed must receive a gradient");
    float l = l0;
    for (int i = 0; i < 5; ++i) l = tr.step(s.emb(), s.p, s.target());
    satest::expect(l < l0, "loss must decrease on a single sample: " + std::to_string(l0) + " -> " + std::to_string(l));
}

SA_TEST_MAIN()
