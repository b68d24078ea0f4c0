// SPDX-License-Identifier: Apache-2.0
// BF16 encoder products on the CPU (Precision::bf16: VDPBF16PS at level avx512bf16, AMX tiles at
// level amx): prepared linear layers against a double reference on bf16-rounded operands, the same
// bits for 1 and 2 threads, ViT and TinyViT attention (AMX tiles or VDPBF16PS) within a small multiple of
// the error that rounding its inputs to bf16 causes, convolutions in fp32, and the sam-tiny encoder within 2e-2
// (relative to the largest value) of PyTorch's fp32 embedding. Below avx512bf16 the only check is that a bf16 backend
// is refused with SA_ERR_UNSUPPORTED.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "sa/backend.h"
#include "sa/image-encoder.h"
#include "sa/isa.h"
#include "sa/status.h"
#include "sa/threadpool.h"
#include "testing.h"

namespace {

sa::Backend & bf16_backend() {
    static std::unique_ptr<sa::Backend> be = sa::make_cpu_backend(sa::Precision::bf16);
    return *be;
}

// y = linear_prepared on the bf16 backend.
std::vector<float> run_linear(sa::Backend & be, const std::vector<float> & x, const std::vector<float> & W,
                              const std::vector<float> * b, int64_t M, int64_t K, int64_t N) {
    float * dx = be.alloc(x.size() + 1);
    float * dW = be.alloc(W.size() + 1);
    float * dWp = be.alloc(be.prepared_linear_size(N, K) + 1);
    float * db = b ? be.alloc(b->size()) : nullptr;
    float * dy = be.alloc((size_t) (M * N));
    be.upload(dx, x.data(), x.size());
    be.upload(dW, W.data(), W.size());
    if (b) be.upload(db, b->data(), b->size());
    be.prepare_linear(dW, dWp, N, K);
    be.linear_prepared(dx, dWp, db, dy, M, K, N);
    std::vector<float> y((size_t) (M * N));
    be.download(y.data(), dy, y.size());
    for (float * p : {dx, dW, dWp, db, dy})
        if (p) be.free(p);
    return y;
}

void check_linear(int64_t M, int64_t K, int64_t N, bool bias, uint32_t seed) {
    const std::vector<float> x = satest::randn((size_t) (M * K), seed),
                             W = satest::randn((size_t) (N * K), seed + 1, 0.1f);
    const std::vector<float> b = satest::randn((size_t) N, seed + 2);
    const std::vector<float> y = run_linear(bf16_backend(), x, W, bias ? &b : nullptr, M, K, N);
    double worst = 0;
    for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
            double ref = bias ? b[j] : 0.0, mag = std::fabs(ref);
            for (int64_t k = 0; k < K; ++k) {
                const double t = (double) satest::round_bf16(x[i * K + k]) * (double) satest::round_bf16(W[j * K + k]);
                ref += t;
                mag += std::fabs(t);
            }
            // fp32 accumulation of K exact bf16 products: error bounded by about K ulp of the magnitude.
            const double err = std::fabs(y[i * N + j] - ref) / (mag + 1e-30);
            worst = std::max(worst, err);
        }
    char what[160];
    std::snprintf(what, sizeof what, "bf16 linear M=%lld K=%lld N=%lld bias=%d: worst error %.3g of the magnitude",
                  (long long) M, (long long) K, (long long) N, (int) bias, worst);
    satest::expect(worst <= 1e-6 + (double) K * 1.2e-7, what);
}

SA_TEST(bf16_linear_matches_rounded_reference) {
    uint32_t seed = 100;
    for (const bool bias : {false, true}) {
        check_linear(1, 1, 1, bias, seed += 3);
        check_linear(7, 31, 17, bias, seed += 3);     // K below one tile step, N below one sliver
        check_linear(33, 300, 70, bias, seed += 3);   // crosses the K panel (256), partial tiles
        check_linear(100, 64, 96, bias, seed += 3);   // row blocks of 96 and a partial one
        check_linear(200, 600, 33, bias, seed += 3);  // threaded rows, three K panels
        check_linear(40, 0, 64, bias, seed += 3);     // no products: the bias (or zeros) alone
    }
}

SA_TEST(bf16_linear_same_bits_for_1_and_2_threads) {
    const int64_t M = 150, K = 320, N = 72;
    const std::vector<float> x = satest::randn((size_t) (M * K), 7), W = satest::randn((size_t) (N * K), 8, 0.1f);
    const std::vector<float> b = satest::randn((size_t) N, 9);
    const int before = bf16_backend().threads();
    bf16_backend().set_threads(1);
    const std::vector<float> y1 = run_linear(bf16_backend(), x, W, &b, M, K, N);
    bf16_backend().set_threads(2);
    const std::vector<float> y2 = run_linear(bf16_backend(), x, W, &b, M, K, N);
    bf16_backend().set_threads(before);
    satest::expect(y1 == y2, "bf16 linear differs between 1 and 2 threads");
}

