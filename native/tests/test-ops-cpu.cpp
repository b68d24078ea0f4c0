// SPDX-License-Identifier: Apache-2.0
// CPU backend forward ops against naive double-precision references on random data: GEMM (all
// transposes, odd sizes, sub-matrices, alpha/beta, thread-count independence), elementwise, GELU,
// linear, LayerNorm / LayerNorm2d, conv2d (patch embedding, 1x1, 3x3, stride 2, grouped, depthwise),
// transposes, SAM window partitioning and SAM ViT attention with relative positions.
#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "cpu/gemm-kernel.h"
#include "cpu/gemm-packed.h"
#include "cpu/ops/conv2d-winograd.h"
#include "sa/backend.h"
#include "sa/gemm.h"
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

void expect_near(const std::string & what, const Vec & got, const std::vector<double> & ref, double tol) {
    satest::expect(got.size() == ref.size(), what + ": size mismatch");
    double max_err = 0, ref_max = 0;
    for (size_t i = 0; i < got.size(); ++i) {
        const double e = std::fabs((double) got[i] - ref[i]);
        if (!(e <= max_err)) max_err = std::isnan(e) ? INFINITY : e;
        ref_max = std::max(ref_max, std::fabs(ref[i]));
    }
    const double scaled = max_err / std::max(1.0, ref_max);
    char buf[200];
    std::snprintf(buf, sizeof buf, "%s: max_abs=%.3g (ref max %.3g)", what.c_str(), max_err, ref_max);
    satest::expect(scaled <= tol, std::string("not close: ") + buf);
}

using satest::expect_throws;

// ---- GEMM ---------------------------------------------------------------------------------------

std::vector<double> ref_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const Vec & A, int64_t lda,
                             const Vec & B, int64_t ldb, float beta, const Vec & C, int64_t ldc) {
    std::vector<double> out(C.begin(), C.end());
    for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
            double s = 0;
            for (int64_t k = 0; k < K; ++k) {
                const double a = ta ? A[k * lda + i] : A[i * lda + k];
                const double b = tb ? B[j * ldb + k] : B[k * ldb + j];
                s += a * b;
            }
            const double c = beta == 0.0f ? 0.0 : beta * (double) C[i * ldc + j];
            out[i * ldc + j] = alpha * s + c;
        }
    return out;
}

void check_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, float beta, int64_t pad,
                uint32_t seed) {
    const int64_t lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
    const Vec A = randn((size_t) ((ta ? K : M) * lda), seed);
    const Vec B = randn((size_t) ((tb ? N : K) * ldb), seed + 1);
    Vec C0 = randn((size_t) (M * ldc), seed + 2);
    if (beta == 0.0f) C0[0] = NAN;  // must not propagate
    Buf a(A), b(B), c(C0);
    be().gemm({ta, tb, M, N, K, alpha, {a.p, lda}, {b.p, ldb}, beta, {c.p, ldc}});
    const auto ref = ref_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C0, ldc);
    char what[160];
    std::snprintf(what, sizeof what, "gemm ta=%d tb=%d M=%lld N=%lld K=%lld alpha=%g beta=%g pad=%lld", ta, tb,
                  (long long) M, (long long) N, (long long) K, alpha, beta, (long long) pad);
    expect_near(what, c.host(), ref, 1e-5 * std::sqrt((double) K + 1));
    // The same product with a column bias in the epilogue (host pointers: the CPU backend's memory).
    const Vec bias = randn((size_t) N, seed + 3);
    Vec C1 = C0;
    static sa::ThreadPool pool(3);
    sa::sgemm_bias(ta, tb, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta, C1.data(), ldc, bias.data(), pool);
    auto ref_b = ref;
    for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) ref_b[(size_t) (i * ldc + j)] += bias[(size_t) j];
    for (int64_t i = 0; i < M; ++i)  // padding columns of C keep their values
        for (int64_t j = N; j < ldc; ++j) ref_b[(size_t) (i * ldc + j)] = C0[(size_t) (i * ldc + j)];
    expect_near(std::string(what) + " +bias", C1, ref_b, 1e-5 * std::sqrt((double) K + 1));
}

// Every row of x and of W the same, the bias constant: all outputs are one value, bit for bit, in full
// tiles and in edge tiles of rows or columns, with a bias, over several K panels and with beta 1.
SA_TEST(gemm_bits_do_not_depend_on_the_tile) {
    for (int64_t K : {130, 300, 600}) {
        const int64_t M = 17, N = 40;
        const std::vector<float> row = satest::randn((size_t) K, 41), wrow = satest::randn((size_t) K, 42, 0.1f);
        std::vector<float> x((size_t) (M * K)), W((size_t) (N * K)), b((size_t) N, 0.375f),
            c0((size_t) (M * N), -1.25f);
        for (int64_t i = 0; i < M; ++i) std::copy(row.begin(), row.end(), x.begin() + i * K);
        for (int64_t j = 0; j < N; ++j) std::copy(wrow.begin(), wrow.end(), W.begin() + j * K);
        satest::Buf dx(x), dW(W), db(b), dy((size_t) (M * N)), dc(c0);
        be().linear(dx.p, dW.p, db.p, dy.p, M, K, N);
        be().gemm({false, true, M, N, K, 1.0f, {dx.p, K}, {dW.p, K}, 1.0f, {dc.p, N}});
        const std::vector<float> y = dy.host(), g = dc.host();
        for (int64_t e = 1; e < M * N; ++e) {
            satest::expect(std::memcmp(&y[(size_t) e], &y[0], 4) == 0,
                           "linear + bias, K " + std::to_string(K) + ": output " + std::to_string(e) + " differs");
            satest::expect(std::memcmp(&g[(size_t) e], &g[0], 4) == 0,
                           "gemm beta 1, K " + std::to_string(K) + ": output " + std::to_string(e) + " differs");
        }
    }
}

