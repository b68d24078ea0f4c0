// SPDX-License-Identifier: Apache-2.0
// AVX-512 LayerNorm of one row (cpu/kernels-avx512.h): two-pass statistics in float (biased
// variance), two 16-lane accumulators and a masked tail, y = (x - mean) * rstd * gamma + beta.
#include <cmath>

#include "cpu/isa/simd-avx512.h"
#include "cpu/kernels-avx512.h"

namespace sa::cpu::avx512 {

void layernorm_row(const float * x, const float * gamma, const float * beta, float * y, int64_t C, float eps,
                   float & mean_out, float & rstd_out) {
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    int64_t c = 0;
    for (; c + 32 <= C; c += 32) {
        a0 = _mm512_add_ps(a0, _mm512_loadu_ps(x + c));
        a1 = _mm512_add_ps(a1, _mm512_loadu_ps(x + c + 16));
    }
    for (; c < C; c += 16)
        a0 = _mm512_add_ps(a0, _mm512_maskz_loadu_ps(C - c >= 16 ? (__mmask16) 0xFFFF : tail_mask(C - c), x + c));
    const float mu = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1)) / (float) C;
    const __m512 vm = _mm512_set1_ps(mu);
    a0 = a1 = _mm512_setzero_ps();
    for (c = 0; c + 32 <= C; c += 32) {
        const __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(x + c), vm),
                     d1 = _mm512_sub_ps(_mm512_loadu_ps(x + c + 16), vm);
        a0 = _mm512_fmadd_ps(d0, d0, a0);
        a1 = _mm512_fmadd_ps(d1, d1, a1);
    }
    for (; c < C; c += 16) {
        const __mmask16 m = C - c >= 16 ? (__mmask16) 0xFFFF : tail_mask(C - c);
        const __m512 d = _mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, x + c), vm);
        a0 = _mm512_fmadd_ps(d, d, a0);
    }
    const float var = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1)) / (float) C;
    const float rs = 1.0f / std::sqrt(var + eps);
    mean_out = mu;
    rstd_out = rs;
    const __m512 vr = _mm512_set1_ps(rs);
    for (c = 0; c < C; c += 16) {
        const __mmask16 m = C - c >= 16 ? (__mmask16) 0xFFFF : tail_mask(C - c);
        __m512 v = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + c), vm), vr);
        if (gamma) v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(m, gamma + c));
        if (beta) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, beta + c));
        _mm512_mask_storeu_ps(y + c, m, v);
    }
}

}  // namespace sa::cpu::avx512
