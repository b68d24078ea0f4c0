// SPDX-License-Identifier: Apache-2.0
// Row helpers shared by the CPU TinyViT fused blocks: bias + GELU over a row, the im2col of one
// output row of a 3x3 stride-2 convolution with padding 1, and the ring of intermediate rows that a
// 3x3 convolution reads.
#pragma once

#include <algorithm>
#include <cstdint>

#include "cpu/kernels-avx512.h"
#include "cpu/lanes.h"

namespace sa::cpu {

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