SA_TEST(gemm_all_transposes_odd_sizes) {
    uint32_t seed = 10;
    for (int ta = 0; ta < 2; ++ta)
        for (int tb = 0; tb < 2; ++tb) {
            check_gemm(ta, tb, 1, 1, 1, 1.0f, 0.0f, 0, seed++);
            check_gemm(ta, tb, 7, 5, 3, 1.0f, 0.0f, 0, seed++);
            check_gemm(ta, tb, 37, 53, 29, 0.5f, 0.0f, 3, seed++);
            check_gemm(ta, tb, 13, 17, 300, 1.0f, 1.0f, 1, seed++);    // crosses the K blocking
            check_gemm(ta, tb, 151, 35, 70, -1.5f, 0.25f, 0, seed++);  // crosses the M blocking
            check_gemm(ta, tb, 200, 70, 40, 1.0f, 0.5f, 1, seed++);    // crosses it at every level (144, 168)
            check_gemm(ta, tb, 20, 3100, 9, 1.0f, 0.0f, 0, seed++);    // crosses the N blocking
            check_gemm(ta, tb, 64, 64, 64, 2.0f, 0.0f, 0, seed++);     // threaded, exact tiles
            check_gemm(ta, tb, 19, 23, 2500, 0.5f, 0.75f, 2, seed++);  // thin, long K: split along K
            check_gemm(ta, tb, 40, 9, 4100, 1.0f, 0.0f, 0, seed++);    // split, last chunk partial
        }
}

// supports(): the CPU backend runs every op, each op has its own name.
SA_TEST(every_op_has_a_cpu_kernel_and_a_name) {
    std::set<std::string> names;
    for (int i = 0; i < (int) sa::Op::count; ++i) {
        const sa::Op op = (sa::Op) i;
        satest::expect(be().supports(op) && sa::cpu_supports(op), std::string("cpu lacks ") + sa::op_name(op));
        satest::expect(names.insert(sa::op_name(op)).second, std::string("op name used twice: ") + sa::op_name(op));
    }
    satest::expect(names.count("gemm_batched") == 1 && names.count("unknown") == 0, "op names");
}

SA_TEST(gemm_k_zero_and_alpha_zero_scale_c) {
    Vec C0 = randn(12, 3);
    Buf c(C0);
    be().gemm({false, false, 3, 4, 0, 1.0f, {nullptr, 1}, {nullptr, 4}, 0.5f, {c.p, 4}});
    std::vector<double> ref(C0.begin(), C0.end());
    for (auto & v : ref) v *= 0.5;
    expect_near("gemm K=0", c.host(), ref, 1e-7);
    const Vec A = randn(6, 4), B = randn(8, 5);
    Buf a(A), b(B), c2(12, NAN);
    be().gemm({false, false, 3, 4, 2, 0.0f, {a.p, 2}, {b.p, 4}, 0.0f, {c2.p, 4}});
    expect_near("gemm alpha=0 beta=0", c2.host(), std::vector<double>(12, 0.0), 0);
}

static void check_thread_independence(int64_t M, int64_t N, int64_t K) {
    const Vec A = randn((size_t) (M * K), 21), B = randn((size_t) (N * K), 22);
    std::vector<Vec> results;
    for (int threads : {1, 2, 3}) {
        be().set_threads(threads);
        Buf a(A), b(B), c((size_t) (M * N));
        be().gemm({false, true, M, N, K, 1.0f, {a.p, K}, {b.p, K}, 0.0f, {c.p, N}});
        results.push_back(c.host());
    }
    be().set_threads(0);
    satest::expect(std::memcmp(results[0].data(), results[1].data(), results[0].size() * 4) == 0, "1 vs 2 threads");
    satest::expect(std::memcmp(results[0].data(), results[2].data(), results[0].size() * 4) == 0, "1 vs 3 threads");
    Vec serial((size_t) (M * N));
    sa::sgemm_serial(false, true, M, N, K, 1.0f, A.data(), K, B.data(), K, 0.0f, serial.data(), N);
    satest::expect(std::memcmp(results[0].data(), serial.data(), serial.size() * 4) == 0, "sgemm_serial differs");
}

SA_TEST(gemm_is_bit_identical_across_thread_counts) {
    check_thread_independence(203, 389, 517);
    check_thread_independence(37, 70, 5000);  // split along K
}

