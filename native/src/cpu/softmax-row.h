// SPDX-License-Identifier: Apache-2.0
// Row softmax kernels shared by the CPU attention and softmax ops: AVX2 over the row, the last partial
// vector masked (the lane split depends only on the row length); AVX-512 in isa/softmax-avx512.cpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "cpu/kernels-avx512.h"
#include "cpu/simd.h"
#include "cpu/transpose8x8.h"

namespace sa::cpu {

#ifdef __AVX2__
// Lanes [0, r) set, r in [0, 8]: the mask of a row's last, partial vector.
inline __m256i lanes_below(int64_t r) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int) r), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
#endif

// y[0:n] = softmax(x[0:n]) (y may alias x). The AVX2 path handles a row's tail with masked loads and
// stores, so a short row (the decoder's 17 tokens, TinyViT's 49-pixel windows) runs no scalar exp.
inline void softmax_row(const float * x, float * y, int64_t n) {
#if defined(SA_HAVE_AVX512)
    if (use_avx512()) return avx512::softmax_row(x, y, n);
#endif
#ifdef __AVX2__
    const int64_t whole = n / 8 * 8, rest = n - whole;
    const __m256i tail = lanes_below(rest);
    const __m256 ninf = _mm256_set1_ps(-INFINITY);
    __m256 vm = ninf;
    for (int64_t j = 0; j < whole; j += 8) vm = _mm256_max_ps(vm, _mm256_loadu_ps(x + j));
    __m256 xt = ninf;
    if (rest) {
        xt = _mm256_blendv_ps(ninf, _mm256_maskload_ps(x + whole, tail), _mm256_castsi256_ps(tail));
        vm = _mm256_max_ps(vm, xt);
    }
    const __m256 vmx = _mm256_set1_ps(hmax256(vm));
    __m256 acc = _mm256_setzero_ps();
    for (int64_t j = 0; j < whole; j += 8) {
        const __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + j), vmx));
        _mm256_storeu_ps(y + j, e);
        acc = _mm256_add_ps(acc, e);
    }
    __m256 et = _mm256_setzero_ps();
    if (rest) {  // masked lanes hold -inf - max: exp gives 0
        et = exp256(_mm256_sub_ps(xt, vmx));
        et = _mm256_and_ps(et, _mm256_castsi256_ps(tail));
        acc = _mm256_add_ps(acc, et);
    }
    const __m256 vinv = _mm256_set1_ps(1.0f / hsum256(acc));
    for (int64_t j = 0; j < whole; j += 8) _mm256_storeu_ps(y + j, _mm256_mul_ps(_mm256_loadu_ps(y + j), vinv));
    if (rest) _mm256_maskstore_ps(y + whole, tail, _mm256_mul_ps(et, vinv));
#else
    float mx = -INFINITY, sum = 0.0f;
    for (int64_t j = 0; j < n; ++j) mx = std::max(mx, x[j]);
    for (int64_t j = 0; j < n; ++j) {
        y[j] = std::exp(x[j] - mx);
        sum += y[j];
    }
    const float inv = 1.0f / sum;
    for (int64_t j = 0; j < n; ++j) y[j] *= inv;
#endif
}

// dx[0:n] = y (dy - sum(dy y)) scale (dx may alias dy).
inline void softmax_backward_row(const float * y, const float * dy, float * dx, int64_t n, float scale) {
#if defined(SA_HAVE_AVX512)
    if (use_avx512()) return avx512::softmax_backward_row(y, dy, dx, n, scale);
#endif
#ifdef __AVX2__
    const int64_t whole = n / 8 * 8, rest = n - whole;
    const __m256i tail = lanes_below(rest);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t j = 0; j < whole; j += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(dy + j), _mm256_loadu_ps(y + j), acc);
    __m256 yt = _mm256_setzero_ps(), dyt = _mm256_setzero_ps();
    if (rest) {  // masked loads read zeros past the row
        yt = _mm256_maskload_ps(y + whole, tail);
        dyt = _mm256_maskload_ps(dy + whole, tail);
        acc = _mm256_fmadd_ps(dyt, yt, acc);
    }
    const __m256 vrs = _mm256_set1_ps(hsum256(acc)), vs = _mm256_set1_ps(scale);
    for (int64_t j = 0; j < whole; j += 8) {
        const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(y + j), _mm256_sub_ps(_mm256_loadu_ps(dy + j), vrs));
        _mm256_storeu_ps(dx + j, _mm256_mul_ps(v, vs));
    }
    if (rest) _mm256_maskstore_ps(dx + whole, tail, _mm256_mul_ps(_mm256_mul_ps(yt, _mm256_sub_ps(dyt, vrs)), vs));
