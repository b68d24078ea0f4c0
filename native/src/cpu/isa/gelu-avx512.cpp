// SPDX-License-Identifier: Apache-2.0
// AVX-512 exact GELU and its derivative (cpu/kernels-avx512.h): 16 lanes per step, a masked tail;
// lane for lane the formulas of cpu/simd.h.
#include "cpu/isa/simd-avx512.h"
#include "cpu/kernels-avx512.h"

namespace sa::cpu::avx512 {

void gelu(const float * x, float * y, int64_t n) {
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m512 a = _mm512_loadu_ps(x + i), b = _mm512_loadu_ps(x + i + 16);
        _mm512_storeu_ps(y + i, gelu512(a));
        _mm512_storeu_ps(y + i + 16, gelu512(b));
    }
    for (; i < n; i += 16) {
        const __mmask16 m = n - i >= 16 ? (__mmask16) 0xFFFF : tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, m, gelu512(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

void gelu_backward(const float * x, const float * dy, float * dx, int64_t n) {
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = n - i >= 16 ? (__mmask16) 0xFFFF : tail_mask(n - i);
        const __m512 g = gelu_grad512(_mm512_maskz_loadu_ps(m, x + i));
        _mm512_mask_storeu_ps(dx + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, dy + i), g));
    }
}

void bias_gelu(float * v, float bias, int64_t n) {
    const __m512 vb = _mm512_set1_ps(bias);
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = n - i >= 16 ? (__mmask16) 0xFFFF : tail_mask(n - i);
        _mm512_mask_storeu_ps(v + i, m, gelu512(_mm512_add_ps(_mm512_maskz_loadu_ps(m, v + i), vb)));
    }
}

void bias_residual_gelu(float * v, float bias, const float * r, int64_t n) {
    const __m512 vb = _mm512_set1_ps(bias);
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = n - i >= 16 ? (__mmask16) 0xFFFF : tail_mask(n - i);
        const __m512 s =
            _mm512_add_ps(_mm512_add_ps(_mm512_maskz_loadu_ps(m, v + i), vb), _mm512_maskz_loadu_ps(m, r + i));
        _mm512_mask_storeu_ps(v + i, m, gelu512(s));
    }
}

}  // namespace sa::cpu::avx512