// parallel_chunks calls fn once per chunk of [0, n) (the last one shorter) on any pool size, chunk_for
// gives whole grains, and an error in one chunk reaches the caller after the others ran.
SA_TEST(parallel_chunks_runs_every_chunk_once) {
    for (int threads : {1, 2, 3}) {
        sa::ThreadPool pool(threads);
        for (int64_t n : {0, 1, 7, 100, 1001})
            for (int64_t chunk : {1, 3, 64, 2000}) {
                std::mutex mu;
                std::vector<std::pair<int64_t, int64_t>> calls;
                pool.parallel_chunks(n, chunk, [&](int64_t b, int64_t e) {
                    std::lock_guard<std::mutex> lk(mu);
                    calls.emplace_back(b, e);
                });
                std::sort(calls.begin(), calls.end());
                std::vector<std::pair<int64_t, int64_t>> want;
                for (int64_t b = 0; b < n; b += chunk) want.emplace_back(b, std::min(n, b + chunk));
                satest::expect(calls == want, "threads " + std::to_string(threads) + ", n " + std::to_string(n) +
                                                  ", chunk " + std::to_string(chunk) + ": chunks differ");
            }
        for (int64_t n : {0, 1, 10, 1000}) {
            const int64_t c = pool.chunk_for(n, 8);
            satest::expect(c >= 8 && c % 8 == 0, "chunk_for(" + std::to_string(n) + ", 8) = " + std::to_string(c));
        }
        std::atomic<int64_t> ran{0};
        expect_throws(SA_ERR_INTERNAL, "a failing chunk, " + std::to_string(threads) + " threads", [&] {
            pool.parallel_chunks(10, 1, [&](int64_t b, int64_t) {
                ran.fetch_add(1);
                if (b == 4) sa::fail(SA_ERR_INTERNAL, "chunk 4 fails");
            });
        });
        // A failing chunk does not stop the others (on one thread the loop ends at the error).
        if (threads > 1) satest::expect(ran.load() == 10, "chunks run: " + std::to_string(ran.load()));
    }
}

SA_TEST(gemm_batched_matches_per_item) {
    for (int64_t batch : {1, 5}) {
        for (int64_t M : {9, 120}) {
            const int64_t N = 11, K = 13;
            const int64_t sa_ = M * K + 7, sb = K * N + 3, sc = M * N + 5;
            const Vec A = randn((size_t) (sa_ * batch), 31), B = randn((size_t) (sb * batch), 32);
            const Vec C0 = randn((size_t) (sc * batch), 33);
            Buf a(A), b(B), c(C0);
            be().gemm_batched({false, false, M, N, K, 1.0f, {a.p, K, sa_}, {b.p, N, sb}, 0.5f, {c.p, N, sc}, batch});
            const Vec got = c.host();
            for (int64_t i = 0; i < batch; ++i) {
                Vec Ai(A.begin() + i * sa_, A.begin() + i * sa_ + M * K);
                Vec Bi(B.begin() + i * sb, B.begin() + i * sb + K * N);
                Vec Ci(C0.begin() + i * sc, C0.begin() + i * sc + M * N);
                const auto ref = ref_gemm(false, false, M, N, K, 1.0f, Ai, K, Bi, N, 0.5f, Ci, N);
                expect_near("gemm_batched item " + std::to_string(i),
                            Vec(got.begin() + i * sc, got.begin() + i * sc + M * N), ref, 1e-5);
            }
            // the gaps between the C matrices are untouched
            for (int64_t i = 0; i < batch; ++i)
                for (int64_t j = M * N; j < sc; ++j)
                    satest::expect(got[i * sc + j] == C0[i * sc + j], "gemm_batched wrote outside C");
        }
    }
}

SA_TEST(gemm_with_prepacked_b) {
    struct Case {
        bool ta, tb;
        int64_t M, N, K;
    };
    const Case cases[] = {
        {false, true, 25, 37, 64}, {true, false, 7, 16, 300}, {false, false, 50, 3, 513}, {true, true, 1, 90, 9}};
    uint32_t seed = 140;
    for (const auto & c : cases) {
        const int64_t lda = (c.ta ? c.M : c.K) + 2, ldb = (c.tb ? c.K : c.N) + 1, ldc = c.N + 3;
        const Vec A = randn((size_t) ((c.ta ? c.K : c.M) * lda), seed++),
                  B = randn((size_t) ((c.tb ? c.N : c.K) * ldb), seed++);
        const Vec C0 = randn((size_t) (c.M * ldc), seed++);
        std::vector<float> packed(sa::cpu::packed_b_size(c.K, c.N) + 16);
        float * bp = packed.data();
        while (reinterpret_cast<uintptr_t>(bp) % 64 != 0) ++bp;
        sa::cpu::pack_b_full(c.tb, c.K, c.N, B.data(), ldb, bp);
        Vec C = C0;
        sa::cpu::gemm_prepacked_b(c.ta, c.M, c.N, c.K, 0.75f, A.data(), lda, bp, -0.5f, C.data(), ldc);
        const auto ref = ref_gemm(c.ta, c.tb, c.M, c.N, c.K, 0.75f, A, lda, B, ldb, -0.5f, C0, ldc);
        expect_near(
            "gemm_prepacked_b M=" + std::to_string(c.M) + " N=" + std::to_string(c.N) + " K=" + std::to_string(c.K), C,
            ref, 1e-5 * std::sqrt((double) c.K));
    }
}

// The micro-kernel peak probe runs on every thread of the pool and reports a finite, positive rate
// (a kernel that was not called, or a thread that was not counted, gives 0 or less than one thread's
// share); no speed is asserted.
SA_TEST(gemm_kernel_peak_is_measured) {
    for (int threads : {1, 2}) {
        sa::ThreadPool pool(threads);
        const double g = sa::gemm_kernel_peak_gflops(pool, 0.05);
        std::printf("    micro-kernel peak, %d thread(s): %.1f GFLOP/s\n", threads, g);
        satest::expect(std::isfinite(g) && g > 0.1,
                       "peak with " + std::to_string(threads) + " threads: " + std::to_string(g));
    }
    sa::ThreadPool pool(1);
    for (double s : {0.0, -1.0, 11.0, (double) NAN})
        expect_throws(SA_ERR_INVALID_ARG, "seconds " + std::to_string(s),
                      [&] { sa::gemm_kernel_peak_gflops(pool, s); });
    // The bf16 products kernel where the level has one, a coded rejection below it.
    if (sa::cpu::gemm_kernel_bf16_training()) {
        const double g = sa::gemm_kernel_peak_gflops(pool, 0.05, true);
        std::printf("    bf16 products kernel peak, 1 thread: %.1f GFLOP/s\n", g);
        satest::expect(std::isfinite(g) && g > 0.1, "bf16 peak: " + std::to_string(g));
    } else {
        expect_throws(SA_ERR_UNSUPPORTED, "bf16 peak below avx512bf16",
                      [&] { sa::gemm_kernel_peak_gflops(pool, 0.05, true); });
    }
}

