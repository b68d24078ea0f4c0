// SPDX-License-Identifier: Apache-2.0
// Small vector-math helpers shared by the CPU ops: AVX2 exp, the erf-based GELU and its derivative,
// horizontal reductions. Every function has a scalar counterpart so results stay within a few ulp
// of each other whether or not AVX2 is available.
#pragma once

#include <cmath>
#include <cstdint>

#include "cpu/transpose8x8.h"
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

// vmath::gelu on one float: the same IEEE operations in the same order, so the same bits as a lane.
inline float gelu_scalar(float x) {
    const float c = x < -vmath::kGeluClamp ? -vmath::kGeluClamp : (x > vmath::kGeluClamp ? vmath::kGeluClamp : x);
    const float s = c * c;
    float p = vmath::kGeluP[5], q = vmath::kGeluQ[5];
    for (int i = 4; i >= 0; --i) {
        p = std::fma(p, s, vmath::kGeluP[i]);
        q = std::fma(q, s, vmath::kGeluQ[i]);
    }
    const float r = c * (p / q);
    const float e = r > 1.0f ? 1.0f : (r < -1.0f ? -1.0f : r);
    const float h = 0.5f * x;
    return std::fma(h, e, h);
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

#endif  // __AVX2__

}  // namespace sa::cpu
