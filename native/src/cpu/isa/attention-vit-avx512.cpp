// SPDX-License-Identifier: Apache-2.0
// AVX-512 score row of SAM ViT attention (cpu/kernels-avx512.h): the decomposed relative-position
// bias added key row by key row (a W-wide strip of rel_w terms reversed once per query, plus the
// broadcast rel_h term), the row maximum taken in the same pass, then exp and the sum.
#include "cpu/isa/simd-avx512.h"
#include "cpu/kernels-avx512.h"

namespace sa::cpu::avx512 {

float attention_vit_row(float * s, const float * ph, const float * pw, int64_t H, int64_t W) {
    const int64_t N = H * W;
    if (!ph) return 1.0f / exp_shift_sum(s, N, row_max(s, N));
    // rw[kw] = pw[-kw]; W <= 64 in every SAM model, larger grids use a heap strip.
    float local[128];
    float * rw = W <= 128 ? local : new float[(size_t) W];
    for (int64_t kw = 0; kw < W; ++kw) rw[kw] = pw[-kw];
    __m512 vmx = _mm512_set1_ps(-__builtin_inff());
    for (int64_t kh = 0; kh < H; ++kh) {
        float * sr = s + kh * W;
        const __m512 rh = _mm512_set1_ps(ph[-kh]);
        for (int64_t kw = 0; kw < W; kw += 16) {
            const __mmask16 m = W - kw >= 16 ? (__mmask16) 0xFFFF : tail_mask(W - kw);
            // (rh + rw) first, as the AVX2 path: sr += rh + rw
            const __m512 v =
                _mm512_add_ps(_mm512_maskz_loadu_ps(m, sr + kw), _mm512_add_ps(rh, _mm512_maskz_loadu_ps(m, rw + kw)));
            _mm512_mask_storeu_ps(sr + kw, m, v);
            vmx = _mm512_mask_max_ps(vmx, m, vmx, v);
        }
    }
    if (rw != local) delete[] rw;
    return 1.0f / exp_shift_sum(s, N, _mm512_reduce_max_ps(vmx));
}

}  // namespace sa::cpu::avx512
