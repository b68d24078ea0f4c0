// SPDX-License-Identifier: Apache-2.0
// Prompt-free prediction heads: the bilinear upsampling op against a hand-computed PyTorch case and a
// naive per-pixel reference, its backward pass as the exact adjoint of the forward, and the head
// trainer's gradients (linear and CNN heads) against central finite differences of its own loss, plus
// a loss that decreases under training.
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "sa/backend.h"
#include "sa/head-trainer.h"
#include "sa/status.h"
#include "testing.h"

namespace {

// Direct per-pixel bilinear interpolation (align_corners=False), in double.
std::vector<float> naive_upsample(const std::vector<float> & x, int64_t N, int64_t H, int64_t W, int64_t Ho,
                                  int64_t Wo) {
    std::vector<float> y((size_t) (N * Ho * Wo));
    auto src = [](int64_t o, int64_t in, int64_t out, int64_t & a, int64_t & b, double & l) {
        double s = (o + 0.5) * (double) in / (double) out - 0.5;
        if (s < 0) s = 0;
        a = std::min((int64_t) std::floor(s), in - 1);
        b = std::min(a + 1, in - 1);
        l = s - (double) a;
    };
    for (int64_t n = 0; n < N; ++n)
        for (int64_t oy = 0; oy < Ho; ++oy)
            for (int64_t ox = 0; ox < Wo; ++ox) {
                int64_t y0, y1, x0, x1;
                double ly, lx;
                src(oy, H, Ho, y0, y1, ly);
                src(ox, W, Wo, x0, x1, lx);
                auto at = [&](int64_t i, int64_t j) { return (double) x[(size_t) ((n * H + i) * W + j)]; };
                const double v = (1 - ly) * ((1 - lx) * at(y0, x0) + lx * at(y0, x1)) +
                                 ly * ((1 - lx) * at(y1, x0) + lx * at(y1, x1));
                y[(size_t) ((n * Ho + oy) * Wo + ox)] = (float) v;
            }
    return y;
}

double max_abs_diff(const std::vector<float> & a, const std::vector<float> & b) {
    double m = 0;
    for (size_t i = 0; i < a.size(); ++i) m = std::max(m, (double) std::fabs(a[i] - b[i]));
    return m;
}

}  // namespace

SA_TEST(upsample_bilinear_matches_pytorch_2x2_to_4x4) {
    // F.interpolate(torch.tensor([[[[0., 1.], [2., 3.]]]]), size=(4, 4), mode="bilinear", align_corners=False)
    const std::vector<float> expect = {0.0f, 0.25f, 0.75f, 1.0f, 0.5f, 0.75f, 1.25f, 1.5f,
                                       1.5f, 1.75f, 2.25f, 2.5f, 2.0f, 2.25f, 2.75f, 3.0f};
    satest::Buf x(std::vector<float>{0.0f, 1.0f, 2.0f, 3.0f});
    satest::Buf y(16);
    satest::cpu_backend().upsample_bilinear(x.p, y.p, 1, 2, 2, 4, 4);
    satest::expect(max_abs_diff(y.host(), expect) < 1e-7, "2x2 -> 4x4 differs from PyTorch's values");
}

SA_TEST(upsample_bilinear_matches_naive_reference) {
    struct Case {
        int64_t N, H, W, Ho, Wo;
    };
    for (const Case c : {Case{3, 5, 7, 20, 28}, Case{2, 16, 16, 64, 64}, Case{1, 9, 6, 4, 13}, Case{4, 1, 3, 5, 1}}) {
        const auto xv = satest::randn((size_t) (c.N * c.H * c.W), 11);
        satest::Buf x(xv), y((size_t) (c.N * c.Ho * c.Wo));
        satest::cpu_backend().upsample_bilinear(x.p, y.p, c.N, c.H, c.W, c.Ho, c.Wo);
        const double d = max_abs_diff(y.host(), naive_upsample(xv, c.N, c.H, c.W, c.Ho, c.Wo));
        satest::expect(d < 1e-5, "upsample " + std::to_string(c.H) + "x" + std::to_string(c.W) + " -> " +
                                     std::to_string(c.Ho) + "x" + std::to_string(c.Wo) + ": max diff " +
                                     std::to_string(d));
    }
}

