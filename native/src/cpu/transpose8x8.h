// SPDX-License-Identifier: Apache-2.0
// The 8 x 8 float transpose (AVX), in registers and between memory blocks. For the baseline code (through
// cpu/simd.h) and the AVX-512 GEMM packing (isa/gemm-avx512.cpp) alike; internal linkage, so an
// AVX-512 file's copy never stands in for the baseline one.
#pragma once

#ifdef __AVX__
#include <immintrin.h>

#include <cstdint>

namespace sa::cpu {
namespace {

// The 8 x 8 transpose in registers: r[i] holds row i on entry and column i on return.
inline void transpose8_regs(__m256 r[8]) {
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    const __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    const __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
    r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
    r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
    r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
    r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
    r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
    r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
    r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

// y[c * ldy + r] = x[r * ldx + c] for an 8 x 8 block.
inline void transpose8x8(const float * x, int64_t ldx, float * y, int64_t ldy) {
    __m256 r[8];
    for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(x + i * ldx);
    transpose8_regs(r);
    for (int i = 0; i < 8; ++i) _mm256_storeu_ps(y + i * ldy, r[i]);
}

}  // namespace
}  // namespace sa::cpu

#endif  // __AVX__
