// SPDX-License-Identifier: Apache-2.0
// Row helpers shared by the CPU TinyViT fused blocks: bias + GELU over a row, and the im2col of one
// output row of a 3x3 stride-2 convolution with padding 1.
#pragma once

#include <algorithm>
#include <cstdint>

#include "cpu/kernels-avx512.h"
#include "cpu/simd.h"

namespace sa::cpu {

// v[i] = GELU(v[i] + bias) for i < n.
inline void bias_gelu(float * v, float bias, int64_t n) {
#if defined(SA_HAVE_AVX512)
    if (use_avx512()) return avx512::bias_gelu(v, bias, n);
#endif
    int64_t i = 0;
#ifdef __AVX2__
    const __m256 vb = _mm256_set1_ps(bias);
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(v + i, gelu256(_mm256_add_ps(_mm256_loadu_ps(v + i), vb)));
#endif
    for (; i < n; ++i) v[i] = gelu_scalar(v[i] + bias);
}

// v[i] = GELU(v[i] + bias + r[i]) for i < n (residual).
inline void bias_residual_gelu(float * v, float bias, const float * r, int64_t n) {
#if defined(SA_HAVE_AVX512)
    if (use_avx512()) return avx512::bias_residual_gelu(v, bias, r, n);
#endif
    int64_t i = 0;
#ifdef __AVX2__
    const __m256 vb = _mm256_set1_ps(bias);
    for (; i + 8 <= n; i += 8) {
        const __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_loadu_ps(v + i), vb), _mm256_loadu_ps(r + i));
        _mm256_storeu_ps(v + i, gelu256(s));
    }
#endif
    for (; i < n; ++i) v[i] = gelu_scalar(v[i] + bias + r[i]);
}

// Columns of one output row of a 3x3, stride-2, padding-1 convolution: rows[i] (i = 0..2) is input
// row 2*oy - 1 + i as C channels of `ld`-strided rows of width Win (nullptr: outside the image).
// col[(c * 3 + i) * 3 + j][ox] = input[c][2*oy - 1 + i][2*ox - 1 + j] (0 outside), ox < Wout.
inline void im2col_row_s2(const float * const rows[3], int64_t ld, int64_t C, int64_t Win, int64_t Wout, float * col) {
    for (int64_t c = 0; c < C; ++c) {
        for (int64_t i = 0; i < 3; ++i) {
            const float * src = rows[i] ? rows[i] + c * ld : nullptr;
            for (int64_t j = 0; j < 3; ++j) {
                float * d = col + ((c * 3 + i) * 3 + j) * Wout;
                if (!src) {
                    std::fill(d, d + Wout, 0.0f);
                    continue;
                }
                // input column 2*ox - 1 + j must lie in [0, Win)
                const int64_t lo = j == 0 ? 1 : 0;
                const int64_t hi = Win - j < 0 ? 0 : std::min(Wout, (Win - j) / 2 + 1);
                for (int64_t ox = 0; ox < lo; ++ox) d[ox] = 0.0f;
                for (int64_t ox = lo; ox < hi; ++ox) d[ox] = src[2 * ox - 1 + j];
                for (int64_t ox = std::max(lo, hi); ox < Wout; ++ox) d[ox] = 0.0f;
            }
        }
    }
}

}  // namespace sa::cpu
