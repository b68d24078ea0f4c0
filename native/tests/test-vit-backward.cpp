// SPDX-License-Identifier: Apache-2.0
// The SAM ViT encoder's backward pass on the CPU: the new ops (attention with decomposed relative
// positions, convolution) against central differences of double-precision references, and the whole
// encoder trained through the mask decoder against PyTorch (fixtures/sam-tiny, train/encoder/*): the
// gradient of every encoder parameter and of the input image, per tensor.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sa/backend.h"
#include "sa/decoder-trainer.h"
#include "sa/sam-decoder.h"
#include "sa/status.h"
#include "sa/threadpool.h"
#include "sa/trainable-vit.h"
#include "testing.h"

namespace {

using Vec = std::vector<float>;
using DVec = std::vector<double>;
using satest::golden;
using satest::randn;

using satest::check_grad;
using satest::to_d;
using satest::wsum;

// SAM ViT attention in double: qkv [B, N, 3, nh, hd] -> out [B, N, nh*hd] (rel tables [2H-1, hd],
// [2W-1, hd] or empty).
DVec ref_attention(const DVec & qkv, const DVec & rh, const DVec & rw, int64_t B, int64_t H, int64_t W, int64_t nh,
                   int64_t hd) {
    const int64_t N = H * W, C = nh * hd, ld = 3 * C;
    DVec out((size_t) (B * N * C), 0.0);
    std::vector<double> s((size_t) N);
    for (int64_t b = 0; b < B; ++b)
        for (int64_t h = 0; h < nh; ++h)
            for (int64_t i = 0; i < N; ++i) {
                const double * q = &qkv[(size_t) ((b * N + i) * ld + h * hd)];
                double mx = -1e300;
                for (int64_t j = 0; j < N; ++j) {
                    const double * k = &qkv[(size_t) ((b * N + j) * ld + C + h * hd)];
                    double d = 0;
                    for (int64_t c = 0; c < hd; ++c) d += q[c] * k[c];
                    d /= std::sqrt((double) hd);
                    if (!rh.empty()) {
                        const int64_t qh = i / W, qw = i % W, kh = j / W, kw = j % W;
                        for (int64_t c = 0; c < hd; ++c)
                            d += q[c] * (rh[(size_t) ((qh - kh + H - 1) * hd + c)] +
                                         rw[(size_t) ((qw - kw + W - 1) * hd + c)]);
                    }
                    s[(size_t) j] = d;
                    mx = std::max(mx, d);
                }
                double sum = 0;
                for (int64_t j = 0; j < N; ++j) sum += (s[(size_t) j] = std::exp(s[(size_t) j] - mx));
                for (int64_t j = 0; j < N; ++j) {
                    const double p = s[(size_t) j] / sum;
                    const double * v = &qkv[(size_t) ((b * N + j) * ld + 2 * C + h * hd)];
                    for (int64_t c = 0; c < hd; ++c) out[(size_t) ((b * N + i) * C + h * hd + c)] += p * v[c];
                }
            }
    return out;
}

void check_attention_backward(int64_t B, int64_t H, int64_t W, int64_t nh, int64_t hd, bool rel, int samples) {
    sa::Backend & be = satest::cpu_backend();
    const int64_t N = H * W, C = nh * hd;
    const std::string tag = std::to_string(B) + "x" + std::to_string(H) + "x" + std::to_string(W) + " nh" +
                            std::to_string(nh) + " hd" + std::to_string(hd) + (rel ? " rel" : "");
    const Vec qkv = randn((size_t) (B * N * 3 * C), 11, 0.8f);
    const Vec rh = rel ? randn((size_t) ((2 * H - 1) * hd), 12, 0.5f) : Vec();
    const Vec rw = rel ? randn((size_t) ((2 * W - 1) * hd), 13, 0.5f) : Vec();
    const Vec w = randn((size_t) (B * N * C), 14);
    satest::Buf dqkv((size_t) (B * N * 3 * C), 7.0f);  // overwritten
    satest::Buf d_qkv(qkv), d_w(w);
    satest::Buf d_rh(rel ? rh : Vec(1)), d_rw(rel ? rw : Vec(1));
    satest::Buf g_rh(rel ? rh.size() : 1, 0.5f), g_rw(rel ? rw.size() : 1, 0.5f);  // accumulated onto 0.5
    be.attention_vit_backward({d_qkv.p, d_w.p, dqkv.p, B, H, W, nh, hd, rel ? d_rh.p : nullptr, 2 * H - 1,
                               rel ? d_rw.p : nullptr, 2 * W - 1, rel ? g_rh.p : nullptr, rel ? g_rw.p : nullptr});
    DVec x = to_d(qkv), th = to_d(rh), tw = to_d(rw);
    auto f = [&] { return wsum(ref_attention(x, th, tw, B, H, W, nh, hd), w); };
    check_grad("attention dqkv " + tag, x, f, dqkv.host(), 1e-4, samples);
    if (rel) {
        Vec gh = g_rh.host(), gw = g_rw.host();
        for (float & v : gh) v -= 0.5f;
        for (float & v : gw) v -= 0.5f;
        check_grad("attention drel_h " + tag, th, f, gh, 1e-4);
        check_grad("attention drel_w " + tag, tw, f, gw, 1e-4);
    }
}

void check_conv_backward(int64_t B, int64_t C, int64_t H, int64_t W, int64_t O, int64_t k, int64_t stride,
                         int64_t pad) {
    sa::Backend & be = satest::cpu_backend();
    const int64_t Ho = (H + 2 * pad - k) / stride + 1, Wo = (W + 2 * pad - k) / stride + 1;
    const std::string tag = std::to_string(k) + "x" + std::to_string(k) + "/" + std::to_string(stride) + " pad " +
                            std::to_string(pad) + " on " + std::to_string(H) + "x" + std::to_string(W);
    const Vec x = randn((size_t) (B * C * H * W), 21), w = randn((size_t) (O * C * k * k), 22, 0.3f),
              b = randn((size_t) O, 23), gy = randn((size_t) (B * O * Ho * Wo), 24);
    satest::Buf d_x(x), d_w(w), d_gy(gy), dx(x.size(), 3.0f), dw(w.size(), 0.25f), db(b.size(), 0.25f);
    be.conv2d_backward({d_x.p, d_w.p, d_gy.p, dx.p, dw.p, db.p, B, C, H, W, O, k, k, stride, pad});
    DVec xd = to_d(x), wd = to_d(w), bd = to_d(b);
    auto f = [&] { return wsum(satest::conv2d_reference(xd, wd, bd, B, C, H, W, O, k, stride, pad, 1), gy); };
    Vec gw = dw.host(), gb = db.host();
    for (float & v : gw) v -= 0.25f;
    for (float & v : gb) v -= 0.25f;
    check_grad("conv dx " + tag, xd, f, dx.host(), 1e-4);
    check_grad("conv dW " + tag, wd, f, gw, 1e-4);
    check_grad("conv db " + tag, bd, f, gb, 1e-4);
}

// Per-tensor agreement with a fixture gradient: max |err| <= 1e-3 max |ref|, or <= 1e-6 absolute where
// the reference is zero up to rounding.
bool grad_ok(const std::string & what, const Vec & got, const satest::Tensor & ref, std::string & bad, double & worst) {
    satest::expect((int64_t) got.size() == ref.numel(), what + ": size mismatch");
    const satest::Diff d = satest::diff(got.data(), ref.data.data(), ref.numel());
    const bool near_zero = d.ref_max <= 1e-6;
    const bool ok = near_zero ? d.max_abs <= 1e-6 : d.max_abs <= 1e-3 * d.ref_max;
    if (!near_zero) worst = std::max(worst, d.rel());
    if (!ok)
        bad +=
            "\n      " + what + ": max |err| " + std::to_string(d.max_abs) + ", max |ref| " + std::to_string(d.ref_max);
    return ok;
}

}  // namespace

