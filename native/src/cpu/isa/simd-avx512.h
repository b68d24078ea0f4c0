// SPDX-License-Identifier: Apache-2.0
// Vector math for the AVX-512 kernels under src/cpu/isa/ (included only by the files of levels avx512
// and above). Every
// helper has internal linkage (anonymous namespace), so no copy compiled with AVX-512 flags can stand
// in for a baseline symbol at link time. Each per-lane formula is the one of the AVX2 helpers in
// cpu/simd.h (same constants, same operation order), so an elementwise kernel gives the AVX2 path's
// bits lane for lane; the tails are masked vectors instead of scalar loops.
#pragma once

// GCC 12 reports the intrinsics' own _mm512_undefined_ps() as "may be used uninitialized".
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <immintrin.h>

#include <cstdint>

#include "cpu/vec-math.h"

namespace sa::cpu::avx512 {
namespace {

// Lanes [0, n) of a 16-lane vector (n < 16).
inline __mmask16 tail_mask(int64_t n) {
    return (__mmask16) ((1u << n) - 1u);
}

SA_VMATH_LANES(LanesBase, __m512, _mm512_, 512, _mm512_roundscale_ps(a, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC));

// y 2^n in one instruction (cpu/vec-math.h's times_pow2).
struct Lanes : LanesBase {
    static v scale2(v y, v n) { return _mm512_scalef_ps(y, n); }
};

// exp(x), exact GELU and its derivative: cpu/vec-math.h at 16 lanes (the formulas of cpu/simd.h).
inline __m512 exp512(__m512 x) {
    return vmath::exp<Lanes>(x);
}

inline __m512 gelu512(__m512 x) {
    return vmath::gelu<Lanes>(x);
}
inline __m512 gelu_grad512(__m512 x) {
    return vmath::gelu_grad<Lanes>(x);
}

// Maximum of x[0:n] (n >= 1).
inline float row_max(const float * x, int64_t n) {
    __m512 m = _mm512_set1_ps(-__builtin_inff());
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) m = _mm512_max_ps(m, _mm512_loadu_ps(x + i));
    if (i < n) m = _mm512_mask_max_ps(m, tail_mask(n - i), m, _mm512_maskz_loadu_ps(tail_mask(n - i), x + i));
    return _mm512_reduce_max_ps(m);
}

// x[i] = exp(x[i] - mx) for i < n; returns the sum (two accumulators, then a fixed lane reduction).
inline float exp_shift_sum(float * x, int64_t n, float mx) {
    const __m512 vm = _mm512_set1_ps(mx);
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m512 e0 = exp512(_mm512_sub_ps(_mm512_loadu_ps(x + i), vm));
        const __m512 e1 = exp512(_mm512_sub_ps(_mm512_loadu_ps(x + i + 16), vm));
        _mm512_storeu_ps(x + i, e0);
        _mm512_storeu_ps(x + i + 16, e1);
        s0 = _mm512_add_ps(s0, e0);
        s1 = _mm512_add_ps(s1, e1);
    }
    for (; i < n; i += 16) {
        const __mmask16 m = n - i >= 16 ? (__mmask16) 0xFFFF : tail_mask(n - i);
        const __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), vm));
        _mm512_mask_storeu_ps(x + i, m, e);
        s0 = _mm512_mask_add_ps(s0, m, s0, e);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

// x[i] *= s for i < n.
inline void scale_row(float * x, float s, int64_t n) {
    const __m512 vs = _mm512_set1_ps(s);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, _mm512_mul_ps(_mm512_loadu_ps(x + i), vs));
    if (i < n) {
        const __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), vs));
    }
}

}  // namespace
}  // namespace sa::cpu::avx512
