// SPDX-License-Identifier: Apache-2.0
// Rounding fp32 operands to bf16 pairs for the bf16 GEMM packing routines (included only by files of
// levels avx512bf16 and above; internal linkage, like isa/simd-avx512.h). A pair word holds two
// consecutive k of one row or column, low half first (the operand layout of VDPBF16PS and of AMX's
// TDPBF16PS); rounding to nearest even (VCVTNE2PS2BF16).
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "cpu/isa/transpose16x16.h"

namespace sa::cpu::bf16 {
namespace {

// Lanes [0, n) of 16 (n clamped to [0, 16]).
inline __mmask16 first_lanes(int64_t n) {
    return n >= 16 ? (__mmask16) 0xFFFF : n <= 0 ? (__mmask16) 0 : (__mmask16) ((1u << n) - 1u);
}

// 16 words (lo[i], hi[i]) as bf16 pairs, low half first.
inline __m512i pair_words(__m512 lo, __m512 hi) {
    const __m512i v = (__m512i) _mm512_cvtne2ps_pbh(hi, lo);  // bf16 [lo 0..15 | hi 0..15]
    const __m512i idx = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6, 21,
                                         5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    return _mm512_permutexvar_epi16(idx, v);
}

// The 16 words (x[k * ld + i], x[(k + 1) * ld + i]) for lanes i in m: two rows of a k-major operand
// interleaved, rows at or past kc zero.
inline __m512i row_pair_words(const float * x, int64_t ld, int64_t k, int64_t kc, __mmask16 m) {
    const __m512 lo = k < kc ? _mm512_maskz_loadu_ps(m, x + k * ld) : _mm512_setzero_ps();
    const __m512 hi = k + 1 < kc ? _mm512_maskz_loadu_ps(m, x + (k + 1) * ld) : _mm512_setzero_ps();
    return pair_words(lo, hi);
}

// The 16 words of 32 consecutive k of one row (k past n zero): pairs (x[2p], x[2p + 1]).
inline __m512i row_words(const float * x, int64_t n) {
    const __m512 lo = _mm512_maskz_loadu_ps(first_lanes(n), x);
    const __m512 hi = _mm512_maskz_loadu_ps(first_lanes(n - 16), x + 16);
    return (__m512i) _mm512_cvtne2ps_pbh(hi, lo);
}

// Words 16 x 16 transposed in place.
inline void transpose_words(__m512i w[16]) {
    __m512 r[16];
    for (int i = 0; i < 16; ++i) r[i] = _mm512_castsi512_ps(w[i]);
    transpose16x16(r);
    for (int i = 0; i < 16; ++i) w[i] = _mm512_castps_si512(r[i]);
}

}  // namespace
}  // namespace sa::cpu::bf16