// attention_vit on a backend; rel: tables of lh and lw rows (0: none).
struct AttnCase {
    const char * name;
    int64_t B, H, W, nh, hd, lh, lw;
};

std::vector<float> run_attention(sa::Backend & be, const AttnCase & c, const std::vector<float> & qkv,
                                 const std::vector<float> & rh, const std::vector<float> & rw) {
    const int64_t N = c.H * c.W, C = c.nh * c.hd;
    float * dq = be.alloc(qkv.size());
    float * drh = be.alloc(rh.size());
    float * drw = be.alloc(rw.size());
    float * dout = be.alloc((size_t) (c.B * N * C));
    be.upload(dq, qkv.data(), qkv.size());
    be.upload(drh, rh.data(), rh.size());
    be.upload(drw, rw.data(), rw.size());
    const bool rel = c.lh > 0;
    be.attention_vit({dq, dout, c.B, c.H, c.W, c.nh, c.hd, rel ? drh : nullptr, c.lh, rel ? drw : nullptr, c.lw});
    std::vector<float> out((size_t) (c.B * N * C));
    be.download(out.data(), dout, out.size());
    for (float * p : {dq, drh, drw, dout}) be.free(p);
    return out;
}

std::vector<float> rounded(std::vector<float> v) {
    for (float & x : v) x = satest::round_bf16(x);
    return v;
}

// The bf16 backend's attention (AMX tiles at level amx, VDPBF16PS at avx512bf16) against the fp32 one. The
// yardstick is the fp32 attention of the same inputs rounded to bf16: the bf16 result's mean squared
// error may be at most four times, and its largest error at most three times, what that rounding alone
// causes (the probabilities are rounded too, so the error is somewhat larger than the inputs' alone).
SA_TEST(bf16_attention_vit_within_bf16_rounding) {
    const std::vector<AttnCase> cases = {
        {"SAM window 14x14 hd64, 12 heads", 1, 14, 14, 12, 64, 27, 27},
        {"two key blocks 20x16 hd128, resampled tables", 1, 20, 16, 2, 128, 39, 31},
        {"no rel-pos 7x9 hd64, batch 2", 2, 7, 9, 3, 64, 0, 0},
        {"head dim 40, 17x19 (partial tiles everywhere)", 1, 17, 19, 2, 40, 33, 37},
        {"head dim 16, 5x3", 2, 5, 3, 2, 16, 9, 5},
    };
    auto fp32 = sa::make_cpu_backend();
    uint32_t seed = 500;
    for (const AttnCase & c : cases) {
        const int64_t N = c.H * c.W, C = c.nh * c.hd;
        const std::vector<float> qkv = satest::randn((size_t) (c.B * N * 3 * C), seed++, 1.5f);
        const std::vector<float> rh = satest::randn((size_t) std::max<int64_t>(1, c.lh * c.hd), seed++, 0.5f);
        const std::vector<float> rw = satest::randn((size_t) std::max<int64_t>(1, c.lw * c.hd), seed++, 0.5f);
        const std::vector<float> ref = run_attention(*fp32, c, qkv, rh, rw);
        const std::vector<float> ref16 = run_attention(*fp32, c, rounded(qkv), rounded(rh), rounded(rw));
        const std::vector<float> got = run_attention(bf16_backend(), c, qkv, rh, rw);
        const satest::Diff dg = satest::diff(got.data(), ref.data(), (int64_t) ref.size());
        const satest::Diff dr = satest::diff(ref16.data(), ref.data(), (int64_t) ref.size());
        char what[320];
        std::snprintf(what, sizeof what,
                      "bf16 attention_vit %s: rel %.3g, nmse %.3g (inputs rounded to bf16: rel %.3g, nmse %.3g)",
                      c.name, dg.rel(), dg.nmse(), dr.rel(), dr.nmse());
        std::printf("    %s\n", what);
        satest::expect(
            std::isfinite(dg.sq_err) && dg.nmse() <= 4.0 * dr.nmse() + 1e-12 && dg.rel() <= 3.0 * dr.rel() + 1e-6,
            what);
        satest::expect(got != ref, std::string(what) + ": equals the fp32 attention");
    }
}