#else
    float rs = 0.0f;
    for (int64_t j = 0; j < n; ++j) rs += dy[j] * y[j];
    for (int64_t j = 0; j < n; ++j) dx[j] = y[j] * (dy[j] - rs) * scale;
#endif
}

#ifdef __AVX2__
// Short rows (n < kShortRow, e.g. the decoder's image-to-token attention over 17 tokens) eight at a
// time with one row per lane: the reductions run down the columns, so a row costs no horizontal
// reduction and the exps fill every lane. Rows [0, 8) at stride n; t holds them transposed.
constexpr int64_t kShortRow = 32;

inline void gather_rows8(const float * x, int64_t n, float * t) {
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) transpose8x8(x + j, n, t + j * 8, 8);
    for (; j < n; ++j)
        for (int64_t r = 0; r < 8; ++r) t[j * 8 + r] = x[r * n + j];
}

inline void scatter_rows8(const float * t, int64_t n, float * y) {
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) transpose8x8(t + j * 8, 8, y + j, n);
    for (; j < n; ++j)
        for (int64_t r = 0; r < 8; ++r) y[r * n + j] = t[j * 8 + r];
}

// y = softmax of each of the 8 rows x[r n, (r + 1) n), 0 < n < kShortRow (y may alias x).
inline void softmax_rows8_short(const float * x, float * y, int64_t n) {
    alignas(32) float t[kShortRow * 8];
    gather_rows8(x, n, t);
    __m256 mx = _mm256_load_ps(t);
    for (int64_t j = 1; j < n; ++j) mx = _mm256_max_ps(mx, _mm256_load_ps(t + j * 8));
    __m256 sum = _mm256_setzero_ps();
    for (int64_t j = 0; j < n; ++j) {
        const __m256 e = exp256(_mm256_sub_ps(_mm256_load_ps(t + j * 8), mx));
        _mm256_store_ps(t + j * 8, e);
        sum = _mm256_add_ps(sum, e);
    }
    const __m256 inv = _mm256_div_ps(_mm256_set1_ps(1.0f), sum);
    for (int64_t j = 0; j < n; ++j) _mm256_store_ps(t + j * 8, _mm256_mul_ps(_mm256_load_ps(t + j * 8), inv));
    scatter_rows8(t, n, y);
}

// dx = y (dy - sum(dy y)) scale for 8 rows of n < kShortRow (dx may alias dy).
inline void softmax_backward_rows8_short(const float * y, const float * dy, float * dx, int64_t n, float scale) {
    alignas(32) float ty[kShortRow * 8], td[kShortRow * 8];
    gather_rows8(y, n, ty);
    gather_rows8(dy, n, td);
    __m256 rs = _mm256_setzero_ps();
    for (int64_t j = 0; j < n; ++j) rs = _mm256_fmadd_ps(_mm256_load_ps(td + j * 8), _mm256_load_ps(ty + j * 8), rs);
    const __m256 vs = _mm256_set1_ps(scale);
    for (int64_t j = 0; j < n; ++j) {
        const __m256 v = _mm256_mul_ps(_mm256_load_ps(ty + j * 8), _mm256_sub_ps(_mm256_load_ps(td + j * 8), rs));
        _mm256_store_ps(td + j * 8, _mm256_mul_ps(v, vs));
    }
    scatter_rows8(td, n, dx);
}
#endif

}  // namespace sa::cpu
