// SPDX-License-Identifier: Apache-2.0
// AVX-512 Adam / AdamW over a range of elements (cpu/kernels-avx512.h): PyTorch's order of operations
// (ops/adam.cpp), 16 lanes per step and a masked tail; lane for lane the AVX2 path's arithmetic.
#include "cpu/isa/simd-avx512.h"
#include "cpu/kernels-avx512.h"

namespace sa::cpu::avx512 {

void adam_range(float * param, const float * grad, float * zero, float * m, float * v, int64_t i0, int64_t i1,
                const AdamConsts & k) {
    const __m512 vb1 = _mm512_set1_ps(k.beta1), vb2 = _mm512_set1_ps(k.beta2);
    const __m512 v1b1 = _mm512_set1_ps(k.one_m_b1), v1b2 = _mm512_set1_ps(k.one_m_b2);
    const __m512 vwd = _mm512_set1_ps(k.weight_decay), vdecay = _mm512_set1_ps(k.decay);
    const __m512 vbc2 = _mm512_set1_ps(k.bc2_sqrt), veps = _mm512_set1_ps(k.eps), vstep = _mm512_set1_ps(k.step_size);
    const bool l2 = !k.decoupled && k.weight_decay != 0.0f;
    for (int64_t i = i0; i < i1; i += 16) {
        const __mmask16 mk = i1 - i >= 16 ? (__mmask16) 0xFFFF : tail_mask(i1 - i);
        __m512 g = _mm512_maskz_loadu_ps(mk, grad + i);
        if (zero) _mm512_mask_storeu_ps(zero + i, mk, _mm512_setzero_ps());
        __m512 p = _mm512_maskz_loadu_ps(mk, param + i);
        if (k.decoupled) {
            p = _mm512_mul_ps(p, vdecay);
        } else if (l2) {
            g = _mm512_add_ps(g, _mm512_mul_ps(vwd, p));
        }
        const __m512 mi = _mm512_add_ps(_mm512_mul_ps(vb1, _mm512_maskz_loadu_ps(mk, m + i)), _mm512_mul_ps(v1b1, g));
        const __m512 vi = _mm512_add_ps(_mm512_mul_ps(vb2, _mm512_maskz_loadu_ps(mk, v + i)),
                                        _mm512_mul_ps(_mm512_mul_ps(v1b2, g), g));
        _mm512_mask_storeu_ps(m + i, mk, mi);
        _mm512_mask_storeu_ps(v + i, mk, vi);
        const __m512 den = _mm512_add_ps(_mm512_div_ps(_mm512_sqrt_ps(vi), vbc2), veps);
        _mm512_mask_storeu_ps(param + i, mk, _mm512_sub_ps(p, _mm512_div_ps(_mm512_mul_ps(vstep, mi), den)));
    }
}

}  // namespace sa::cpu::avx512
