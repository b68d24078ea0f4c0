// SPDX-License-Identifier: Apache-2.0
// Row helpers shared by the CPU TinyViT fused blocks: GELU (+ bias) over a row, one channels-last
// depthwise output pixel, the im2col of one output row of a 3x3 stride-2 convolution with padding 1,
// and the ring of intermediate rows that a 3x3 convolution reads.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "cpu/kernels-avx512.h"
#include "cpu/lanes.h"
#include "cpu/simd.h"

namespace sa::cpu {

// v[i] = GELU(v[i]) for i < n (Backend::gelu's kernels, so its bits at the level in use).
inline void gelu_row(float * v, int64_t n) {
#if defined(SA_HAVE_AVX512)
    if (use_avx512()) return avx512::gelu(v, v, n);
#endif
    for_lanes(0, n, [&](auto L, int64_t i) { L.store(v + i, L.gelu(L.load(v + i))); });
}

// A 3x3 depthwise convolution's weights w [C, 1, 3, 3] as taps [9][C], so that a tap's weights for
// consecutive channels are contiguous.
inline std::vector<float> depthwise_tap_weights(const float * w, int64_t C) {
    std::vector<float> taps((size_t) (9 * C));
    for (int64_t c = 0; c < C; ++c)
        for (int64_t k = 0; k < 9; ++k) taps[(size_t) (k * C + c)] = w[c * 9 + k];
    return taps;
}

// The in-image taps of one output pixel of a 3x3 depthwise convolution with padding 1 on channels-last
// rows: rows[i] is the input row above, at or below ([W, C] floats, null outside the image), ix0 the
// input column of the pixel's left taps (stride * ox - 1), wt the taps' weights [9][C]. Writes the
// taps' inputs and weights in row-major tap order; returns how many.
inline int depthwise_taps(const float * const rows[3], int64_t W, int64_t C, int64_t ix0, const float * wt,
                          const float * src[9], const float * tw[9]) {
    int n = 0;
    for (int64_t i = 0; i < 3; ++i) {
        if (!rows[i]) continue;
        for (int64_t j = 0; j < 3; ++j) {
            const int64_t ix = ix0 + j;
            if (ix < 0 || ix >= W) continue;
            src[n] = rows[i] + ix * C;
            tw[n] = wt + (i * 3 + j) * C;
            ++n;
        }
    }
    return n;
}

// One channels-last depthwise output pixel: y[c] = b[c] + sum_k tw[k][c] src[k][c] over its n in-image
// taps (b may be null), C lanes of fused multiply-adds in tap order.
inline void depthwise_pixel(const float * const * src, const float * const * tw, int n, const float * b, float * y,
                            int64_t C) {
#if defined(SA_HAVE_AVX512)
    if (use_avx512()) return avx512::depthwise_pixel_nhwc(src, tw, n, b, y, C);
#endif
    int64_t c = 0;
#ifdef __AVX2__
    for (; c + 8 <= C; c += 8) {
        __m256 acc = b ? _mm256_loadu_ps(b + c) : _mm256_setzero_ps();
        for (int k = 0; k < n; ++k) acc = _mm256_fmadd_ps(_mm256_loadu_ps(tw[k] + c), _mm256_loadu_ps(src[k] + c), acc);
        _mm256_storeu_ps(y + c, acc);
    }
#endif
    for (; c < C; ++c) {
        float acc = b ? b[c] : 0.0f;
        for (int k = 0; k < n; ++k) acc = std::fma(tw[k][c], src[k][c], acc);
        y[c] = acc;
    }
}

// v[i] = GELU(v[i] + bias) for i < n.
inline void bias_gelu(float * v, float bias, int64_t n) {
#if defined(SA_HAVE_AVX512)
    if (use_avx512()) return avx512::bias_gelu(v, bias, n);
#endif
    for_lanes(0, n, [&](auto L, int64_t i) { L.store(v + i, L.gelu(L.add(L.load(v + i), L.set1(bias)))); });
}

// v[i] = GELU(v[i] + bias + r[i]) for i < n (residual).
inline void bias_residual_gelu(float * v, float bias, const float * r, int64_t n) {
#if defined(SA_HAVE_AVX512)
    if (use_avx512()) return avx512::bias_residual_gelu(v, bias, r, n);
#endif
    for_lanes(0, n, [&](auto L, int64_t i) {
        L.store(v + i, L.gelu(L.add(L.add(L.load(v + i), L.set1(bias)), L.load(r + i))));
    });
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

// The rows of an intermediate activation that a 3x3 convolution reads (rows r - 1, r, r + 1 for
// output row r), each computed once per image: row(b, k) returns row k of image b, filled by
// fill(b, k, dst) on first use into slot k % 3 of `slots` (three rows of `row_size` floats; three
// consecutive rows never share a slot). Moving to another image starts afresh.
template <class Fill>
class RowRing {
  public:
    RowRing(float * slots, int64_t row_size, Fill fill) : slots_(slots), row_size_(row_size), fill_(fill) {}

    const float * row(int64_t b, int64_t k) {
        if (b != image_) {
            rows_[0] = rows_[1] = rows_[2] = -1;
            image_ = b;
        }
        const int64_t slot = k % 3;
        float * h = slots_ + slot * row_size_;
        if (rows_[slot] != k) {
            fill_(b, k, h);
            rows_[slot] = k;
        }
        return h;
    }

  private:
    float * slots_;
    int64_t row_size_;
    Fill fill_;
    int64_t rows_[3] = {-1, -1, -1};
    int64_t image_ = -1;
};

}  // namespace sa::cpu
