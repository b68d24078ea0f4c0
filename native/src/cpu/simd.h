// SPDX-License-Identifier: Apache-2.0
// Small vector-math helpers shared by the CPU ops: AVX2 exp, the erf-based GELU and its derivative,
// horizontal reductions. Every function has a scalar counterpart so results stay within a few ulp
// of each other whether or not AVX2 is available.
#pragma once

#include <cmath>
#include <cstdint>

#include "cpu/vec-math.h"

#ifdef __AVX2__
#include <immintrin.h>
#endif

namespace sa::cpu {

constexpr float kSqrt1_2 = 0.70710678118654752440f;
constexpr float kInvSqrt2Pi = 0.39894228040143267794f;

// erfc(a) for a >= 0 with relative error below ~1.2e-7 (Chebyshev fit, Numerical Recipes "erfcc").
inline float erfc_pos(float a) {
    const float t = 1.0f / (1.0f + 0.5f * a);
    const float p =
        -1.26551223f +
        t * (1.00002368f +
             t * (0.37409196f +
                  t * (0.09678418f +
                       t * (-0.18628806f +
                            t * (0.27886807f +
                                 t * (-1.13520398f + t * (1.48851587f + t * (-0.82215223f + t * 0.17087277f))))))));
    return t * std::exp(-a * a + p);
}

// Phi(x) = 0.5 * (1 + erf(x / sqrt 2)), evaluated without cancellation in either tail.
inline float normal_cdf(float x) {
    const float e = erfc_pos(std::fabs(x) * kSqrt1_2);
    return x >= 0.0f ? 1.0f - 0.5f * e : 0.5f * e;
}

inline float gelu_scalar(float x) {
    return x * normal_cdf(x);
}

// d/dx [x Phi(x)] = Phi(x) + x phi(x)
inline float gelu_grad_scalar(float x) {
    return normal_cdf(x) + x * kInvSqrt2Pi * std::exp(-0.5f * x * x);
}

#ifdef __AVX2__

// exp(x) for float lanes (Cephes-style range reduction + degree-6 polynomial, ~1 ulp). Inputs below
// about -87.3 flush to 0, inputs above 88.37 saturate, NaN stays NaN (max/min return their second
// operand when one is NaN).
SA_VMATH_LANES(Avx2Lanes, __m256, _mm256_, 256, _mm256_floor_ps(a), _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a),
               _mm256_blendv_ps(pos, neg, _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ)));

inline __m256 exp256(__m256 x) {
    return vmath::exp<Avx2Lanes>(x);
}

inline __m256 erfc_pos256(__m256 a) {
    return vmath::erfc_pos<Avx2Lanes>(a);
}

inline __m256 normal_cdf256(__m256 x) {
    return vmath::normal_cdf<Avx2Lanes>(x);
}

inline __m256 gelu256(__m256 x) {
    return vmath::gelu<Avx2Lanes>(x);
}

inline __m256 gelu_grad256(__m256 x) {
    return vmath::gelu_grad<Avx2Lanes>(x);
}

inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

inline float hmax256(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

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

#endif  // __AVX2__

}  // namespace sa::cpu