SA_TEST(gemm_rejects_bad_leading_dims) {
    Buf a(100), b(100), c(100);
    expect_throws(SA_ERR_INVALID_ARG, "lda < K", [&] {
        be().gemm({false, false, 4, 4, 5, 1, {a.p, 4}, {b.p, 4}, 0, {c.p, 4}});
    });
    expect_throws(SA_ERR_INVALID_ARG, "ldc < N", [&] {
        be().gemm({false, false, 4, 4, 4, 1, {a.p, 4}, {b.p, 4}, 0, {c.p, 3}});
    });
}

// ---- elementwise, GELU --------------------------------------------------------------------------

SA_TEST(add_add_bias_scale) {
    const int64_t rows = 37, cols = 1031;  // large enough to be split across threads
    const Vec x = randn((size_t) (rows * cols), 41), y = randn((size_t) (rows * cols), 42), bias = randn(cols, 43);
    Buf bx(x), by(y), bb(bias), out((size_t) (rows * cols));
    std::vector<double> ref(x.size());
    be().add(bx.p, by.p, out.p, rows * cols);
    for (size_t i = 0; i < x.size(); ++i) ref[i] = (double) (x[i] + y[i]);
    expect_near("add", out.host(), ref, 0);
    be().add_bias(bx.p, bb.p, bx.p, rows, cols);  // in place
    for (size_t i = 0; i < x.size(); ++i) ref[i] = (double) (x[i] + bias[i % cols]);
    expect_near("add_bias in place", bx.host(), ref, 0);
    be().scale(by.p, -0.37f, out.p, rows * cols);
    for (size_t i = 0; i < x.size(); ++i) ref[i] = (double) (y[i] * -0.37f);
    expect_near("scale", out.host(), ref, 0);
}

SA_TEST(gelu_exact_and_backward) {
    Vec x = randn(10007, 51, 3.0f);
    const float specials[] = {0.0f, -0.0f, 1e-8f, -1e-8f, 0.5f, -0.5f, 5.0f, -5.0f, 9.0f, -9.0f, 20.0f, -20.0f, 40.0f};
    for (size_t i = 0; i < sizeof specials / sizeof specials[0]; ++i) x[i] = specials[i];
    const Vec dy = randn(x.size(), 52);
    Buf bx(x), bdy(dy), y(x.size()), dx(x.size());
    be().gelu(bx.p, y.p, (int64_t) x.size());
    be().gelu_backward(bx.p, bdy.p, dx.p, (int64_t) x.size());
    const Vec gy = y.host(), gdx = dx.host();
    for (size_t i = 0; i < x.size(); ++i) {
        const double v = x[i];
        const double cdf = 0.5 * std::erfc(-v / std::sqrt(2.0));
        const double ref = v * cdf;
        const double dref = dy[i] * (cdf + v * std::exp(-0.5 * v * v) / std::sqrt(2.0 * M_PI));
        const double e = std::fabs(gy[i] - ref), de = std::fabs(gdx[i] - dref);
        satest::expect(e <= 2e-7 * std::fabs(v) + 1e-30 && e <= 1e-6 * std::max(1.0, std::fabs(ref)),
                       "gelu(" + std::to_string(v) + ") = " + std::to_string(gy[i]) + ", want " + std::to_string(ref));
        satest::expect(
            de <= 2e-6 * std::max(1.0, std::fabs(dref)),
            "gelu_backward(" + std::to_string(v) + ") = " + std::to_string(gdx[i]) + ", want " + std::to_string(dref));
    }
    // The limits: GELU(x) = x from where erf rounds to 1, and 0 below -5.7; GELU(-0) and GELU(0) are 0.
    satest::expect(gy[8] == 9.0f && gy[10] == 20.0f && gy[12] == 40.0f, "gelu(x) != x for large x");
    satest::expect(gy[9] == 0.0f && gy[11] == 0.0f, "gelu(-9), gelu(-20) not 0");
    satest::expect(gy[0] == 0.0f && gy[1] == 0.0f, "gelu(+-0) not 0");
    // NaN stays NaN; +inf stays +inf.
    Vec odd(19, std::nanf(""));  // vector lanes and the tail
    odd[3] = odd[17] = INFINITY;
    odd[5] = odd[18] = -std::nanf("");
    Buf bo(odd), yo(odd.size());
    be().gelu(bo.p, yo.p, (int64_t) odd.size());
    const Vec go = yo.host();
    for (size_t i = 0; i < odd.size(); ++i)
        satest::expect(std::isnan(odd[i]) ? std::isnan(go[i]) : go[i] == INFINITY,
                       "gelu: NaN or inf not kept at " + std::to_string(i));
}

// ---- linear, layer norms -------------------------------------------------------------------------

