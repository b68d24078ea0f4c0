// SPDX-License-Identifier: Apache-2.0
// TinyViT window attention with learned biases (see Backend::attention_tinyvit). One task per
// (image, window, head): the head's q|k|v columns of the window's tokens are gathered in one copy
// per token (padding tokens from pad_qkv), S = q k^T / sqrt(kd), then for the window's real queries
// only (the padding queries' outputs are discarded by TinyViT) exp(S + bias[h] - rowmax), and
// O = P v scaled by 1 / rowsum, scattered back to the grid. Each task's outputs depend on the task
// alone, so results do not depend on which thread claims it. At level avx512 and above (fp32, kd and vd
// multiples of 16) a task runs cpu::avx512::attention_tinyvit_window instead: the same arithmetic on
// register tiles that read the tokens in place.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "cpu/backend-cpu.h"
#include "cpu/gemm-kernel.h"
#include "cpu/kernels-avx512.h"
#include "cpu/simd.h"
#include "sa/gemm.h"
#include "sa/threadpool.h"

namespace sa {

namespace {

struct Scratch {
    std::vector<float> qkv, s, o;  // one head's window: [N, 2*kd + vd] q|k|v rows, scores, output
    std::vector<float> inv_sum;    // 1 / softmax denominator of each query
    // The AVX-512 task's (cpu/kernels-avx512.h): token and output pointers, the queries, the
    // transposed keys and a zero token.
    std::vector<const float *> tok;
    std::vector<float *> dst;
    std::vector<float> q, kt, zeros;
};

// Task t of the op: head h of window (wy, wx) of image b, and how many of the window's rows and
// columns lie inside the grid (the rest are padding tokens).
struct WindowHead {
    int64_t b, h, wy, wx, rows_in, cols_in;
};

WindowHead window_head(const AttentionTinyVitArgs & a, int64_t t) {
    const int64_t nwh = (a.H + a.win - 1) / a.win, nww = (a.W + a.win - 1) / a.win;
    const int64_t w_idx = t / a.nh, wy = (w_idx / nww) % nwh, wx = w_idx % nww;
    return {
        w_idx / (nwh * nww), t % a.nh, wy, wx, std::min(a.win, a.H - wy * a.win), std::min(a.win, a.W - wx * a.win)};
}

Scratch & scratch() {
    thread_local Scratch s;
    return s;
}

// p[j] = exp(p[j] + bias[j] - max) for j < n (bias may be null); returns 1 / sum_j p[j].
float biased_exp_row(float * p, const float * bias, int64_t n) {
#if defined(SA_HAVE_AVX512)
    if (cpu::use_avx512()) return cpu::avx512::biased_exp_row(p, bias, n);
#endif
    if (bias)
        for (int64_t j = 0; j < n; ++j) p[j] += bias[j];
    int64_t j = 0;
    float mx = -INFINITY;
#ifdef __AVX2__
    if (n >= 8) {
        __m256 vmx = _mm256_loadu_ps(p);
        for (j = 8; j + 8 <= n; j += 8) vmx = _mm256_max_ps(vmx, _mm256_loadu_ps(p + j));
        mx = cpu::hmax256(vmx);
    }
#endif
    for (; j < n; ++j) mx = std::max(mx, p[j]);
    float sum = 0.0f;
    j = 0;
#ifdef __AVX2__
    {
        const __m256 vm = _mm256_set1_ps(mx);
        __m256 vs = _mm256_setzero_ps();
        for (; j + 8 <= n; j += 8) {
            const __m256 e = cpu::exp256(_mm256_sub_ps(_mm256_loadu_ps(p + j), vm));
            _mm256_storeu_ps(p + j, e);
            vs = _mm256_add_ps(vs, e);
        }
        sum = cpu::hsum256(vs);
    }
#endif
    for (; j < n; ++j) {
        p[j] = std::exp(p[j] - mx);
        sum += p[j];
    }
    return 1.0f / sum;
}

#if defined(SA_HAVE_AVX512)
// The AVX-512 path: one cpu::avx512::attention_tinyvit_window task per (image, window, head), tokens
// read in place (padding tokens: pad_qkv or a zero row), outputs written to the grid directly.
void window_heads_avx512(ThreadPool & pool, const AttentionTinyVitArgs & a, float scale) {
    const auto & [qkv, pad_qkv, bias, out, B, H, W, win, nh, kd, vd] = a;
    const int64_t per_head = 2 * kd + vd, row = nh * per_head, dv = nh * vd;
    const int64_t nwh = (H + win - 1) / win, nww = (W + win - 1) / win;
    const int64_t N = win * win, lds = (N + 15) / 16 * 16;
    pool.parallel_for(B * nwh * nww * nh, [&](int64_t t0, int64_t t1) {
        Scratch & sc = scratch();
        sc.tok.resize((size_t) lds);
        sc.dst.resize((size_t) N);
        sc.q.resize((size_t) (N * kd));
        sc.kt.resize((size_t) (kd * lds));
        sc.s.resize((size_t) (N * lds));
        sc.inv_sum.resize((size_t) N);
        sc.zeros.assign((size_t) per_head, 0.0f);
        for (int64_t i = N; i < lds; ++i) sc.tok[(size_t) i] = sc.zeros.data();
        cpu::WindowHeadTask task{sc.tok.data(), nullptr,     sc.dst.data(),    N, 0, kd, vd, scale, sc.q.data(),
                                 sc.kt.data(),  sc.s.data(), sc.inv_sum.data()};
        for (int64_t t = t0; t < t1; ++t) {
            const auto [b, h, wy, wx, rows_in, cols_in] = window_head(a, t);
            const float * pad = pad_qkv ? pad_qkv + h * per_head : sc.zeros.data();
            for (int64_t i = 0; i < N; ++i) {
                const int64_t y = wy * win + i / win, x = wx * win + i % win;
                const bool real = i / win < rows_in && i % win < cols_in;
                sc.tok[(size_t) i] = real ? qkv + ((b * H + y) * W + x) * row + h * per_head : pad;
                sc.dst[(size_t) i] = real ? out + ((b * H + y) * W + x) * dv + h * vd : nullptr;
            }
            // Queries: the window rows that hold real tokens (the padding rows below them are never
            // needed; a row's result does not depend on how many are computed).
            task.nq = rows_in * win;
            task.bias = bias ? bias + h * N * N : nullptr;
            cpu::avx512::attention_tinyvit_window(task);
        }
    });
}
#endif

}  // namespace

void CpuBackend::attention_tinyvit_impl(const AttentionTinyVitArgs & a) {
    const auto & [qkv, pad_qkv, bias, out, B, H, W, win, nh, kd, vd] = a;
    const int64_t per_head = 2 * kd + vd;
    const int64_t row = nh * per_head;  // qkv row length
    const int64_t dv = nh * vd;         // out row length
    const int64_t nwh = (H + win - 1) / win, nww = (W + win - 1) / win;
    const int64_t N = win * win;
    const float scale = 1.0f / std::sqrt((float) kd);

    // A bf16 backend runs both products in bf16 (encoder_products); the softmax stays fp32.
    const cpu::GemmKernel * products = encoder_products();
#if defined(SA_HAVE_AVX512)
    if (!products && cpu::use_avx512() && kd % 16 == 0 && vd % 16 == 0) {
        window_heads_avx512(*pool(), a, scale);
        return;
    }
#endif
    pool()->parallel_for(B * nwh * nww * nh, [&](int64_t t0, int64_t t1) {
        const cpu::ProductsScope scope(products);
        Scratch & sc = scratch();
        sc.qkv.resize((size_t) (N * per_head));
        sc.s.resize((size_t) (N * N));
        sc.o.resize((size_t) (N * vd));
        sc.inv_sum.resize((size_t) N);
        float *win_qkv = sc.qkv.data(), *S = sc.s.data(), *O = sc.o.data();
        for (int64_t t = t0; t < t1; ++t) {
            const auto [b, h, wy, wx, rows_in, cols_in] = window_head(a, t);
            const float * hb = bias ? bias + h * N * N : nullptr;
            // Gather the head's q|k|v of every window token (padding tokens: pad_qkv or zeros).
            for (int64_t i = 0; i < N; ++i) {
                const int64_t y = wy * win + i / win, x = wx * win + i % win;
                float * dst = win_qkv + i * per_head;
                const float * src = i / win < rows_in && i % win < cols_in
                                        ? qkv + ((b * H + y) * W + x) * row + h * per_head
                                        : (pad_qkv ? pad_qkv + h * per_head : nullptr);
                if (src) {
                    std::copy(src, src + per_head, dst);
                } else {
                    std::fill(dst, dst + per_head, 0.0f);
                }
            }
            // S[nq, N] = q k^T * scale for the window rows that hold real queries (the padding rows
            // below them are never needed; a row's result does not depend on how many are computed).
            const int64_t nq = rows_in * win;
            sgemm_serial(false, true, nq, N, kd, scale, win_qkv, per_head, win_qkv + kd, per_head, 0.0f, S, N);
            // Unnormalised softmax rows of the real queries (+ bias); the normalisation is applied to
            // the vd-wide output rows.
            for (int64_t r = 0; r < nq; ++r) {
                if (r % win < cols_in) sc.inv_sum[(size_t) r] = biased_exp_row(S + r * N, hb ? hb + r * N : nullptr, N);
            }
            // O[nq, vd] = P v; the real queries' rows, scaled, go to their grid tokens.
            sgemm_serial(false, false, nq, vd, N, 1.0f, S, N, win_qkv + 2 * kd, per_head, 0.0f, O, vd);
            for (int64_t r = 0; r < nq; ++r) {
                if (r / win >= rows_in || r % win >= cols_in) continue;
                const float * src = O + r * vd;
                const float inv = sc.inv_sum[(size_t) r];
                float * dst = out + ((b * H + wy * win + r / win) * W + wx * win + r % win) * dv + h * vd;
                for (int64_t c = 0; c < vd; ++c) dst[c] = src[c] * inv;
            }
        }
    });
}

}  // namespace sa
