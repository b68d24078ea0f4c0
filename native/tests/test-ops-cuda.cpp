// SPDX-License-Identifier: Apache-2.0
// Every Backend op on the CUDA backend against the CPU backend on fresh random data (the seed is
// printed; SA_TEST_SEED reproduces a run). Outputs are poisoned with NaN before each op so that an
// element the kernel forgets to write fails the comparison. Tolerances are relative to the largest
// reference magnitude (rel) and, for the reduced-precision math modes, the normalised mean squared
// error (nmse). Without a CUDA build or device the program prints "skipped: ..." and exits 0.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "sa/backend.h"
#include "sa/losses.h"
#include "testing.h"

#ifdef SA_USE_CUDA
#include "cuda/graph.h"
#include "sa/backend-cuda.h"

namespace {

using sa::Backend;

uint64_t g_seed = 0;
std::mt19937_64 & rng() {
    static std::mt19937_64 r;
    return r;
}

Backend & cpu() {
    static std::unique_ptr<Backend> b = sa::make_cpu_backend();
    return *b;
}

Backend & gpu() {
    static std::unique_ptr<Backend> b = sa::make_cuda_backend(0);
    return *b;
}

std::vector<float> random_vec(size_t n, float lo = -1.0f, float hi = 1.0f) {
    std::uniform_real_distribution<float> u(lo, hi);
    std::vector<float> v(n);
    for (auto & x : v) x = u(rng());
    return v;
}

// One tensor held by both backends.
struct Buf {
    float * c = nullptr;
    float * g = nullptr;
    size_t n = 0;
};

// Owns the buffers of one test on both backends.
class Dual {
  public:
    ~Dual() {
        for (auto & b : bufs_) {
            cpu().free(b.c);
            gpu().free(b.g);
        }
    }
    Buf from(const std::vector<float> & host) {
        Buf b{cpu().alloc(host.size()), gpu().alloc(host.size()), host.size()};
        bufs_.push_back(b);
        cpu().upload(b.c, host.data(), host.size());
        gpu().upload(b.g, host.data(), host.size());
        return b;
    }
    Buf rand(size_t n, float lo = -1.0f, float hi = 1.0f) { return from(random_vec(n, lo, hi)); }
    // Output buffer filled with NaN (every element must be written by the op).
    Buf poison(size_t n) { return from(std::vector<float>(n, std::numeric_limits<float>::quiet_NaN())); }
    static std::vector<float> host_cpu(const Buf & b) {
        std::vector<float> v(b.n);
        cpu().download(v.data(), b.c, b.n);
        return v;
    }
    static std::vector<float> host_gpu(const Buf & b) {
        std::vector<float> v(b.n);
        gpu().download(v.data(), b.g, b.n);
        return v;
    }