SA_TEST(linear_with_and_without_bias) {
    const int64_t M = 45, K = 70, N = 33;
    const Vec x = randn((size_t) (M * K), 61), W = randn((size_t) (N * K), 62), b = randn(N, 63);
    Buf bx(x), bw(W), bb(b), y((size_t) (M * N), NAN);
    for (int with_bias = 0; with_bias < 2; ++with_bias) {
        be().linear(bx.p, bw.p, with_bias ? bb.p : nullptr, y.p, M, K, N);
        std::vector<double> ref((size_t) (M * N));
        for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 0; j < N; ++j) {
                double s = with_bias ? b[j] : 0.0;
                for (int64_t k = 0; k < K; ++k) s += (double) x[i * K + k] * W[j * K + k];
                ref[i * N + j] = s;
            }
        expect_near(with_bias ? "linear+bias" : "linear", y.host(), ref, 1e-5);
    }
}

// Prepared (pre-packed) weights give linear's bits, at sizes around the GEMM's panel edges
// (K > 256: several packed panels; N not a multiple of 16; M over several row blocks and threads).
SA_TEST(linear_prepared_matches_linear) {
    struct Shape {
        int64_t M, K, N;
    };
    // 150 x 700 -> 2100: several K panels over a C wider than L2 (each column sliver over all panels).
    for (const Shape & s :
         {Shape{45, 70, 33}, Shape{301, 520, 47}, Shape{7, 1, 5}, Shape{200, 64, 128}, Shape{150, 700, 2100}}) {
        const Vec x = randn((size_t) (s.M * s.K), 64), W = randn((size_t) (s.N * s.K), 65), b = randn(s.N, 66);
        Buf bx(x), bw(W), bb(b), wp(be().prepared_linear_size(s.N, s.K)), y((size_t) (s.M * s.N), NAN),
            yp((size_t) (s.M * s.N), NAN);
        be().prepare_linear(bw.p, wp.p, s.N, s.K);
        for (int with_bias = 0; with_bias < 2; ++with_bias) {
            const float * bias = with_bias ? bb.p : nullptr;
            be().linear(bx.p, bw.p, bias, y.p, s.M, s.K, s.N);
            be().linear_prepared(bx.p, wp.p, bias, yp.p, s.M, s.K, s.N);
            const Vec want = y.host(), got = yp.host();
            satest::expect(std::memcmp(want.data(), got.data(), want.size() * sizeof(float)) == 0,
                           "linear_prepared " + std::to_string(s.M) + "x" + std::to_string(s.K) + "x" +
                               std::to_string(s.N) + (with_bias ? " with bias" : "") + " differs from linear");
        }
    }
}

SA_TEST(layernorm_rows) {
    for (int64_t C : {1, 7, 64, 771}) {
        const int64_t rows = 29;
        Vec x = randn((size_t) (rows * C), 70 + (uint32_t) C, 2.0f);
        for (auto & v : x) v += 3.0f;  // offset mean
        const Vec g = randn(C, 71), bta = randn(C, 72);
        Buf bx(x), bg(g), bb(bta), y(x.size()), mean(rows), rstd(rows);
        be().layernorm({bx.p, bg.p, bb.p, y.p, mean.p, rstd.p, rows, C, 1e-6f});
        std::vector<double> ref(x.size()), rm(rows), rr(rows);
        for (int64_t r = 0; r < rows; ++r) {
            double mu = 0, var = 0;
            for (int64_t c = 0; c < C; ++c) mu += x[r * C + c];
            mu /= C;
            for (int64_t c = 0; c < C; ++c) var += (x[r * C + c] - mu) * (x[r * C + c] - mu);
            var /= C;
            const double rs = 1.0 / std::sqrt(var + 1e-6);
            rm[r] = mu;
            rr[r] = rs;
            for (int64_t c = 0; c < C; ++c) ref[r * C + c] = (x[r * C + c] - mu) * rs * g[c] + bta[c];
        }
        const std::string tag = " C=" + std::to_string(C);
        expect_near("layernorm" + tag, y.host(), ref, 1e-5);
        expect_near("layernorm mean" + tag, mean.host(), rm, 1e-5);
        expect_near("layernorm rstd" + tag, rstd.host(), rr, 1e-3);  // 1/sqrt(eps) when C == 1
    }
}

SA_TEST(layernorm2d_channels_first) {
    const int64_t B = 2, C = 19, HW = 301;  // spans two pixel runs
    const Vec x = randn((size_t) (B * C * HW), 81, 1.5f), g = randn(C, 82), bta = randn(C, 83);
    Buf bx(x), bg(g), bb(bta), y(x.size()), mean((size_t) (B * HW)), rstd((size_t) (B * HW));
    be().layernorm2d({bx.p, bg.p, bb.p, y.p, mean.p, rstd.p, B, C, HW, 1e-6f});
    std::vector<double> ref(x.size()), rm((size_t) (B * HW)), rr((size_t) (B * HW));
    for (int64_t b = 0; b < B; ++b)
        for (int64_t p = 0; p < HW; ++p) {
            double mu = 0, var = 0;
            for (int64_t c = 0; c < C; ++c) mu += x[(b * C + c) * HW + p];
            mu /= C;
            for (int64_t c = 0; c < C; ++c) var += std::pow(x[(b * C + c) * HW + p] - mu, 2);
            const double rs = 1.0 / std::sqrt(var / C + 1e-6);
            rm[b * HW + p] = mu;
            rr[b * HW + p] = rs;
            for (int64_t c = 0; c < C; ++c)
                ref[(b * C + c) * HW + p] = (x[(b * C + c) * HW + p] - mu) * rs * g[c] + bta[c];
        }
    expect_near("layernorm2d", y.host(), ref, 1e-5);
    expect_near("layernorm2d mean", mean.host(), rm, 1e-6);
    expect_near("layernorm2d rstd", rstd.host(), rr, 1e-5);
}

