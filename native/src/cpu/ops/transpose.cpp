// SPDX-License-Identifier: Apache-2.0
// Batched transpose of the last two dims: x[B, R, C] -> y[B, C, R] (NCHW <-> NHWC), cache-blocked
// with an 8x8 AVX2 register transpose for full tiles.
#include <algorithm>

#include "cpu/backend-cpu.h"
#include "cpu/simd.h"
#include "sa/threadpool.h"

#ifdef __AVX2__
#include <immintrin.h>
#endif

namespace sa {

namespace {

constexpr int64_t kTile = 64;

// One kTile x kTile (or smaller) tile: rows [r0, r1), cols [c0, c1) of a single [R, C] matrix.
void transpose_tile(const float * x, float * y, int64_t R, int64_t C, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
    int64_t r = r0;
#ifdef __AVX2__
    for (; r + 8 <= r1; r += 8) {
        int64_t c = c0;
        for (; c + 8 <= c1; c += 8) cpu::transpose8x8(x + r * C + c, C, y + c * R + r, R);
        for (; c < c1; ++c)
            for (int64_t i = 0; i < 8; ++i) y[c * R + r + i] = x[(r + i) * C + c];
    }
#endif
    for (; r < r1; ++r)
        for (int64_t c = c0; c < c1; ++c) y[c * R + r] = x[r * C + c];
}

}  // namespace

void CpuBackend::transpose_last2(const float * x, float * y, int64_t B, int64_t R, int64_t C) {
    SA_CHECK_ARG(B >= 0 && R >= 0 && C >= 0, "transpose_last2: negative size");
    if (B == 0 || R == 0 || C == 0) return;
    SA_CHECK_ARG(x && y, "transpose_last2: null pointer");
    SA_CHECK_ARG(x != y, "transpose_last2: in-place transpose is not supported");
    const int64_t tr = (R + kTile - 1) / kTile, tc = (C + kTile - 1) / kTile;
    pool()->parallel_for(B * tr * tc, [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
            const int64_t b = t / (tr * tc);
            const int64_t i = (t / tc) % tr, j = t % tc;
            const int64_t r0 = i * kTile, c0 = j * kTile;
            transpose_tile(x + b * R * C, y + b * R * C, R, C, r0, std::min(R, r0 + kTile), c0,
                           std::min(C, c0 + kTile));
        }
    });
}

}  // namespace sa
