// SPDX-License-Identifier: Apache-2.0
// AVX-512 row softmax kernels (cpu/kernels-avx512.h): the shapes of cpu/softmax-row.h with 16-lane
// vectors, two accumulators and masked tails; the lane split depends only on the row length.
#include "cpu/isa/simd-avx512.h"
#include "cpu/kernels-avx512.h"

namespace sa::cpu::avx512 {

void softmax_row(const float * x, float * y, int64_t n) {
    const float mx = row_max(x, n);
    if (y != x)
        for (int64_t i = 0; i < n; i += 16) {
            const __mmask16 m = n - i >= 16 ? (__mmask16) 0xFFFF : tail_mask(n - i);
            _mm512_mask_storeu_ps(y + i, m, _mm512_maskz_loadu_ps(m, x + i));
        }
    scale_row(y, 1.0f / exp_shift_sum(y, n, mx), n);
}

void softmax_backward_row(const float * y, const float * dy, float * dx, int64_t n, float scale) {
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(dy + i), _mm512_loadu_ps(y + i), a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(dy + i + 16), _mm512_loadu_ps(y + i + 16), a1);
    }
    for (; i < n; i += 16) {
        const __mmask16 m = n - i >= 16 ? (__mmask16) 0xFFFF : tail_mask(n - i);
        a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, dy + i), _mm512_maskz_loadu_ps(m, y + i), a0);
    }
    const __m512 rs = _mm512_set1_ps(_mm512_reduce_add_ps(_mm512_add_ps(a0, a1))), vs = _mm512_set1_ps(scale);
    for (i = 0; i < n; i += 16) {
        const __mmask16 m = n - i >= 16 ? (__mmask16) 0xFFFF : tail_mask(n - i);
        const __m512 v =
            _mm512_mul_ps(_mm512_maskz_loadu_ps(m, y + i), _mm512_sub_ps(_mm512_maskz_loadu_ps(m, dy + i), rs));
        _mm512_mask_storeu_ps(dx + i, m, _mm512_mul_ps(v, vs));
    }
}

float biased_exp_row(float * p, const float * bias, int64_t n) {
    if (!bias) return 1.0f / exp_shift_sum(p, n, row_max(p, n));
    // p += bias and the row maximum in one pass (n >= 1: the first vector has at least one lane).
    __m512 mx = _mm512_set1_ps(-__builtin_inff());
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = n - i >= 16 ? (__mmask16) 0xFFFF : tail_mask(n - i);
        const __m512 v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, p + i), _mm512_maskz_loadu_ps(m, bias + i));
        _mm512_mask_storeu_ps(p + i, m, v);
        mx = _mm512_mask_max_ps(mx, m, mx, v);
    }
    return 1.0f / exp_shift_sum(p, n, _mm512_reduce_max_ps(mx));
}

}  // namespace sa::cpu::avx512