// ---- conv2d ---------------------------------------------------------------------------------------

std::vector<double> ref_conv(const Vec & x, const Vec & W, const Vec * b, int64_t B, int64_t C, int64_t H, int64_t Wd,
                             int64_t O, int64_t kh, int64_t kw, int64_t s, int64_t p, int64_t g) {
    const int64_t Ho = (H + 2 * p - kh) / s + 1, Wo = (Wd + 2 * p - kw) / s + 1, Cg = C / g, Og = O / g;
    std::vector<double> y((size_t) (B * O * Ho * Wo));
    for (int64_t bi = 0; bi < B; ++bi)
        for (int64_t o = 0; o < O; ++o)
            for (int64_t oy = 0; oy < Ho; ++oy)
                for (int64_t ox = 0; ox < Wo; ++ox) {
                    double acc = b ? (*b)[o] : 0.0;
                    const int64_t grp = o / Og;
                    for (int64_t c = 0; c < Cg; ++c)
                        for (int64_t i = 0; i < kh; ++i)
                            for (int64_t j = 0; j < kw; ++j) {
                                const int64_t iy = oy * s + i - p, ix = ox * s + j - p;
                                if (iy < 0 || iy >= H || ix < 0 || ix >= Wd) continue;
                                acc += (double) x[((bi * C + grp * Cg + c) * H + iy) * Wd + ix] *
                                       W[((o * Cg + c) * kh + i) * kw + j];
                            }
                    y[((bi * O + o) * Ho + oy) * Wo + ox] = acc;
                }
    return y;
}

void check_conv(const char * what, int64_t B, int64_t C, int64_t H, int64_t Wd, int64_t O, int64_t kh, int64_t kw,
                int64_t s, int64_t p, int64_t g, bool bias, uint32_t seed) {
    const Vec x = randn((size_t) (B * C * H * Wd), seed), W = randn((size_t) (O * (C / g) * kh * kw), seed + 1);
    const Vec b = randn(O, seed + 2);
    const int64_t Ho = (H + 2 * p - kh) / s + 1, Wo = (Wd + 2 * p - kw) / s + 1;
    Buf bx(x), bw(W), bb(b), y((size_t) (B * O * Ho * Wo), NAN);
    be().conv2d({bx.p, bw.p, bias ? bb.p : nullptr, y.p, B, C, H, Wd, O, kh, kw, s, p, g});
    expect_near(what, y.host(), ref_conv(x, W, bias ? &b : nullptr, B, C, H, Wd, O, kh, kw, s, p, g), 1e-5);
}

SA_TEST(conv2d_variants) {
    check_conv("patch embed 16/16", 2, 3, 48, 32, 8, 16, 16, 16, 0, 1, true, 91);
    check_conv("1x1 no bias", 2, 12, 9, 11, 7, 1, 1, 1, 0, 1, false, 92);
    check_conv("3x3 pad 1 no bias", 1, 5, 10, 13, 6, 3, 3, 1, 1, 1, false, 93);
    check_conv("3x3 stride 2 pad 1", 2, 4, 11, 9, 5, 3, 3, 2, 1, 1, true, 94);
    check_conv("depthwise 3x3", 2, 6, 9, 10, 6, 3, 3, 1, 1, 6, true, 95);
    check_conv("depthwise 3x3 stride 2", 1, 5, 10, 7, 5, 3, 3, 2, 1, 5, false, 96);
    check_conv("depthwise multiplier 2", 1, 3, 6, 6, 6, 3, 3, 1, 1, 3, true, 97);
    check_conv("grouped (2 groups)", 2, 8, 7, 6, 6, 3, 3, 1, 1, 2, true, 98);
    check_conv("5x5 pad 1 (kernel wider than pad)", 1, 2, 4, 3, 3, 5, 5, 1, 1, 1, true, 99);
    check_conv("2x2 stride 2", 1, 3, 8, 8, 4, 2, 2, 2, 0, 1, true, 100);
}

// Wide 3x3 / stride 1 / padding 1 convolutions take the Winograd F(2x2, 3x3) path (at least 64 input
// and output channels, 256 output pixels): odd sides (partial last tiles), tile rows that are not a
// multiple of the vector width, several images; and the same bits for 1 and 3 threads.
SA_TEST(conv2d_winograd) {
    check_conv("3x3 winograd 16x16", 2, 64, 16, 16, 64, 3, 3, 1, 1, 1, true, 101);
    check_conv("3x3 winograd 17x21", 1, 72, 17, 21, 80, 3, 3, 1, 1, 1, false, 102);
    check_conv("3x3 winograd 15x40", 1, 64, 15, 40, 96, 3, 3, 1, 1, 1, true, 103);
    const int64_t C = 64, H = 19, Wd = 23, O = 64;
    const Vec x = randn((size_t) (C * H * Wd), 104), W = randn((size_t) (O * C * 9), 105), b = randn(O, 106);
    auto run = [&](int threads) {
        auto be = sa::make_cpu_backend(sa::Precision::fp32, threads);
        float *dx = be->alloc(x.size()), *dW = be->alloc(W.size()), *db = be->alloc(b.size());
        float * dy = be->alloc((size_t) (O * H * Wd));
        be->upload(dx, x.data(), x.size());
        be->upload(dW, W.data(), W.size());
        be->upload(db, b.data(), b.size());
        be->conv2d({dx, dW, db, dy, 1, C, H, Wd, O, 3, 3, 1, 1, 1});
        Vec y((size_t) (O * H * Wd));
        be->download(y.data(), dy, y.size());
        return y;
    };
    satest::expect(run(1) == run(3), "winograd conv2d: 1 and 3 threads differ");
    // Bands of tile rows (1, 3 and 7 of the 10 tile rows at a time) give the one-band bits.
    const Vec one = run(1);
    for (const int64_t rows : {1, 3, 7}) {
        Buf bx(x), bw(W), bb(b), y((size_t) (O * H * Wd), NAN);
        sa::ThreadPool pool(2);
        sa::cpu::conv2d_winograd(pool, {bx.p, bw.p, bb.p, y.p, 1, C, H, Wd, O, 3, 3, 1, 1, 1},
                                 16 * std::max(C, O) * ((Wd + 1) / 2) * rows);
        satest::expect(y.host() == one, "winograd conv2d: bands of " + std::to_string(rows) + " tile rows differ");
    }
}