SA_TEST(bf16_attention_vit_same_bits_for_1_and_2_threads_and_nan_keys) {
    const AttnCase c{"", 1, 23, 22, 2, 64, 45, 43};
    const int64_t N = c.H * c.W, C = c.nh * c.hd;
    std::vector<float> qkv = satest::randn((size_t) (N * 3 * C), 520);
    const std::vector<float> rh = satest::randn((size_t) (c.lh * c.hd), 521, 0.5f);
    const std::vector<float> rw = satest::randn((size_t) (c.lw * c.hd), 522, 0.5f);
    const int before = bf16_backend().threads();
    bf16_backend().set_threads(1);
    const std::vector<float> y1 = run_attention(bf16_backend(), c, qkv, rh, rw);
    bf16_backend().set_threads(2);
    const std::vector<float> y2 = run_attention(bf16_backend(), c, qkv, rh, rw);
    satest::expect(y1 == y2, "bf16 attention_vit differs between 1 and 2 threads");
    // a NaN key of head 0 in the second key block: every head-0 output NaN, head 1 finite
    qkv[(size_t) ((300 * 3 + 1) * C)] = NAN;
    const std::vector<float> yn = run_attention(bf16_backend(), c, qkv, rh, rw);
    bf16_backend().set_threads(before);
    for (int64_t n = 0; n < N; ++n) {
        satest::expect(std::isnan(yn[(size_t) (n * C)]), "head 0 output not NaN for token " + std::to_string(n));
        satest::expect(std::isfinite(yn[(size_t) (n * C + c.hd)]), "head 1 output not finite");
    }
}

// conv2d on a bf16 backend keeps the fp32 backend's bits (the encoders' bf16 products are their
// prepared linear layers, attention and MBConv; convolutions, such as the patch embeddings, where
// rounding the image's pixels is most of a bf16 encoder's error, stay fp32). 1x1 (one product per
// image), 3x3 stride 2 (im2col bands) and grouped.
SA_TEST(bf16_conv2d_keeps_fp32_bits) {
    struct Case {
        int64_t C, H, W, O, k, stride, pad, groups;
    };
    auto fp32 = sa::make_cpu_backend();
    uint32_t seed = 600;
    for (const Case & c :
         {Case{64, 9, 11, 48, 1, 1, 0, 1}, Case{24, 13, 10, 40, 3, 2, 1, 1}, Case{16, 8, 8, 12, 3, 1, 1, 2}}) {
        const int64_t B = 2, Ho = (c.H + 2 * c.pad - c.k) / c.stride + 1, Wo = (c.W + 2 * c.pad - c.k) / c.stride + 1;
        const std::vector<float> x = satest::randn((size_t) (B * c.C * c.H * c.W), seed++);
        const std::vector<float> W = satest::randn((size_t) (c.O * (c.C / c.groups) * c.k * c.k), seed++, 0.2f);
        const std::vector<float> b = satest::randn((size_t) c.O, seed++);
        auto run = [&](sa::Backend & be) {
            float *dx = be.alloc(x.size()), *dW = be.alloc(W.size()), *db = be.alloc(b.size());
            float * dy = be.alloc((size_t) (B * c.O * Ho * Wo));
            be.upload(dx, x.data(), x.size());
            be.upload(dW, W.data(), W.size());
            be.upload(db, b.data(), b.size());
            be.conv2d({dx, dW, db, dy, B, c.C, c.H, c.W, c.O, c.k, c.k, c.stride, c.pad, c.groups});
            std::vector<float> y((size_t) (B * c.O * Ho * Wo));
            be.download(y.data(), dy, y.size());
            for (float * p : {dx, dW, db, dy}) be.free(p);
            return y;
        };
        char what[200];
        std::snprintf(what, sizeof what, "bf16 conv2d C=%lld %lldx%lld k=%lld stride=%lld groups=%lld", (long long) c.C,
                      (long long) c.H, (long long) c.W, (long long) c.k, (long long) c.stride, (long long) c.groups);
        satest::expect(run(bf16_backend()) == run(*fp32), std::string(what) + ": not the fp32 backend's bits");
    }
}

