// SPDX-License-Identifier: Apache-2.0
// AVX-512 depthwise 3x3 convolutions (cpu/kernels-avx512.h): one channels-last output pixel
// (depthwise3x3_nhwc) and one channel row of TinyViT MBConv's conv + bias + GELU. Each output is the
// AVX2 path's chain of fused multiply-adds (taps in row-major order), 16 channels or pixels per step.
#include <cmath>

#include "cpu/isa/simd-avx512.h"
#include "cpu/kernels-avx512.h"

namespace sa::cpu::avx512 {

void depthwise_pixel_nhwc(const float * const * src, const float * const * tw, int n, const float * b, float * y,
                          int64_t C) {
    for (int64_t c = 0; c < C; c += 16) {
        const __mmask16 m = C - c >= 16 ? (__mmask16) 0xFFFF : tail_mask(C - c);
        __m512 acc = b ? _mm512_maskz_loadu_ps(m, b + c) : _mm512_setzero_ps();
        for (int k = 0; k < n; ++k)
            acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, tw[k] + c), _mm512_maskz_loadu_ps(m, src[k] + c), acc);
        _mm512_mask_storeu_ps(y + c, m, acc);
    }
}

void depthwise3_row_gelu(const float * const rows[3], const float * w, float bias, float * o, int64_t W) {
    // Pixel p reads p - 1, p, p + 1; the first and last pixels skip the out-of-image column, so they
    // run with zero-padded loads (a zero tap adds fma(w, 0, acc) = acc exactly).
    __m512 wv[9];
    for (int k = 0; k < 9; ++k) wv[k] = _mm512_set1_ps(w[k]);
    const __m512 vb = _mm512_set1_ps(bias);
    for (int64_t p = 0; p < W; p += 16) {
        const int64_t n = W - p >= 16 ? 16 : W - p;
        const __mmask16 m = n == 16 ? (__mmask16) 0xFFFF : tail_mask(n);
        // left neighbours: pixels p-1 .. p+n-2 (lane 0 of the first block is outside the image)
        const __mmask16 ml = p == 0 ? (__mmask16) (m & 0xFFFE) : m;
        // right neighbours: pixels p+1 .. p+n (the last pixel's lane is outside the image)
        const __mmask16 mr = p + n == W ? (__mmask16) (m >> 1) : m;
        __m512 acc = vb;
        for (int i = 0; i < 3; ++i) {
            if (!rows[i]) continue;
            const float * s = rows[i] + p;
            const __m512 left = p == 0 ? _mm512_maskz_expandloadu_ps(ml, s) : _mm512_maskz_loadu_ps(ml, s - 1);
            acc = _mm512_fmadd_ps(wv[3 * i], left, acc);
            acc = _mm512_fmadd_ps(wv[3 * i + 1], _mm512_maskz_loadu_ps(m, s), acc);
            acc = _mm512_fmadd_ps(wv[3 * i + 2], _mm512_maskz_loadu_ps(mr, s + 1), acc);
        }
        _mm512_mask_storeu_ps(o + p, m, gelu512(acc));
    }
}

}  // namespace sa::cpu::avx512
