// SPDX-License-Identifier: Apache-2.0
// Row softmax kernels shared by the CPU attention and softmax ops: AVX2 over the row with a scalar
// tail (the lane split depends only on the row length).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "cpu/kernels-avx512.h"
#include "cpu/simd.h"

namespace sa::cpu {

// y[0:n] = softmax(x[0:n]) (y may alias x).
inline void softmax_row(const float * x, float * y, int64_t n) {
#if defined(SA_HAVE_AVX512)
    if (use_avx512()) return avx512::softmax_row(x, y, n);
#endif
    int64_t j = 0;
    float mx = -INFINITY, sum = 0.0f;
#ifdef __AVX2__
    if (n >= 8) {
        __m256 vm = _mm256_loadu_ps(x);
        for (j = 8; j + 8 <= n; j += 8) vm = _mm256_max_ps(vm, _mm256_loadu_ps(x + j));
        mx = hmax256(vm);
    }
#endif
    for (; j < n; ++j) mx = std::max(mx, x[j]);
    j = 0;
#ifdef __AVX2__
    const __m256 vmx = _mm256_set1_ps(mx);
    __m256 acc = _mm256_setzero_ps();
    for (; j + 8 <= n; j += 8) {
        const __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + j), vmx));
        _mm256_storeu_ps(y + j, e);
        acc = _mm256_add_ps(acc, e);
    }
    sum = hsum256(acc);
#endif
    for (; j < n; ++j) {
        y[j] = std::exp(x[j] - mx);
        sum += y[j];
    }
    const float inv = 1.0f / sum;
    j = 0;
#ifdef __AVX2__
    const __m256 vinv = _mm256_set1_ps(inv);
    for (; j + 8 <= n; j += 8) _mm256_storeu_ps(y + j, _mm256_mul_ps(_mm256_loadu_ps(y + j), vinv));
#endif
    for (; j < n; ++j) y[j] *= inv;
}

// dx[0:n] = y (dy - sum(dy y)) scale (dx may alias dy).
inline void softmax_backward_row(const float * y, const float * dy, float * dx, int64_t n, float scale) {
#if defined(SA_HAVE_AVX512)
    if (use_avx512()) return avx512::softmax_backward_row(y, dy, dx, n, scale);
#endif
    int64_t j = 0;
    float rs = 0.0f;
#ifdef __AVX2__
    __m256 acc = _mm256_setzero_ps();
    for (; j + 8 <= n; j += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(dy + j), _mm256_loadu_ps(y + j), acc);
    rs = hsum256(acc);
#endif
    for (; j < n; ++j) rs += dy[j] * y[j];
    j = 0;
#ifdef __AVX2__
    const __m256 vrs = _mm256_set1_ps(rs), vs = _mm256_set1_ps(scale);
    for (; j + 8 <= n; j += 8) {
        const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(y + j), _mm256_sub_ps(_mm256_loadu_ps(dy + j), vrs));
        _mm256_storeu_ps(dx + j, _mm256_mul_ps(v, vs));
    }
#endif
    for (; j < n; ++j) dx[j] = y[j] * (dy[j] - rs) * scale;
}

}  // namespace sa::cpu
