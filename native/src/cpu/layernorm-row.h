// SPDX-License-Identifier: Apache-2.0
// LayerNorm of one row of C floats, shared by CpuBackend::layernorm and the fused blocks that
// normalise their own tiles, so both give the same bits: two-pass statistics in float (biased
// variance, as torch.nn.LayerNorm), y = (x - mean) * rstd * gamma + beta.
#pragma once

#include <cmath>
#include <cstdint>

#include "cpu/kernels-avx512.h"
#include "cpu/simd.h"

namespace sa::cpu {

inline float ln_row_sum(const float * x, int64_t C) {
    int64_t c = 0;
    float s = 0.0f;
#ifdef __AVX2__
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    for (; c + 16 <= C; c += 16) {
        a0 = _mm256_add_ps(a0, _mm256_loadu_ps(x + c));
        a1 = _mm256_add_ps(a1, _mm256_loadu_ps(x + c + 8));
    }
    s = hsum256(_mm256_add_ps(a0, a1));
#endif
    for (; c < C; ++c) s += x[c];
    return s;
}

inline float ln_row_centered_sq(const float * x, float mean, int64_t C) {
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
    s = hsum256(_mm256_add_ps(a0, a1));
#endif
    for (; c < C; ++c) {
        const float d = x[c] - mean;
        s += d * d;
    }
    return s;
}

// y = LayerNorm(x) over C (gamma / beta may be null: 1 / 0); returns the mean and 1/std through
// mean_out / rstd_out.
inline void layernorm_row(const float * x, const float * gamma, const float * beta, float * y, int64_t C, float eps,
                          float & mean_out, float & rstd_out) {
#if defined(SA_HAVE_AVX512)
    if (use_avx512()) return avx512::layernorm_row(x, gamma, beta, y, C, eps, mean_out, rstd_out);
#endif
    const float mu = ln_row_sum(x, C) / (float) C;
    const float var = ln_row_centered_sq(x, mu, C) / (float) C;
    const float rs = 1.0f / std::sqrt(var + eps);
    mean_out = mu;
    rstd_out = rs;
    int64_t c = 0;
#ifdef __AVX2__
    const __m256 vm = _mm256_set1_ps(mu), vr = _mm256_set1_ps(rs);
    for (; c + 8 <= C; c += 8) {
        __m256 v = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + c), vm), vr);
        if (gamma) v = _mm256_mul_ps(v, _mm256_loadu_ps(gamma + c));
        if (beta) v = _mm256_add_ps(v, _mm256_loadu_ps(beta + c));
        _mm256_storeu_ps(y + c, v);
    }
#endif
    for (; c < C; ++c) {
        float v = (x[c] - mu) * rs;
        if (gamma) v *= gamma[c];
        if (beta) v += beta[c];
        y[c] = v;
    }
}

}  // namespace sa::cpu
