// SPDX-License-Identifier: Apache-2.0
// The 16 x 16 in-register transpose of 32-bit lanes used by the AVX-512 packing routines (included only
// by files of levels avx512 and above; internal linkage, like isa/simd-avx512.h).
#pragma once

// GCC 12 reports the intrinsics' own _mm512_undefined_ps() as "may be used uninitialized".
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <immintrin.h>

namespace sa::cpu {
namespace {

// Transposes the 16 x 16 block held in r[0..15] (r[i] = row i): afterwards r[j] = column j. Three
// rounds of in-register shuffles: float pairs, float quadruples within 128-bit lanes, then the lanes.
inline void transpose16x16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    // u[i + m], lane L: column 4L + m of rows i..i+3.
    __m512 u[16];
    for (int i = 0; i < 16; i += 4) {
        const __m512d t0 = _mm512_castps_pd(t[i]), t1 = _mm512_castps_pd(t[i + 1]);
        const __m512d t2 = _mm512_castps_pd(t[i + 2]), t3 = _mm512_castps_pd(t[i + 3]);
        u[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
        u[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
        u[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
        u[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
    }
    for (int m = 0; m < 4; ++m) {
        const __m512 s0 = _mm512_shuffle_f32x4(u[m], u[4 + m], 0x44), s1 = _mm512_shuffle_f32x4(u[m], u[4 + m], 0xEE);
        const __m512 s2 = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], 0x44);
        const __m512 s3 = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], 0xEE);
        r[m] = _mm512_shuffle_f32x4(s0, s2, 0x88);
        r[4 + m] = _mm512_shuffle_f32x4(s0, s2, 0xDD);
        r[8 + m] = _mm512_shuffle_f32x4(s1, s3, 0x88);
        r[12 + m] = _mm512_shuffle_f32x4(s1, s3, 0xDD);
    }
}

}  // namespace
}  // namespace sa::cpu