SA_TEST(conv2d_rejects_bad_groups) {
    Buf x(64), w(64), y(64);
    expect_throws(SA_ERR_INVALID_ARG, "groups", [&] {
        be().conv2d({x.p, w.p, nullptr, y.p, 1, 3, 2, 2, 4, 1, 1, 1, 0, 2});
    });
}

// ---- layout ops -----------------------------------------------------------------------------------

SA_TEST(transpose_last2_odd_sizes) {
    for (auto dims : std::vector<std::array<int64_t, 3>>{{1, 1, 1}, {2, 7, 13}, {3, 70, 129}, {1, 256, 64}}) {
        const int64_t B = dims[0], R = dims[1], C = dims[2];
        const Vec x = randn((size_t) (B * R * C), 111);
        Buf bx(x), y(x.size());
        be().transpose_last2(bx.p, y.p, B, R, C);
        std::vector<double> ref(x.size());
        for (int64_t b = 0; b < B; ++b)
            for (int64_t r = 0; r < R; ++r)
                for (int64_t c = 0; c < C; ++c) ref[(b * C + c) * R + r] = x[(b * R + r) * C + c];
        expect_near("transpose_last2", y.host(), ref, 0);
    }
}

SA_TEST(window_partition_pads_and_unpartition_crops) {
    const int64_t B = 2, H = 7, W = 5, C = 3, win = 3;  // padded to 9 x 6: 3 x 2 windows
    const int64_t nh = 3, nw = 2;
    const Vec x = randn((size_t) (B * H * W * C), 121);
    Buf bx(x), y((size_t) (B * nh * nw * win * win * C), NAN), back(x.size(), NAN);
    be().window_partition({bx.p, y.p, B, H, W, C, win});
    std::vector<double> ref((size_t) (B * nh * nw * win * win * C));
    for (int64_t b = 0; b < B; ++b)
        for (int64_t h = 0; h < nh * win; ++h)
            for (int64_t w = 0; w < nw * win; ++w)
                for (int64_t c = 0; c < C; ++c) {
                    const int64_t widx = (b * nh + h / win) * nw + w / win;
                    const double v = (h < H && w < W) ? x[((b * H + h) * W + w) * C + c] : 0.0;
                    ref[((widx * win + h % win) * win + w % win) * C + c] = v;
                }
    expect_near("window_partition", y.host(), ref, 0);
    be().window_unpartition({y.p, back.p, B, H, W, C, win});
    expect_near("window_unpartition", back.host(), std::vector<double>(x.begin(), x.end()), 0);
}

// ---- SAM ViT attention -------------------------------------------------------------------------

// Linear resampling of a [L, hd] table to [out, hd] (F.interpolate, align_corners=False).
std::vector<double> ref_resample(const Vec & t, int64_t L, int64_t out, int64_t hd) {
    std::vector<double> r((size_t) (out * hd));
    for (int64_t i = 0; i < out; ++i) {
        double src = std::max(0.0, (double) L / out * (i + 0.5) - 0.5);
        int64_t i0 = std::min<int64_t>((int64_t) src, L - 1), i1 = std::min<int64_t>(i0 + 1, L - 1);
        const double l1 = src - i0;
        for (int64_t c = 0; c < hd; ++c) r[i * hd + c] = (1 - l1) * t[i0 * hd + c] + l1 * t[i1 * hd + c];
    }
    return r;
}

std::vector<double> ref_attention_vit(const Vec & qkv, int64_t B, int64_t H, int64_t W, int64_t nh, int64_t hd,
                                      const Vec * rh, int64_t Lh, const Vec * rw, int64_t Lw) {
    const int64_t N = H * W, C = nh * hd;
    std::vector<double> out((size_t) (B * N * C));
    std::vector<double> Rh, Rw;
    if (rh) {
        Rh = ref_resample(*rh, Lh, 2 * H - 1, hd);
        Rw = ref_resample(*rw, Lw, 2 * W - 1, hd);
    }
    auto at = [&](int64_t b, int64_t n, int64_t which, int64_t h, int64_t c) {
        return (double) qkv[(((b * N + n) * 3 + which) * nh + h) * hd + c];
    };
    std::vector<double> s((size_t) N);
    for (int64_t b = 0; b < B; ++b)
        for (int64_t h = 0; h < nh; ++h)
            for (int64_t i = 0; i < N; ++i) {
                double mx = -1e300;
                for (int64_t j = 0; j < N; ++j) {
                    double d = 0;
                    for (int64_t c = 0; c < hd; ++c) d += at(b, i, 0, h, c) * at(b, j, 1, h, c);
                    d /= std::sqrt((double) hd);
                    if (rh) {
                        const int64_t qh = i / W, qw = i % W, kh = j / W, kw = j % W;
                        for (int64_t c = 0; c < hd; ++c) {
                            d += at(b, i, 0, h, c) * Rh[(qh - kh + H - 1) * hd + c];
                            d += at(b, i, 0, h, c) * Rw[(qw - kw + W - 1) * hd + c];
                        }
                    }
                    s[j] = d;
                    mx = std::max(mx, d);
                }
                double sum = 0;
                for (auto & v : s) sum += (v = std::exp(v - mx));
                for (int64_t c = 0; c < hd; ++c) {
                    double acc = 0;
                    for (int64_t j = 0; j < N; ++j) acc += s[j] / sum * at(b, j, 2, h, c);
                    out[(b * N + i) * C + h * hd + c] = acc;
                }
            }
    return out;
}