SA_TEST(upsample_bilinear_backward_is_the_adjoint) {
    // <U x, g> == <x, U^T g> for random x and g, upsampling and downsampling.
    struct Case {
        int64_t N, H, W, Ho, Wo;
    };
    for (const Case c : {Case{2, 5, 7, 20, 28}, Case{1, 9, 6, 4, 13}, Case{3, 16, 16, 64, 64}}) {
        const auto xv = satest::randn((size_t) (c.N * c.H * c.W), 3);
        const auto gv = satest::randn((size_t) (c.N * c.Ho * c.Wo), 4);
        satest::Buf x(xv), g(gv), y((size_t) (c.N * c.Ho * c.Wo)), dx((size_t) (c.N * c.H * c.W), 7.0f);
        sa::Backend & be = satest::cpu_backend();
        be.upsample_bilinear(x.p, y.p, c.N, c.H, c.W, c.Ho, c.Wo);
        be.upsample_bilinear_backward(g.p, dx.p, c.N, c.H, c.W, c.Ho, c.Wo);
        const auto yh = y.host(), dxh = dx.host();
        double a = 0, b = 0, scale = 0;
        for (size_t i = 0; i < yh.size(); ++i) {
            a += (double) yh[i] * gv[i];
            scale += std::fabs((double) yh[i] * gv[i]);
        }
        for (size_t i = 0; i < dxh.size(); ++i) b += (double) xv[i] * dxh[i];
        satest::expect(std::fabs(a - b) <= 1e-5 * scale,
                       "<Ux, g> = " + std::to_string(a) + " but <x, U^T g> = " + std::to_string(b));
    }
}

SA_TEST(upsample_bilinear_rejects_bad_sizes) {
    bool threw = false;
    try {
        satest::cpu_backend().upsample_bilinear(nullptr, nullptr, 1, 0, 4, 8, 8);
    } catch (const sa::Error & e) {
        threw = e.status() == SA_ERR_INVALID_ARG;
    }
    satest::expect(threw, "a zero-sized input must be SA_ERR_INVALID_ARG");
}

namespace {

struct Head {
    sa::HeadConfig hc;
    std::unique_ptr<sa::HeadTrainer> tr;
    std::vector<float> emb, target;
    int64_t B = 2;
    Head(int64_t depth, sa::LossKind loss) {
        hc.in_channels = 6;
        hc.embed_size = 5;
        hc.depth = depth;
        hc.hidden = 4;
        sa::TrainConfig tc;
        tc.loss = loss;
        tc.lr = 1e-2f;
        tc.weight_decay = 0.0f;
        tr = std::make_unique<sa::HeadTrainer>(satest::cpu_backend(), hc, tc);
        uint32_t seed = 100;
        for (const auto & name : tr->param_names()) {
            int64_t n = 1;
            for (int64_t d : tr->param_shape(name)) n *= d;
            auto v = satest::randn((size_t) n, seed++, 0.4f);
            if (name.find("norm.weight") != std::string::npos)
                for (auto & x : v) x += 1.0f;
            tr->set_param(name, v.data());
        }
        emb = satest::randn((size_t) (B * hc.in_channels * 25), 7);
        const int64_t O = 16 * 25;
        target.assign((size_t) (B * O), 0.0f);
        for (int64_t b = 0; b < B; ++b)
            for (int64_t yy = 0; yy < 20; ++yy)
                for (int64_t xx = 0; xx < 20; ++xx)
                    target[(size_t) (b * O + yy * 20 + xx)] =
                        (xx - 8 - 2 * b) * (xx - 8 - 2 * b) + (yy - 10) * (yy - 10) < 30 ? 1.0f : 0.0f;
    }
    float loss() { return tr->loss_and_grad(emb.data(), B, target.data()); }
};

void check_gradients(int64_t depth, sa::LossKind loss) {
    Head h(depth, loss);
    h.loss();
    for (const auto & name : h.tr->param_names()) {
        int64_t n = 1;
        for (int64_t d : h.tr->param_shape(name)) n *= d;
        std::vector<float> g((size_t) n), p((size_t) n);
        h.tr->get_grad(name, g.data());
        h.tr->get_param(name, p.data());
        double gmax = 0;
        for (float v : g) gmax = std::max(gmax, (double) std::fabs(v));
        satest::expect(gmax > 0, name + ": zero gradient");
        // a few entries per tensor, spread over it
        const int64_t probes = std::min<int64_t>(n, 6);
        for (int64_t k = 0; k < probes; ++k) {
            const int64_t i = (k * 7919) % n;
            // central differences at two step sizes: a ReLU kink inside one step spoils that one only
            double err = 1e30, fd = 0;
            for (const float rel : {3e-3f, 1e-3f}) {
                const float eps = rel * std::max(1.0f, std::fabs(p[(size_t) i]));
                const float saved = p[(size_t) i];
                p[(size_t) i] = saved + eps;
                h.tr->set_param(name, p.data());
                const double lp = h.loss();
                p[(size_t) i] = saved - eps;
                h.tr->set_param(name, p.data());
                const double lm = h.loss();
                p[(size_t) i] = saved;
                h.tr->set_param(name, p.data());
                const double d = (lp - lm) / (2.0 * eps);
                if (std::fabs(d - g[(size_t) i]) < err) {
                    err = std::fabs(d - g[(size_t) i]);
                    fd = d;
                }
            }
            satest::expect(err <= 1e-4 + 2e-2 * std::max(std::fabs(fd), 0.05 * gmax),
                           "depth " + std::to_string(depth) + " " + name + "[" + std::to_string(i) + "]: analytic " +
                               std::to_string(g[(size_t) i]) + " vs finite difference " + std::to_string(fd));
        }
    }
}

}  // namespace

