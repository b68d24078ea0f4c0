// SPDX-License-Identifier: Apache-2.0
// LayerNorm over the last dimension: y = (x - mean) * rstd * gamma + beta, two-pass statistics
// (biased variance, as torch.nn.LayerNorm), one row per task.
#include <cmath>

#include "cpu/backend-cpu.h"
#include "cpu/simd.h"
#include "sa/threadpool.h"

namespace sa {

namespace {

float row_sum(const float * x, int64_t C) {
    int64_t c = 0;
    float s = 0.0f;
#ifdef __AVX2__
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    for (; c + 16 <= C; c += 16) {
        a0 = _mm256_add_ps(a0, _mm256_loadu_ps(x + c));
        a1 = _mm256_add_ps(a1, _mm256_loadu_ps(x + c + 8));
    }
    s = cpu::hsum256(_mm256_add_ps(a0, a1));
#endif
    for (; c < C; ++c) s += x[c];
    return s;
}

float row_centered_sq(const float * x, float mean, int64_t C) {
    int64_t c = 0;
    float s = 0.0f;
#ifdef __AVX2__
    const __m256 m = _mm256_set1_ps(mean);
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    for (; c + 16 <= C; c += 16) {
        const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(x + c), m);
        const __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(x + c + 8), m);
        a0 = _mm256_fmadd_ps(d0, d0, a0);
        a1 = _mm256_fmadd_ps(d1, d1, a1);
    }
    s = cpu::hsum256(_mm256_add_ps(a0, a1));
#endif
    for (; c < C; ++c) {
        const float d = x[c] - mean;
        s += d * d;
    }
    return s;
}

}  // namespace

void CpuBackend::layernorm(const float * x, const float * gamma, const float * beta, float * y, float * mean,
                           float * rstd, int64_t rows, int64_t C, float eps) {
    SA_CHECK_ARG(rows >= 0 && C > 0, "layernorm: bad size");
    SA_CHECK_ARG(eps >= 0.0f, "layernorm: negative eps");
    if (rows == 0) return;
    SA_CHECK_ARG(x && y, "layernorm: null pointer");
    default_pool().parallel_for(
        rows,
        [&](int64_t r0, int64_t r1) {
            for (int64_t r = r0; r < r1; ++r) {
                const float * xr = x + r * C;
                float * yr = y + r * C;
                const float mu = row_sum(xr, C) / (float) C;
                const float var = row_centered_sq(xr, mu, C) / (float) C;
                const float rs = 1.0f / std::sqrt(var + eps);
                if (mean) mean[r] = mu;
                if (rstd) rstd[r] = rs;
                int64_t c = 0;
#ifdef __AVX2__
                const __m256 vm = _mm256_set1_ps(mu), vr = _mm256_set1_ps(rs);
                for (; c + 8 <= C; c += 8) {
                    __m256 v = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + c), vm), vr);
                    if (gamma) v = _mm256_mul_ps(v, _mm256_loadu_ps(gamma + c));
                    if (beta) v = _mm256_add_ps(v, _mm256_loadu_ps(beta + c));
                    _mm256_storeu_ps(yr + c, v);
                }
#endif
                for (; c < C; ++c) {
                    float v = (xr[c] - mu) * rs;
                    if (gamma) v *= gamma[c];
                    if (beta) v += beta[c];
                    yr[c] = v;
                }
            }
        },
        C >= 4096 ? 1 : 4096 / C);
}

}  // namespace sa
