// SPDX-License-Identifier: Apache-2.0
// Batched transpose of the last two dims: x[B, R, C] -> y[B, C, R] (NCHW <-> NHWC), cache-blocked
// with an 8x8 AVX2 register transpose for full tiles.
#include <algorithm>

#include "cpu/backend-cpu.h"
#include "sa/threadpool.h"

#ifdef __AVX2__
#include <immintrin.h>
#endif

namespace sa {

namespace {

constexpr int64_t kTile = 64;

#ifdef __AVX2__
// y[c*ldy + r] = x[r*ldx + c] for an 8x8 block.
inline void transpose8x8(const float * x, int64_t ldx, float * y, int64_t ldy) {
    __m256 r0 = _mm256_loadu_ps(x + 0 * ldx), r1 = _mm256_loadu_ps(x + 1 * ldx);
    __m256 r2 = _mm256_loadu_ps(x + 2 * ldx), r3 = _mm256_loadu_ps(x + 3 * ldx);
    __m256 r4 = _mm256_loadu_ps(x + 4 * ldx), r5 = _mm256_loadu_ps(x + 5 * ldx);
    __m256 r6 = _mm256_loadu_ps(x + 6 * ldx), r7 = _mm256_loadu_ps(x + 7 * ldx);
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
    __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
    __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    _mm256_storeu_ps(y + 0 * ldy, _mm256_permute2f128_ps(s0, s4, 0x20));
    _mm256_storeu_ps(y + 1 * ldy, _mm256_permute2f128_ps(s1, s5, 0x20));
    _mm256_storeu_ps(y + 2 * ldy, _mm256_permute2f128_ps(s2, s6, 0x20));
    _mm256_storeu_ps(y + 3 * ldy, _mm256_permute2f128_ps(s3, s7, 0x20));
    _mm256_storeu_ps(y + 4 * ldy, _mm256_permute2f128_ps(s0, s4, 0x31));
    _mm256_storeu_ps(y + 5 * ldy, _mm256_permute2f128_ps(s1, s5, 0x31));
    _mm256_storeu_ps(y + 6 * ldy, _mm256_permute2f128_ps(s2, s6, 0x31));
    _mm256_storeu_ps(y + 7 * ldy, _mm256_permute2f128_ps(s3, s7, 0x31));
}
#endif

// One kTile x kTile (or smaller) tile: rows [r0, r1), cols [c0, c1) of a single [R, C] matrix.
void transpose_tile(const float * x, float * y, int64_t R, int64_t C, int64_t r0, int64_t r1, int64_t c0,
                    int64_t c1) {
    int64_t r = r0;
#ifdef __AVX2__
    for (; r + 8 <= r1; r += 8) {
        int64_t c = c0;
        for (; c + 8 <= c1; c += 8) transpose8x8(x + r * C + c, C, y + c * R + r, R);
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
    default_pool().parallel_for(B * tr * tc, [&](int64_t t0, int64_t t1) {
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
