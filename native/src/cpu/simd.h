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

constexpr float kInvSqrt2Pi = 0.39894228040143267794f;

// vmath::gelu_erf on one float: the same IEEE operations in the same order, so the same bits as a lane.
inline float gelu_erf_scalar(float x) {
    const float c = x < -vmath::kGeluClamp ? -vmath::kGeluClamp : (x > vmath::kGeluClamp ? vmath::kGeluClamp : x);
    const float s = c * c;
    float p = vmath::kGeluP[5], q = vmath::kGeluQ[5];
    for (int i = 4; i >= 0; --i) {
        p = std::fma(p, s, vmath::kGeluP[i]);
        q = std::fma(q, s, vmath::kGeluQ[i]);
    }
    const float r = c * (p / q);
    return r > 1.0f ? 1.0f : (r < -1.0f ? -1.0f : r);
}

// vmath::gelu on one float (the same bits as a lane).
inline float gelu_scalar(float x) {
    const float h = 0.5f * x;
    return std::fma(h, gelu_erf_scalar(x), h);
}

// d/dx [x Phi(x)] = Phi(x) + x phi(x) from e = gelu_erf_scalar(x), as vmath::gelu_grad_from_erf (exp
// from the C library: within an ulp of the lanes' exp).
inline float gelu_grad_scalar_from_erf(float x, float e) {
    return std::fma(x, kInvSqrt2Pi * std::exp(-0.5f * (x * x)), std::fma(0.5f, e, 0.5f));
}

inline float gelu_grad_scalar(float x) {
    return gelu_grad_scalar_from_erf(x, gelu_erf_scalar(x));
}

#ifdef __AVX2__

// exp(x) for float lanes (Cephes-style range reduction + degree-6 polynomial, ~1 ulp). Inputs below
// about -87.3 flush to 0, inputs above 88.37 saturate, NaN stays NaN (max/min return their second
// operand when one is NaN).
SA_VMATH_LANES(Avx2Lanes, __m256, _mm256_, 256, _mm256_floor_ps(a));

inline __m256 exp256(__m256 x) {
    return vmath::exp<Avx2Lanes>(x);
}

inline __m256 gelu256(__m256 x) {
    return vmath::gelu<Avx2Lanes>(x);
}

inline __m256 gelu_grad256(__m256 x) {
    return vmath::gelu_grad<Avx2Lanes>(x);
}

inline __m256 gelu_erf256(__m256 x) {
    return vmath::gelu_erf<Avx2Lanes>(x);
}

inline __m256 gelu_from_erf256(__m256 x, __m256 e) {
    return vmath::gelu_from_erf<Avx2Lanes>(x, e);
}

inline __m256 gelu_grad_from_erf256(__m256 x, __m256 e) {
    return vmath::gelu_grad_from_erf<Avx2Lanes>(x, e);
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