SA_TEST(attention_backward_small_grids) {
    check_attention_backward(2, 3, 4, 2, 4, true, 0);
    check_attention_backward(2, 3, 4, 2, 4, false, 0);
    check_attention_backward(1, 5, 5, 3, 8, true, 0);
}

SA_TEST(attention_backward_query_blocks) {
    // 23 x 23 = 529 tokens: two blocks of query rows (495 + 34).
    check_attention_backward(1, 23, 23, 1, 4, true, 40);
}

SA_TEST(attention_backward_same_bits_for_1_and_2_threads) {
    sa::Backend & be = satest::cpu_backend();
    const int64_t B = 3, H = 5, W = 5, nh = 2, hd = 8, N = H * W, C = nh * hd;
    const Vec qkv = randn((size_t) (B * N * 3 * C), 31), dout = randn((size_t) (B * N * C), 32),
              rh = randn((size_t) ((2 * H - 1) * hd), 33), rw = randn((size_t) ((2 * W - 1) * hd), 34);
    auto run = [&](int threads) {
        be.set_threads(threads);
        satest::Buf a(qkv), g(dout), th(rh), tw(rw), d(qkv.size()), gh(rh.size()), gw(rw.size());
        be.attention_vit_backward({a.p, g.p, d.p, B, H, W, nh, hd, th.p, 2 * H - 1, tw.p, 2 * W - 1, gh.p, gw.p});
        Vec out = d.host(), h2 = gh.host(), w2 = gw.host();
        out.insert(out.end(), h2.begin(), h2.end());
        out.insert(out.end(), w2.begin(), w2.end());
        return out;
    };
    const Vec one = run(1), two = run(2);
    be.set_threads(0);
    satest::expect(one == two, "attention_vit_backward differs between 1 and 2 threads");
}