// TinyViT's window attention on a bf16 backend (both products on bf16 products, the softmax fp32)
// against the fp32 backend, with the yardstick of bf16_attention_vit_within_bf16_rounding: at most four
// times the mean squared error and three times the largest error that rounding the inputs to bf16
// causes; padded windows (a grid that is not a multiple of the window) and padding tokens included.
SA_TEST(bf16_attention_tinyvit_within_bf16_rounding) {
    const int64_t B = 2, H = 9, W = 12, win = 7, nh = 3, kd = 16, vd = 24, per = 2 * kd + vd, N = win * win;
    const std::vector<float> qkv = satest::randn((size_t) (B * H * W * nh * per), 610, 1.5f);
    const std::vector<float> pad = satest::randn((size_t) (nh * per), 611, 0.5f);
    const std::vector<float> bias = satest::randn((size_t) (nh * N * N), 612, 0.5f);
    auto run = [&](sa::Backend & be, const std::vector<float> & q, const std::vector<float> & pq,
                   const std::vector<float> & bs) {
        float *dq = be.alloc(q.size()), *dp = be.alloc(pq.size()), *dbias = be.alloc(bs.size());
        float * dout = be.alloc((size_t) (B * H * W * nh * vd));
        be.upload(dq, q.data(), q.size());
        be.upload(dp, pq.data(), pq.size());
        be.upload(dbias, bs.data(), bs.size());
        be.attention_tinyvit({dq, dp, dbias, dout, B, H, W, win, nh, kd, vd});
        std::vector<float> out((size_t) (B * H * W * nh * vd));
        be.download(out.data(), dout, out.size());
        for (float * p : {dq, dp, dbias, dout}) be.free(p);
        return out;
    };
    auto fp32 = sa::make_cpu_backend();
    const std::vector<float> ref = run(*fp32, qkv, pad, bias);
    const std::vector<float> ref16 = run(*fp32, rounded(qkv), rounded(pad), bias);
    const std::vector<float> got = run(bf16_backend(), qkv, pad, bias);
    const satest::Diff dg = satest::diff(got.data(), ref.data(), (int64_t) ref.size());
    const satest::Diff dr = satest::diff(ref16.data(), ref.data(), (int64_t) ref.size());
    char what[240];
    std::snprintf(what, sizeof what,
                  "bf16 attention_tinyvit: rel %.3g, nmse %.3g (inputs rounded to bf16: rel %.3g, nmse %.3g)", dg.rel(),
                  dg.nmse(), dr.rel(), dr.nmse());
    std::printf("    %s\n", what);
    satest::expect(
        std::isfinite(dg.sq_err) && dg.nmse() <= 4.0 * dr.nmse() + 1e-12 && dg.rel() <= 3.0 * dr.rel() + 1e-6, what);
    satest::expect(got != ref, std::string(what) + ": equals the fp32 attention");
    const int before = bf16_backend().threads();
    bf16_backend().set_threads(1);
    const std::vector<float> one = run(bf16_backend(), qkv, pad, bias);
    bf16_backend().set_threads(3);
    const std::vector<float> three = run(bf16_backend(), qkv, pad, bias);
    bf16_backend().set_threads(before);
    satest::expect(one == got && three == got, "bf16 attention_tinyvit differs between 1, 3 and the default threads");
}

SA_TEST(bf16_tiny_encoder_within_2e_2_of_pytorch) {
    sa::WeightMap w = satest::weight_map(satest::sam_tiny_weights());
    auto enc = sa::make_vit_encoder(bf16_backend(), w);
    const satest::Tensor & img = satest::golden("image/preprocessed");
    std::vector<float> out(256 * 16 * 16);
    enc->encode(img.data.data(), 1, out.data());
    const satest::Diff d =
        satest::diff(out.data(), satest::golden("image_embedding").data.data(), (int64_t) out.size());
    char what[160];
    std::snprintf(what, sizeof what, "bf16 image_embedding: max_abs %.3g, relative to the largest value %.3g",
                  d.max_abs, d.rel());
    std::printf("    %s\n", what);
    satest::expect(d.rel() <= 2e-2, what);
    // and not the fp32 result: the products really ran in bf16
    auto fp32 = sa::make_cpu_backend();
    auto enc32 = sa::make_vit_encoder(*fp32, w);
    std::vector<float> out32(out.size());
    enc32->encode(img.data.data(), 1, out32.data());
    satest::expect(out != out32, "bf16 embedding equals the fp32 one bit for bit");
}

}  // namespace

int main() {
    const sa::Isa isa = sa::cpu_isa();
    if (isa >= sa::Isa::avx512bf16) return satest::run_all();
    std::printf("cpu level: %s (no bf16 products: checking the refusal only)\n", sa::isa_name(isa));
    try {
        sa::make_cpu_backend(sa::Precision::bf16);
        std::printf(
            "  FAIL bf16_refused_below_avx512bf16: a bf16 backend was created at level %s\n0 passed, 1 failed\n",
            sa::isa_name(isa));
        return 1;
    } catch (const sa::Error & e) {
        const bool ok = e.status() == SA_ERR_UNSUPPORTED && std::string(e.what()).find("bf16") != std::string::npos;
        std::printf("  %s bf16_refused_below_avx512bf16: %s\n%d passed, %d failed\n", ok ? "PASS" : "FAIL", e.what(),
                    ok ? 1 : 0, ok ? 0 : 1);
        return ok ? 0 : 1;
    }
}