  private:
    std::vector<Buf> bufs_;
};

// Compares the GPU result with the CPU reference: max |gpu - cpu| / max |cpu| <= rel_tol (NaN fails).
void check(const std::string & what, const Buf & b, double rel_tol, double nmse_tol = -1.0) {
    const std::vector<float> ref = Dual::host_cpu(b), got = Dual::host_gpu(b);
    const satest::Diff d = satest::diff(got.data(), ref.data(), (int64_t) ref.size());
    double se = 0.0, ss = 0.0;
    for (size_t i = 0; i < ref.size(); ++i) {
        const double e = (double) got[i] - (double) ref[i];
        se += e * e;
        ss += (double) ref[i] * (double) ref[i];
    }
    const double nmse = ss > 0.0 ? se / ss : se;
    char buf[320];
    std::snprintf(buf, sizeof buf, "%s: rel=%.3g nmse=%.3g (max_abs %.3g, ref max %.3g, n=%zu)", what.c_str(), d.rel(),
                  nmse, d.max_abs, d.ref_max, ref.size());
    const bool ok =
        nmse_tol >= 0.0 ? (std::isfinite(nmse) && nmse <= nmse_tol && d.rel() <= rel_tol) : (d.rel() <= rel_tol);
    if (!ok || !std::isfinite(d.max_abs)) satest::fail(std::string("not close: ") + buf);
    std::printf("    ok %s\n", buf);
}

template <typename F>
void expect_throws(const std::string & what, sa_status status, F && fn) {
    try {
        fn();
    } catch (const sa::Error & e) {
        if (e.status() != status)
            satest::fail(what + ": threw " + sa_status_code_name(e.status()) + " instead of " +
                         sa_status_code_name(status) + ": " + e.what());
        std::printf("    ok %s throws %s: %s\n", what.c_str(), sa_status_code_name(status), e.what());
        return;
    }
    satest::fail(what + ": did not throw");
}

// ---- memory ---------------------------------------------------------------------------------------

SA_TEST(memory_alloc_zeroed_transfers_fill_copy) {
    const size_t n = 100003;
    float * p = gpu().alloc(n);
    std::vector<float> h(n, 1.0f);
    gpu().download(h.data(), p, n);
    for (size_t i = 0; i < n; ++i)
        if (h[i] != 0.0f) satest::fail("alloc: buffer not zeroed at " + std::to_string(i));
    const std::vector<float> src = random_vec(n);
    gpu().upload(p, src.data(), n);
    gpu().download(h.data(), p, n);
    satest::expect(h == src, "upload/download round trip");
    gpu().fill(p + 7, 2.5f, 1000);
    gpu().fill(p + 2000, 0.0f, 10);
    gpu().download(h.data(), p, n);
    satest::expect(h[6] == src[6] && h[7] == 2.5f && h[1006] == 2.5f && h[1007] == src[1007], "fill 2.5");
    satest::expect(h[2000] == 0.0f && h[2009] == 0.0f && h[2010] == src[2010], "fill 0");
    // Overlapping copy has memmove semantics.
    std::vector<float> ref = h;
    std::copy(ref.begin() + 10, ref.begin() + 10 + 5000, ref.begin() + 100);
    gpu().copy(p + 100, p + 10, 5000);
    gpu().download(h.data(), p, n);
    satest::expect(h == ref, "overlapping copy");
    gpu().free(p);
}

SA_TEST(memory_large_uploads_pinned_staging) {
    // Above the staging threshold, with a partial last chunk; the source is overwritten as soon as each
    // upload returns, which must not change what arrives on the device.
    const size_t n = (size_t(13) << 20) / sizeof(float) + 7;
    float * p = gpu().alloc(n);
    float * q = gpu().alloc(n);
    std::vector<float> src = random_vec(n);
    const std::vector<float> first = src;
    gpu().upload(p, src.data(), n);
    for (auto & x : src) x = -x;
    const std::vector<float> second = src;
    gpu().upload(q, src.data(), n);
    std::fill(src.begin(), src.end(), 0.0f);
    gpu().upload(p + n / 2, first.data() + n / 2, n - n / 2);  // unaligned start, reuses the staging buffers
    std::vector<float> h(n);
    gpu().download(h.data(), p, n);
    satest::expect(h == first, "staged upload round trip");
    gpu().download(h.data(), q, n);
    satest::expect(h == second, "second staged upload (source reused at once)");
    gpu().free(p);
    gpu().free(q);
}

SA_TEST(memory_stats_and_caching) {
    const sa::CudaMemoryStats s0 = sa::cuda_memory_stats(gpu());
    float * p = gpu().alloc(size_t(8) << 20);
    const sa::CudaMemoryStats s1 = sa::cuda_memory_stats(gpu());
    satest::expect(s1.in_use >= s0.in_use + (size_t(32) << 20), "in_use grows by the allocation");
    satest::expect(s1.peak_in_use >= s1.in_use && s1.reserved >= s1.in_use, "peak and reserved bound in_use");
    gpu().free(p);
    const sa::CudaMemoryStats s2 = sa::cuda_memory_stats(gpu());
    satest::expect(s2.in_use == s0.in_use, "in_use back after free");
    float * q = gpu().alloc(size_t(8) << 20);
    satest::expect(q == p, "a freed block of the same size is reused from the cache");
    gpu().free(q);
    sa::cuda_release_cached_memory(gpu());
    satest::expect(sa::cuda_memory_stats(gpu()).reserved < s1.reserved, "release_cached_memory returns blocks");
}

SA_TEST(errors_are_thrown_not_fatal) {
    expect_throws("free of a foreign pointer", SA_ERR_INVALID_ARG, [] {
        float x = 0.0f;
        gpu().free(&x);
    });
    expect_throws("gemm with a null operand", SA_ERR_INVALID_ARG, [] {
        gpu().gemm({false, false, 4, 4, 4, 1.0f, {nullptr, 4}, {nullptr, 4}, 0.0f, {nullptr, 4}});
    });
    expect_throws("attention_vit head dim 200", SA_ERR_UNSUPPORTED, [] {
        Dual d;
        Buf qkv = d.rand(3 * 200 * 4), out = d.poison(200 * 4);
        gpu().attention_vit({qkv.g, out.g, 1, 2, 2, 1, 200, nullptr, 0, nullptr, 0});
    });
    expect_throws("out-of-memory allocation", SA_ERR_OOM, [] { gpu().alloc(size_t(1) << 42); });
    // The backend stays usable after the errors.
    Dual d;
    Buf a = d.rand(1000), b = d.rand(1000), y = d.poison(1000);
    cpu().add(a.c, b.c, y.c, 1000);
    gpu().add(a.g, b.g, y.g, 1000);
    gpu().synchronize();
    check("add after errors", y, 0.0);
}

// ---- GEMM -----------------------------------------------------------------------------------------

SA_TEST(gemm_all_transposes_strides_beta) {
    const int64_t M = 77, N = 131, K = 45;
    for (const bool ta : {false, true})
        for (const bool tb : {false, true}) {
            Dual d;
            const int64_t lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 5, ldc = N + 2;
            Buf A = d.rand((size_t) ((ta ? K : M) * lda)), B = d.rand((size_t) ((tb ? N : K) * ldb));
            Buf C = d.rand((size_t) (M * ldc));
            cpu().gemm({ta, tb, M, N, K, 0.7f, {A.c, lda}, {B.c, ldb}, 0.3f, {C.c, ldc}});
            gpu().gemm({ta, tb, M, N, K, 0.7f, {A.g, lda}, {B.g, ldb}, 0.3f, {C.g, ldc}});
            check("gemm ta=" + std::to_string(ta) + " tb=" + std::to_string(tb), C, 1e-5);
        }
    Dual d;  // beta = 0 must not read C (NaN in C stays out)
    Buf A = d.rand(64 * 32), B = d.rand(32 * 48), C = d.poison(64 * 48);
    cpu().gemm({false, false, 64, 48, 32, 1.0f, {A.c, 32}, {B.c, 48}, 0.0f, {C.c, 48}});
    gpu().gemm({false, false, 64, 48, 32, 1.0f, {A.g, 32}, {B.g, 48}, 0.0f, {C.g, 48}});
    check("gemm beta=0 over NaN", C, 1e-5);
}

SA_TEST(gemm_batched_strided) {
    Dual d;
    const int64_t M = 33, N = 65, K = 70, batch = 5;
    Buf A = d.rand((size_t) (batch * M * K)), B = d.rand((size_t) (batch * K * N)),
        C = d.rand((size_t) (batch * M * N));
    cpu().gemm_batched({false, true, M, N, K, 1.0f, {A.c, K, M * K}, {B.c, K, K * N}, 0.5f, {C.c, N, M * N}, batch});
    gpu().gemm_batched({false, true, M, N, K, 1.0f, {A.g, K, M * K}, {B.g, K, K * N}, 0.5f, {C.g, N, M * N}, batch});
    check("gemm_batched", C, 1e-5);
}

SA_TEST(gemm_math_modes_tf32_bf16) {
    const int64_t M = 256, N = 384, K = 768;
    const sa::CudaMath prev = sa::cuda_get_math(gpu());
    struct Mode {
        sa::CudaMath m;
        double rel, nmse;
    } modes[] = {{sa::CudaMath::TF32, 1e-2, 1e-5}, {sa::CudaMath::BF16, 3e-2, 1e-4}};
    for (const Mode & mode : modes) {
        Dual d;
        Buf A = d.rand((size_t) (M * K)), B = d.rand((size_t) (N * K)), bias = d.rand((size_t) N),
            C = d.poison((size_t) (M * N));
        sa::cuda_set_math(gpu(), mode.m);
        cpu().linear(A.c, B.c, bias.c, C.c, M, K, N);
        gpu().linear(A.g, B.g, bias.g, C.g, M, K, N);
        sa::cuda_set_math(gpu(), prev);
        check(std::string("linear math=") + sa::cuda_math_name(mode.m), C, mode.rel, mode.nmse);
    }
}

// ---- elementwise ----------------------------------------------------------------------------------

SA_TEST(elementwise_add_bias_scale_gelu_relu) {
    const int64_t rows = 301, cols = 77, n = rows * cols;
    Dual d;
    Buf a = d.rand((size_t) n, -4.0f, 4.0f), b = d.rand((size_t) n), bias = d.rand((size_t) cols);
    Buf y = d.poison((size_t) n);
    cpu().add(a.c, b.c, y.c, n);
    gpu().add(a.g, b.g, y.g, n);
    check("add", y, 1e-7);
    cpu().add_bias(a.c, bias.c, y.c, rows, cols);
    gpu().add_bias(a.g, bias.g, y.g, rows, cols);
    check("add_bias", y, 1e-7);
    cpu().scale(a.c, -0.37f, y.c, n);
    gpu().scale(a.g, -0.37f, y.g, n);
    check("scale", y, 1e-7);
    cpu().gelu(a.c, y.c, n);
    gpu().gelu(a.g, y.g, n);
    check("gelu", y, 2e-6);
    Buf dx = d.poison((size_t) n);
    cpu().gelu_backward(a.c, b.c, dx.c, n);
    gpu().gelu_backward(a.g, b.g, dx.g, n);
    check("gelu_backward", dx, 2e-6);
    cpu().relu(a.c, y.c, n);
    gpu().relu(a.g, y.g, n);
    check("relu", y, 0.0);
    cpu().relu_backward(y.c, b.c, dx.c, n);
    gpu().relu_backward(y.g, b.g, dx.g, n);
    check("relu_backward", dx, 0.0);
    // In-place add_bias.
    cpu().add_bias(a.c, bias.c, a.c, rows, cols);
    gpu().add_bias(a.g, bias.g, a.g, rows, cols);
    check("add_bias in place", a, 1e-7);
}

// ---- linear ---------------------------------------------------------------------------------------

SA_TEST(linear_forward_backward) {
    struct Shape {
        int64_t M, K, N;
    } shapes[] = {{37, 29, 53}, {4096 + 7, 256, 128}, {5, 768, 2304}};
    for (const Shape & s : shapes) {
        for (int with_bias = 0; with_bias < 2; ++with_bias) {
            Dual d;
            Buf x = d.rand((size_t) (s.M * s.K)), W = d.rand((size_t) (s.N * s.K)), b = d.rand((size_t) s.N);
            Buf y = d.poison((size_t) (s.M * s.N));
            cpu().linear(x.c, W.c, with_bias ? b.c : nullptr, y.c, s.M, s.K, s.N);
            gpu().linear(x.g, W.g, with_bias ? b.g : nullptr, y.g, s.M, s.K, s.N);
            const std::string tag = " M=" + std::to_string(s.M) + " K=" + std::to_string(s.K) +
                                    " N=" + std::to_string(s.N) + (with_bias ? " +bias" : "");
            check("linear" + tag, y, 1e-5);
        }
        Dual d;
        Buf x = d.rand((size_t) (s.M * s.K)), W = d.rand((size_t) (s.N * s.K)), dy = d.rand((size_t) (s.M * s.N));
        Buf dx = d.poison((size_t) (s.M * s.K)), dW = d.rand((size_t) (s.N * s.K)), db = d.rand((size_t) s.N);
        cpu().linear_backward({x.c, W.c, dy.c, dx.c, dW.c, db.c, s.M, s.K, s.N});
        gpu().linear_backward({x.g, W.g, dy.g, dx.g, dW.g, db.g, s.M, s.K, s.N});
        check("linear_backward dx", dx, 1e-5);
        check("linear_backward dW (+=)", dW, 1e-5);
        check("linear_backward db (+=)", db, 1e-5);
    }
}

// ---- norms ----------------------------------------------------------------------------------------

SA_TEST(layernorm_forward_backward) {
    struct Shape {
        int64_t rows, C;
    } shapes[] = {{1000, 768}, {37, 256}, {5, 33}};
    for (const Shape & s : shapes) {
        Dual d;
        const size_t n = (size_t) (s.rows * s.C);
        std::vector<float> xh = random_vec(n, -2.0f, 3.0f);
        for (size_t i = 0; i < n; i += 3) xh[i] += 5.0f;  // a non-zero mean
        Buf x = d.from(xh), g = d.rand((size_t) s.C), be = d.rand((size_t) s.C);
        Buf y = d.poison(n), mean = d.poison((size_t) s.rows), rstd = d.poison((size_t) s.rows);
        cpu().layernorm({x.c, g.c, be.c, y.c, mean.c, rstd.c, s.rows, s.C, 1e-6f});
        gpu().layernorm({x.g, g.g, be.g, y.g, mean.g, rstd.g, s.rows, s.C, 1e-6f});
        const std::string tag = " rows=" + std::to_string(s.rows) + " C=" + std::to_string(s.C);
        check("layernorm" + tag, y, 1e-5);
        check("layernorm mean" + tag, mean, 1e-5);
        check("layernorm rstd" + tag, rstd, 1e-5);
        Buf dy = d.rand(n), dx = d.poison(n), dg = d.rand((size_t) s.C), db = d.rand((size_t) s.C);
        cpu().layernorm_backward({x.c, g.c, mean.c, rstd.c, dy.c, dx.c, dg.c, db.c, s.rows, s.C});
        gpu().layernorm_backward({x.g, g.g, mean.g, rstd.g, dy.g, dx.g, dg.g, db.g, s.rows, s.C});
        check("layernorm_backward dx" + tag, dx, 1e-4);
        check("layernorm_backward dgamma (+=)" + tag, dg, 1e-4);
        check("layernorm_backward dbeta (+=)" + tag, db, 1e-5);
    }
}

SA_TEST(layernorm2d_forward_backward) {
    const int64_t B = 2, C = 256, HW = 64 * 64 + 3;
    const size_t n = (size_t) (B * C * HW);
    Dual d;
    Buf x = d.rand(n, -1.0f, 2.0f), g = d.rand((size_t) C), be = d.rand((size_t) C);
    Buf y = d.poison(n), mean = d.poison((size_t) (B * HW)), rstd = d.poison((size_t) (B * HW));
    cpu().layernorm2d({x.c, g.c, be.c, y.c, mean.c, rstd.c, B, C, HW, 1e-6f});
    gpu().layernorm2d({x.g, g.g, be.g, y.g, mean.g, rstd.g, B, C, HW, 1e-6f});
    check("layernorm2d", y, 1e-5);
    check("layernorm2d mean", mean, 1e-5);
    check("layernorm2d rstd", rstd, 1e-5);
    Buf dy = d.rand(n), dx = d.poison(n), dg = d.rand((size_t) C), db = d.rand((size_t) C);
    cpu().layernorm2d_backward({x.c, g.c, mean.c, rstd.c, dy.c, dx.c, dg.c, db.c, B, C, HW});
    gpu().layernorm2d_backward({x.g, g.g, mean.g, rstd.g, dy.g, dx.g, dg.g, db.g, B, C, HW});
    check("layernorm2d_backward dx", dx, 1e-4);
    check("layernorm2d_backward dgamma (+=)", dg, 1e-4);
    check("layernorm2d_backward dbeta (+=)", db, 1e-4);
}

// ---- convolutions ---------------------------------------------------------------------------------

SA_TEST(conv2d_dense_grouped_depthwise) {
    struct Case {
        const char * name;
        int64_t B, C, H, W, O, kh, kw, stride, pad, groups;
    } cases[] = {
        {"patch embed 16/16", 2, 3, 64, 48, 32, 16, 16, 16, 0, 1},
        {"3x3 pad 1", 2, 16, 19, 23, 24, 3, 3, 1, 1, 1},
        {"1x1", 3, 32, 16, 16, 40, 1, 1, 1, 0, 1},
        {"3x3 stride 2 pad 1", 1, 8, 33, 17, 12, 3, 3, 2, 1, 1},
        {"grouped 2", 2, 8, 10, 12, 6, 3, 3, 1, 1, 2},
        {"depthwise 3x3", 2, 24, 15, 17, 24, 3, 3, 1, 1, 24},
        {"depthwise 3x3 stride 2", 1, 16, 16, 16, 16, 3, 3, 2, 1, 16},
    };
    for (const Case & c : cases) {
        for (int with_bias = 0; with_bias < 2; ++with_bias) {
            Dual d;
            const int64_t Ho = (c.H + 2 * c.pad - c.kh) / c.stride + 1, Wo = (c.W + 2 * c.pad - c.kw) / c.stride + 1;
            Buf x = d.rand((size_t) (c.B * c.C * c.H * c.W)), b = d.rand((size_t) c.O);
            Buf W = d.rand((size_t) (c.O * (c.C / c.groups) * c.kh * c.kw)),
                y = d.poison((size_t) (c.B * c.O * Ho * Wo));
            cpu().conv2d({x.c, W.c, with_bias ? b.c : nullptr, y.c, c.B, c.C, c.H, c.W, c.O, c.kh, c.kw, c.stride,
                          c.pad, c.groups});
            gpu().conv2d({x.g, W.g, with_bias ? b.g : nullptr, y.g, c.B, c.C, c.H, c.W, c.O, c.kh, c.kw, c.stride,
                          c.pad, c.groups});
            check(std::string("conv2d ") + c.name + (with_bias ? " +bias" : ""), y, 1e-5);
        }
    }
}

SA_TEST(conv_transpose_k2s2_forward_backward) {
    const int64_t B = 2, C = 64, H = 17, W = 13, O = 32;
    const size_t nx = (size_t) (B * C * H * W), ny = (size_t) (B * O * 4 * H * W);
    Dual d;
    Buf x = d.rand(nx), Wt = d.rand((size_t) (C * O * 4)), b = d.rand((size_t) O), y = d.poison(ny);
    cpu().conv_transpose_k2s2({x.c, Wt.c, b.c, y.c, B, C, H, W, O});
    gpu().conv_transpose_k2s2({x.g, Wt.g, b.g, y.g, B, C, H, W, O});
    check("conv_transpose_k2s2", y, 1e-5);
    Buf dy = d.rand(ny), dx = d.poison(nx), dW = d.rand((size_t) (C * O * 4)), db = d.rand((size_t) O);
    cpu().conv_transpose_k2s2_backward({x.c, Wt.c, dy.c, dx.c, dW.c, db.c, B, C, H, W, O});
    gpu().conv_transpose_k2s2_backward({x.g, Wt.g, dy.g, dx.g, dW.g, db.g, B, C, H, W, O});
    check("conv_transpose_k2s2_backward dx", dx, 1e-5);
    check("conv_transpose_k2s2_backward dW (+=)", dW, 1e-5);
    check("conv_transpose_k2s2_backward db (+=)", db, 1e-5);
}

// ---- layout ---------------------------------------------------------------------------------------

SA_TEST(transpose_and_windows) {
    Dual d;
    const int64_t B = 3, R = 257, C = 66;
    Buf x = d.rand((size_t) (B * R * C)), y = d.poison((size_t) (B * R * C));
    cpu().transpose_last2(x.c, y.c, B, R, C);
    gpu().transpose_last2(x.g, y.g, B, R, C);
    check("transpose_last2", y, 0.0);
    struct Win {
        int64_t B, H, W, C, win;
    } wins[] = {{2, 16, 16, 8, 5}, {1, 64, 64, 16, 14}, {2, 28, 28, 4, 14}};
    for (const Win & w : wins) {
        Dual e;
        const int64_t nh = (w.H + w.win - 1) / w.win, nw = (w.W + w.win - 1) / w.win;
        Buf in = e.rand((size_t) (w.B * w.H * w.W * w.C));
        Buf win = e.poison((size_t) (w.B * nh * nw * w.win * w.win * w.C)), back = e.poison(in.n);
        cpu().window_partition({in.c, win.c, w.B, w.H, w.W, w.C, w.win});
        gpu().window_partition({in.g, win.g, w.B, w.H, w.W, w.C, w.win});
        check("window_partition " + std::to_string(w.H) + "/" + std::to_string(w.win), win, 0.0);
        cpu().window_unpartition({win.c, back.c, w.B, w.H, w.W, w.C, w.win});
        gpu().window_unpartition({win.g, back.g, w.B, w.H, w.W, w.C, w.win});
        check("window_unpartition " + std::to_string(w.H) + "/" + std::to_string(w.win), back, 0.0);
    }
}

// ---- attention ------------------------------------------------------------------------------------

// An attention_vit shape; lh/lw: the rel-pos table lengths (0: no rel-pos).
struct VitAttnCase {
    const char * name;
    int64_t B, H, W, nh, hd, lh, lw;
};

// SAM's own shapes, which both attention_vit tests run: ViT-B windows and global blocks, resampled
// tables, ViT-H's head dim.
std::vector<VitAttnCase> sam_attn_cases(std::initializer_list<VitAttnCase> more) {
    std::vector<VitAttnCase> v = {
        {"vit-b window 14x14 hd64", 3, 14, 14, 2, 64, 27, 27},
        {"vit-b global 64x64 hd64", 1, 64, 64, 2, 64, 127, 127},
        {"resampled tables 12x10 hd64", 2, 12, 10, 2, 64, 27, 13},
        {"vit-h global 32x32 hd80", 1, 32, 32, 2, 80, 63, 63},
    };
    v.insert(v.end(), more);
    return v;
}

SA_TEST(attention_vit_windowed_global_relpos) {
    const std::vector<VitAttnCase> cases = sam_attn_cases({
        {"tiny windowed 5x5 hd16", 8, 5, 5, 4, 16, 9, 9},
        {"tiny global 16x16 hd16", 1, 16, 16, 4, 16, 31, 31},
        {"no rel-pos 7x9 hd32", 2, 7, 9, 3, 32, 0, 0},
        {"odd head dim 11x11 hd40", 1, 11, 11, 2, 40, 21, 21},
    });
    for (const VitAttnCase & c : cases) {
        Dual d;
        const int64_t N = c.H * c.W, C = c.nh * c.hd;
        Buf qkv = d.rand((size_t) (c.B * N * 3 * C), -1.5f, 1.5f), out = d.poison((size_t) (c.B * N * C));
        Buf rh = d.rand((size_t) std::max<int64_t>(1, c.lh * c.hd)),
            rw = d.rand((size_t) std::max<int64_t>(1, c.lw * c.hd));
        const bool rel = c.lh > 0;
        cpu().attention_vit(
            {qkv.c, out.c, c.B, c.H, c.W, c.nh, c.hd, rel ? rh.c : nullptr, c.lh, rel ? rw.c : nullptr, c.lw});
        gpu().attention_vit(
            {qkv.g, out.g, c.B, c.H, c.W, c.nh, c.hd, rel ? rh.g : nullptr, c.lh, rel ? rw.g : nullptr, c.lw});
        // The random rel-pos tables give logits up to about +-20, where the fp32 CPU reference itself is
        // about 1e-5 (relative) from a float64 evaluation; an indexing error would be off by ~1e-1.
        check(std::string("attention_vit ") + c.name, out, 1e-4);
    }
}

// Rounds to the nearest bf16 value (ties to even), kept in a float.
float round_bf16(float x) {
    if (std::isnan(x)) return x;
    uint32_t u;
    std::memcpy(&u, &x, sizeof u);
    u += 0x7fffu + ((u >> 16) & 1u);
    u &= 0xffff0000u;
    std::memcpy(&x, &u, sizeof x);
    return x;
}

std::vector<float> rounded_bf16(std::vector<float> v) {
    for (auto & x : v) x = round_bf16(x);
    return v;
}

// The BF16 math mode's attention (tensor-core kernel where the shape allows, else the fp32 kernel)
// against the fp32 CPU reference. The yardstick is the CPU reference evaluated on the same inputs
// rounded to bf16 (qkv and the relative-position tables): the GPU's RMS error may be at most twice, and
// its largest error at most three times, the error that rounding alone causes.
SA_TEST(attention_vit_bf16_math) {
    const std::vector<VitAttnCase> cases = sam_attn_cases({
        {"rows across query blocks 20x16 hd128", 1, 20, 16, 2, 128, 39, 31},
        {"no rel-pos 7x9 hd64 (odd token count)", 2, 7, 9, 3, 64, 0, 0},
        {"odd width 11x11 hd64 (fp32 kernel)", 1, 11, 11, 2, 64, 21, 21},
        {"head dim 32 (fp32 kernel)", 2, 8, 8, 2, 32, 15, 15},
    });
    const sa::CudaMath prev = sa::cuda_get_math(gpu());
    for (const VitAttnCase & c : cases) {
        Dual d;
        const int64_t N = c.H * c.W, C = c.nh * c.hd;
        const bool rel = c.lh > 0;
        const std::vector<float> hq = random_vec((size_t) (c.B * N * 3 * C), -1.5f, 1.5f);
        const std::vector<float> hrh = random_vec((size_t) std::max<int64_t>(1, c.lh * c.hd));
        const std::vector<float> hrw = random_vec((size_t) std::max<int64_t>(1, c.lw * c.hd));
        Buf qkv = d.from(hq), rh = d.from(hrh), rw = d.from(hrw), out = d.poison((size_t) (c.B * N * C));
        Buf qkv16 = d.from(rounded_bf16(hq)), rh16 = d.from(rounded_bf16(hrh)), rw16 = d.from(rounded_bf16(hrw));
        Buf out16 = d.poison(out.n);
        cpu().attention_vit(
            {qkv.c, out.c, c.B, c.H, c.W, c.nh, c.hd, rel ? rh.c : nullptr, c.lh, rel ? rw.c : nullptr, c.lw});
        cpu().attention_vit(
            {qkv16.c, out16.c, c.B, c.H, c.W, c.nh, c.hd, rel ? rh16.c : nullptr, c.lh, rel ? rw16.c : nullptr, c.lw});
        sa::cuda_set_math(gpu(), sa::CudaMath::BF16);
        gpu().attention_vit(
            {qkv.g, out.g, c.B, c.H, c.W, c.nh, c.hd, rel ? rh.g : nullptr, c.lh, rel ? rw.g : nullptr, c.lw});
        sa::cuda_set_math(gpu(), prev);
        const std::vector<float> ref = Dual::host_cpu(out), ref16 = Dual::host_cpu(out16), got = Dual::host_gpu(out);
        const satest::Diff dg = satest::diff(got.data(), ref.data(), (int64_t) ref.size());
        const satest::Diff dr = satest::diff(ref16.data(), ref.data(), (int64_t) ref.size());
        const double nmse_g = dg.nmse(), nmse_r = dr.nmse();
        char buf[320];
        std::snprintf(buf, sizeof buf,
                      "attention_vit bf16 %s: rel=%.3g nmse=%.3g (bf16-input reference: rel=%.3g nmse=%.3g)", c.name,
                      dg.rel(), nmse_g, dr.rel(), nmse_r);
        const bool ok = std::isfinite(nmse_g) && std::isfinite(dg.max_abs) && nmse_g <= 4.0 * nmse_r + 1e-12 &&
                        dg.rel() <= 3.0 * dr.rel() + 1e-6;
        if (!ok) satest::fail(std::string("not close: ") + buf);
        std::printf("    ok %s\n", buf);
    }
}

SA_TEST(attention_tinyvit_windows_bias_padding) {
    struct Case {
        const char * name;
        int64_t B, H, W, win, nh, kd, vd;
        bool bias, pad;
    } cases[] = {
        {"stage 1: 64x64 win 7 (padded to 70)", 1, 64, 64, 7, 4, 32, 32, true, true},
        {"16x16 win 14 (padded to 28)", 2, 16, 16, 14, 5, 32, 32, true, true},
        {"10x9 win 7, zero padding, no bias", 2, 10, 9, 7, 3, 16, 48, false, false},
    };
    for (const Case & c : cases) {
        Dual d;
        const int64_t row = c.nh * (2 * c.kd + c.vd), N = c.win * c.win;
        Buf qkv = d.rand((size_t) (c.B * c.H * c.W * row), -1.5f, 1.5f), pad = d.rand((size_t) row);
        Buf bias = d.rand((size_t) (c.nh * N * N)), out = d.poison((size_t) (c.B * c.H * c.W * c.nh * c.vd));
        cpu().attention_tinyvit(
            {qkv.c, c.pad ? pad.c : nullptr, c.bias ? bias.c : nullptr, out.c, c.B, c.H, c.W, c.win, c.nh, c.kd, c.vd});
        gpu().attention_tinyvit(
            {qkv.g, c.pad ? pad.g : nullptr, c.bias ? bias.g : nullptr, out.g, c.B, c.H, c.W, c.win, c.nh, c.kd, c.vd});
        check(std::string("attention_tinyvit ") + c.name, out, 2e-5);
    }
}

SA_TEST(attention_decoder_forward_backward) {
    struct Case {
        const char * name;
        int64_t B, Nq, Nk, nh, d;
    } cases[] = {
        {"token self 7x7", 1, 7, 7, 8, 32},
        {"token to image", 2, 12, 4096, 8, 16},
        {"image to token", 1, 4096, 12, 8, 16},
    };
    for (const Case & c : cases) {
        for (int save = 0; save < 2; ++save) {
            Dual d;
            const int64_t D = c.nh * c.d;
            Buf q = d.rand((size_t) (c.B * c.Nq * D), -2.0f, 2.0f), k = d.rand((size_t) (c.B * c.Nk * D), -2.0f, 2.0f);
            Buf v = d.rand((size_t) (c.B * c.Nk * D)), out = d.poison((size_t) (c.B * c.Nq * D));
            Buf probs = d.poison((size_t) (c.B * c.nh * c.Nq * c.Nk));
            cpu().attention({q.c, k.c, v.c, out.c, save ? probs.c : nullptr, c.B, c.Nq, c.Nk, c.nh, c.d});
            gpu().attention({q.g, k.g, v.g, out.g, save ? probs.g : nullptr, c.B, c.Nq, c.Nk, c.nh, c.d});
            check(std::string("attention ") + c.name + (save ? " (probs saved)" : ""), out, 1e-5);
            if (!save) continue;
            check(std::string("attention probs ") + c.name, probs, 1e-5);
            Buf dout = d.rand(out.n), dq = d.poison(q.n), dk = d.poison(k.n), dv = d.poison(v.n);
            cpu().attention_backward({q.c, k.c, v.c, probs.c, dout.c, dq.c, dk.c, dv.c, c.B, c.Nq, c.Nk, c.nh, c.d});
            gpu().attention_backward({q.g, k.g, v.g, probs.g, dout.g, dq.g, dk.g, dv.g, c.B, c.Nq, c.Nk, c.nh, c.d});
            check(std::string("attention_backward dq ") + c.name, dq, 1e-4);
            check(std::string("attention_backward dk ") + c.name, dk, 1e-4);
            check(std::string("attention_backward dv ") + c.name, dv, 1e-5);
            // keys and values feeding one tensor: dkv += dk + dv (CUDA: the base-class composition)
            Buf dkv = d.rand(k.n), dq2 = d.poison(q.n), scratch = d.poison(2 * k.n);
            cpu().attention_backward_kv_acc(
                {q.c, k.c, v.c, probs.c, dout.c, dq2.c, dkv.c, scratch.c, c.B, c.Nq, c.Nk, c.nh, c.d});
            gpu().attention_backward_kv_acc(
                {q.g, k.g, v.g, probs.g, dout.g, dq2.g, dkv.g, scratch.g, c.B, c.Nq, c.Nk, c.nh, c.d});
            check(std::string("attention_backward_kv_acc dq ") + c.name, dq2, 1e-4);
            check(std::string("attention_backward_kv_acc dkv ") + c.name, dkv, 1e-4);
        }
    }
}

// ---- losses, optimiser, reductions ----------------------------------------------------------------

SA_TEST(mask_loss_all_kinds_and_candidates) {
    const int64_t HW = 64 * 64 + 100;
    for (int kind = 0; kind <= 2; ++kind) {
        for (int64_t M : {int64_t(1), int64_t(3)}) {
            const int64_t B = 2;
            Dual d;
            std::vector<float> tgt((size_t) (B * HW));
            std::bernoulli_distribution bern(0.3);
            for (auto & t : tgt) t = bern(rng()) ? 1.0f : 0.0f;
            const int64_t iou_ld = M + 1;
            Buf logits = d.rand((size_t) (B * M * HW), -4.0f, 4.0f), target = d.from(tgt);
            Buf iou = d.rand((size_t) (B * iou_ld), 0.0f, 1.0f), diou = d.poison((size_t) (B * iou_ld));
            Buf loss = d.poison(1), dl = d.poison((size_t) (B * M * HW));
            const bool sam = kind == (int) sa::LossKind::SAM;
            cpu().mask_loss({kind, logits.c, target.c, loss.c, dl.c, B, M, HW, sam ? iou.c : nullptr, iou_ld, diou.c});
            gpu().mask_loss({kind, logits.g, target.g, loss.g, dl.g, B, M, HW, sam ? iou.g : nullptr, iou_ld, diou.g});
            const std::string tag = std::string(sa::loss_name((sa::LossKind) kind)) + " M=" + std::to_string(M);
            check("mask_loss " + tag, loss, 1e-5);
            check("mask_loss dlogits " + tag, dl, 1e-4);
            // Only the entries m < M of each row are written; compare those.
            std::vector<float> rc = Dual::host_cpu(diou), rg = Dual::host_gpu(diou);
            for (int64_t b = 0; b < B; ++b)
                for (int64_t m = 0; m < M; ++m) {
                    const float x = rc[(size_t) (b * iou_ld + m)], y = rg[(size_t) (b * iou_ld + m)];
                    if (!(std::fabs(x - y) <= 1e-5f * std::max(1.0f, std::fabs(x))))
                        satest::fail("mask_loss diou_pred " + tag + ": " + std::to_string(y) + " vs " +
                                     std::to_string(x));
                }
            std::printf("    ok mask_loss diou_pred %s\n", tag.c_str());
        }
    }
}

SA_TEST(adam_and_adamw_steps) {
    for (const bool decoupled : {false, true}) {
        Dual d;
        const int64_t n = 100000;
        Buf p = d.rand((size_t) n), g = d.rand((size_t) n), m = d.rand((size_t) n, -0.1f, 0.1f);
        Buf v = d.rand((size_t) n, 0.0f, 0.01f);
        for (int64_t t = 1; t <= 3; ++t) {
            cpu().adam_step({p.c, g.c, m.c, v.c, n, 1e-3f, 0.9f, 0.999f, 1e-8f, 1e-2f, decoupled, t});
            gpu().adam_step({p.g, g.g, m.g, v.g, n, 1e-3f, 0.9f, 0.999f, 1e-8f, 1e-2f, decoupled, t});
        }
        const std::string tag = decoupled ? "adamw" : "adam";
        check(tag + " param", p, 1e-6);
        check(tag + " m", m, 1e-6);
        check(tag + " v", v, 1e-6);
    }
}

SA_TEST(sum_squares_deterministic) {
    for (int64_t n : {int64_t(1), int64_t(4097), int64_t(3000001)}) {
        Dual d;
        Buf x = d.rand((size_t) n), out = d.poison(1);
        cpu().sum_squares(x.c, out.c, n);
        gpu().sum_squares(x.g, out.g, n);
        check("sum_squares n=" + std::to_string(n), out, 1e-6);
        float a = 0, b = 0;
        gpu().sum_squares(x.g, out.g, n);
        gpu().download(&a, out.g, 1);
        gpu().sum_squares(x.g, out.g, n);
        gpu().download(&b, out.g, 1);
        satest::expect(a == b, "sum_squares is bit-reproducible");
    }
}

// ---- CUDA graphs ----------------------------------------------------------------------------------

SA_TEST(cuda_graph_capture_replay) {
    Backend & be = gpu();
    const int64_t M = 300, K = 128, N = 96;
    Dual d;
    Buf x = d.rand((size_t) (M * K)), W = d.rand((size_t) (N * K)), b = d.rand((size_t) N);
    Buf y = d.poison((size_t) (M * N)), ss = d.poison(1), y_warm = d.poison((size_t) (M * N)), ss_warm = d.poison(1);
    // The captured work allocates and frees a temporary, as model code does.
    auto work = [&](Backend & e, float * xp, float * Wp, float * bp, float * yp, float * out) {
        float * h = e.alloc((size_t) (M * N));
        e.linear(xp, Wp, bp, h, M, K, N);
        e.gelu(h, yp, M * N);
        e.sum_squares(yp, out, M * N);
        e.free(h);
    };
    work(cpu(), x.c, W.c, b.c, y.c, ss.c);
    work(be, x.g, W.g, b.g, y_warm.g, ss_warm.g);  // warm-up: plans and cached blocks exist before capture
    sa::CudaGraph graph(be);
    graph.capture([&] { work(be, x.g, W.g, b.g, y.g, ss.g); });
    satest::expect(graph.ready() && graph.node_count() >= 3, "graph captured with its nodes");
    std::printf("    graph nodes: %zu\n", graph.node_count());
    // Capturing records only: nothing ran yet, the output is still poisoned.
    std::vector<float> h(1);
    be.download(h.data(), ss.g, 1);
    satest::expect(std::isnan(h[0]), "capture does not execute the work");
    // New inputs, then replays.
    const std::vector<float> x2 = random_vec(x.n);
    cpu().upload(x.c, x2.data(), x.n);
    be.upload(x.g, x2.data(), x.n);
    work(cpu(), x.c, W.c, b.c, y.c, ss.c);
    graph.replay();
    graph.replay();
    be.synchronize();
    check("graph replay linear+gelu", y, 1e-5);
    check("graph replay sum_squares", ss, 1e-5);
    // A host sync inside the capture is refused with an error; the backend stays usable.
    expect_throws("download inside a capture", SA_ERR_CUDA, [&] {
        sa::CudaGraph g2(be);
        g2.capture([&] {
            float v;
            be.download(&v, ss.g, 1);
        });
    });
    graph.replay();
    be.synchronize();
    check("graph replay after a failed capture", y, 1e-5);
}

}  // namespace

int main() {
    sa::CudaDeviceInfo info;
    std::string reason;
    if (!sa::cuda_probe(&info, &reason)) {
        std::printf("skipped: no CUDA device (%s)\n", reason.c_str());
        return 0;
    }
    g_seed = std::random_device{}();
    if (const char * s = std::getenv("SA_TEST_SEED")) g_seed = std::strtoull(s, nullptr, 10);
    rng().seed(g_seed);
    std::printf("CUDA device: %s (cc %s), seed %llu (SA_TEST_SEED to reproduce)\n", info.name.c_str(),
                info.compute_capability.c_str(), (unsigned long long) g_seed);
    return satest::run_all();
}

#else

int main() {
    std::printf("skipped: no CUDA device (this build has no CUDA backend)\n");
    return 0;
}

#endif