SA_TEST(attention_backward_rejects_resampled_tables) {
    sa::Backend & be = satest::cpu_backend();
    satest::Buf qkv(3 * 4 * 4 * 4), d(3 * 4 * 4 * 4), dout(4 * 4 * 4), t(7 * 4), g(7 * 4);
    bool thrown = false;
    try {
        be.attention_vit_backward({qkv.p, dout.p, d.p, 1, 4, 4, 1, 4, t.p, 9, t.p, 9, g.p, g.p});
    } catch (const sa::Error & e) {
        thrown = e.status() == SA_ERR_UNSUPPORTED;
    }
    satest::expect(thrown, "tables that need resampling must be refused with SA_ERR_UNSUPPORTED");
}

SA_TEST(conv2d_backward_against_finite_differences) {
    check_conv_backward(2, 3, 6, 5, 4, 3, 1, 1);  // the neck's 3x3
    check_conv_backward(1, 3, 8, 8, 5, 4, 4, 0);  // patch embedding (kernel = stride)
    check_conv_backward(2, 4, 3, 3, 3, 1, 1, 0);  // the neck's 1x1
    check_conv_backward(1, 2, 7, 6, 3, 3, 2, 1);  // strided, padded
}

// image -> ViT -> mask decoder (points10_box, single mask) -> dicece, as the fixture's train/encoder.
SA_TEST(encoder_gradients_match_pytorch_per_tensor) {
    std::unique_ptr<sa::Backend> be = sa::make_cpu_backend();
    sa::WeightMap wenc = satest::weight_map(satest::sam_tiny_weights());
    sa::TrainableVit vit(*be, wenc);
    const satest::Tensor & img = golden("image/preprocessed");
    const int64_t O = vit.embed_dim(), Eg = vit.embed_size();
    Vec emb((size_t) (O * Eg * Eg));
    vit.forward(img.data.data(), 1, emb.data());
    satest::expect_close("train/encoder/image_embedding", emb.data(), golden("train/encoder/image_embedding"), 1e-4,
                         1e-3);

    sa::WeightMap wdec = satest::weight_map(satest::sam_tiny_weights(), "image_encoder.");
    sa::SamDecoder dec(*be, wdec, 256, 16);
    const std::string k = "case/points10_box/";
    sa::Prompts p;
    p.n_points = golden(k + "points_input").shape[0];
    p.points = golden(k + "points_input").data.data();
    const Vec labels = golden(k + "labels").data;
    p.labels = labels.data();
    p.boxes = golden(k + "boxes_input").data.data();
    sa::TrainConfig cfg;
    cfg.embedding_grad = true;
    sa::DecoderTrainer tr(*be, dec, cfg);
    const float loss = tr.loss_and_grad(emb.data(), p, golden("train/target_low_res").data.data());
    const float ref_loss = golden("train/encoder/loss").data[0];
    satest::expect(std::fabs(loss - ref_loss) <= 1e-5f * std::max(1.0f, std::fabs(ref_loss)),
                   "loss " + std::to_string(loss) + " vs " + std::to_string(ref_loss));
    Vec demb(emb.size());
    tr.embedding_grad(demb.data());

    Vec dimg(img.data.size());
    vit.backward(demb.data(), dimg.data());
    std::string bad;
    double worst = 0;
    int n = 0;
    for (const auto & kv : golden()) {
        const std::string pre = "train/encoder/grad/";
        if (kv.first.rfind(pre, 0) != 0) continue;
        const std::string name = kv.first.substr(pre.size());
        Vec g((size_t) kv.second.numel());
        vit.get_grad(name, g.data());
        grad_ok(name, g, kv.second, bad, worst);
        ++n;
    }
    grad_ok("grad_input", dimg, golden("train/encoder/grad_input"), bad, worst);
    std::printf("    %d encoder gradient tensors + grad_input, worst relative error %.3g\n", n, worst);
    satest::expect(n == (int) vit.param_names().size(), "every encoder parameter compared: " + std::to_string(n));
    satest::expect(bad.empty(), "encoder gradients:" + bad);

    // Gradients accumulate; zero_grad clears them.
    vit.backward(demb.data());
    Vec g1((size_t) 64), g2((size_t) 64);
    vit.get_grad("patch_embed.proj.bias", g2.data());
    vit.zero_grad();
    vit.backward(demb.data());
    vit.get_grad("patch_embed.proj.bias", g1.data());
    for (size_t i = 0; i < g1.size(); ++i)
        satest::expect(std::fabs(g2[i] - 2 * g1[i]) <= 1e-5f * (std::fabs(g1[i]) + 1e-3f), "gradients must accumulate");
}

SA_TEST(embedding_grad_needs_the_option) {
    std::unique_ptr<sa::Backend> be = sa::make_cpu_backend();
    sa::WeightMap wdec = satest::weight_map(satest::sam_tiny_weights(), "image_encoder.");
    sa::SamDecoder dec(*be, wdec, 256, 16);
    sa::DecoderTrainer tr(*be, dec, sa::TrainConfig{});
    Vec out(256 * 16 * 16);
    bool thrown = false;
    try {
        tr.embedding_grad(out.data());
    } catch (const sa::Error & e) {
        thrown = e.status() == SA_ERR_INVALID_ARG;
    }
    satest::expect(thrown, "embedding_grad without the option must throw SA_ERR_INVALID_ARG");
}

SA_TEST_MAIN()