void check_attention(int64_t B, int64_t H, int64_t W, int64_t nh, int64_t hd, int mode, uint32_t seed) {
    // mode 0: no rel pos; 1: tables of length 2*size-1; 2: tables of other lengths (resampled)
    const int64_t N = H * W;
    const Vec qkv = randn((size_t) (B * N * 3 * nh * hd), seed);
    const int64_t Lh = mode == 2 ? H + 2 : 2 * H - 1, Lw = mode == 2 ? 4 * W : 2 * W - 1;
    const Vec rh = randn((size_t) (Lh * hd), seed + 1, 0.5f), rw = randn((size_t) (Lw * hd), seed + 2, 0.5f);
    Buf bq(qkv), brh(rh), brw(rw), out((size_t) (B * N * nh * hd), NAN);
    be().attention_vit({bq.p, out.p, B, H, W, nh, hd, mode ? brh.p : nullptr, Lh, mode ? brw.p : nullptr, Lw});
    const auto ref = ref_attention_vit(qkv, B, H, W, nh, hd, mode ? &rh : nullptr, Lh, mode ? &rw : nullptr, Lw);
    char what[120];
    std::snprintf(what, sizeof what, "attention_vit B=%lld H=%lld W=%lld nh=%lld hd=%lld mode=%d", (long long) B,
                  (long long) H, (long long) W, (long long) nh, (long long) hd, mode);
    expect_near(what, out.host(), ref, 2e-5);
}

SA_TEST(attention_vit_rel_pos) {
    check_attention(2, 3, 4, 2, 8, 0, 131);
    check_attention(2, 3, 4, 2, 8, 1, 132);
    check_attention(1, 7, 6, 3, 16, 1, 133);  // 42 tokens: several query tiles
    check_attention(1, 5, 5, 1, 12, 2, 134);  // resampled tables, head dim not a multiple of 8
    check_attention(1, 9, 8, 2, 64, 2, 135);
    check_attention(1, 17, 16, 1, 8, 2, 136);  // 272 tokens: two key blocks, query blocks over threads
    check_attention(2, 20, 19, 2, 16, 1, 137);
    check_attention(1, 31, 25, 2, 8, 1, 140);  // 775 tokens: four key blocks, the last short; a part query tile
}

SA_TEST(attention_vit_same_bits_for_any_thread_count) {
    const int64_t H = 23, W = 22, nh = 2, hd = 16, N = H * W;
    const Vec qkv = randn((size_t) (N * 3 * nh * hd), 141);
    const Vec rh = randn((size_t) ((2 * H - 1) * hd), 142, 0.5f), rw = randn((size_t) ((2 * W - 1) * hd), 143, 0.5f);
    std::vector<Vec> results;
    for (int threads : {1, 2, 3}) {
        be().set_threads(threads);
        Buf bq(qkv), brh(rh), brw(rw), out((size_t) (N * nh * hd));
        be().attention_vit({bq.p, out.p, 1, H, W, nh, hd, brh.p, 2 * H - 1, brw.p, 2 * W - 1});
        results.push_back(out.host());
    }
    be().set_threads(0);
    satest::expect(std::memcmp(results[0].data(), results[1].data(), results[0].size() * 4) == 0, "1 vs 2 threads");
    satest::expect(std::memcmp(results[0].data(), results[2].data(), results[0].size() * 4) == 0, "1 vs 3 threads");
}

// A NaN key of head 0 (in the first key block, or in a later one) makes every head-0 output NaN.
void check_attention_nan(int64_t H, int64_t W, int64_t key) {
    const int64_t nh = 2, hd = 8, N = H * W;
    Vec qkv = randn((size_t) (N * 3 * nh * hd), 138);
    qkv[(size_t) ((key * 3 + 1) * nh * hd)] = NAN;
    const Vec rel = randn((size_t) ((2 * std::max(H, W) - 1) * hd), 139);
    Buf bq(qkv), br(rel), out((size_t) (N * nh * hd));
    be().attention_vit({bq.p, out.p, 1, H, W, nh, hd, br.p, 2 * H - 1, br.p, 2 * W - 1});
    const Vec o = out.host();
    for (int64_t n = 0; n < N; ++n) {
        satest::expect(
            std::isnan(o[(size_t) (n * nh * hd)]),
            "head 0 output is not NaN for token " + std::to_string(n) + " (NaN key " + std::to_string(key) + ")");
        satest::expect(std::isfinite(o[(size_t) (n * nh * hd + hd)]), "head 1 output is not finite");
    }
}

SA_TEST(attention_vit_propagates_nan) {
    check_attention_nan(4, 4, 5);
    check_attention_nan(18, 17, 290);  // the second key block
}

}  // namespace

SA_TEST_MAIN()