SA_TEST(linear_head_gradients_match_finite_differences) {
    check_gradients(0, sa::LossKind::DiceCE);
}

SA_TEST(cnn_head_gradients_match_finite_differences) {
    check_gradients(1, sa::LossKind::DiceCE);
    check_gradients(2, sa::LossKind::DiceCE);
    check_gradients(2, sa::LossKind::MedSAM);
}

SA_TEST(head_predict_equals_training_forward_and_loss_decreases) {
    Head h(2, sa::LossKind::DiceCE);
    std::vector<float> low((size_t) (h.B * 16 * 25));
    h.tr->predict(h.emb.data(), h.B, low.data());
    double finite = 0;
    for (float v : low) finite += std::isfinite(v) ? 0 : 1;
    satest::expect(finite == 0, "predict gave non-finite logits");
    const float l0 = h.tr->step(h.emb.data(), h.B, h.target.data());
    float l = l0;
    for (int i = 0; i < 40; ++i) l = h.tr->step(h.emb.data(), h.B, h.target.data());
    satest::expect(h.tr->step_count() == 41, "step count");
    satest::expect(l < 0.7f * l0, "loss must decrease: " + std::to_string(l0) + " -> " + std::to_string(l));
}

SA_TEST(head_trainer_refuses_bad_configs) {
    auto refused = [](sa::HeadConfig hc, sa::TrainConfig tc) {
        try {
            sa::HeadTrainer t(satest::cpu_backend(), hc, tc);
        } catch (const sa::Error & e) {
            return e.status() == SA_ERR_INVALID_ARG;
        }
        return false;
    };
    sa::HeadConfig hc;
    hc.depth = 17;
    satest::expect(refused(hc, sa::TrainConfig{}), "depth 17");
    sa::TrainConfig sam;
    sam.loss = sa::LossKind::SAM;
    satest::expect(refused(sa::HeadConfig{}, sam), "the SAM loss");
    bool threw = false;
    sa::HeadTrainer t(satest::cpu_backend(), sa::HeadConfig{}, sa::TrainConfig{});
    try {
        std::vector<float> x(1);
        t.set_param("blocks.0.conv.weight", x.data());
    } catch (const sa::Error & e) {
        threw =
            e.status() == SA_ERR_INVALID_ARG && std::string(e.what()).find("blocks.0.conv.weight") != std::string::npos;
    }
    satest::expect(threw, "an unknown parameter name is refused, named");
}

SA_TEST_MAIN()
