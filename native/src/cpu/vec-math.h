// SPDX-License-Identifier: Apache-2.0
// The vector exp and GELU written once for every vector width: the AVX2 helpers (cpu/simd.h) and the
// AVX-512 ones (isa/simd-avx512.h) instantiate them with their own lane operations, so every level
// evaluates the same polynomials in the same order (the same bits per lane). V provides the vector
// type `v` and static set1, load and store (unaligned), add, mul, div, fmadd (a b + c), fnmadd
// (c - a b), min, max, floor and pow2i (2^n for integral-valued float lanes n), optionally scale2
// (y 2^n in one instruction; see times_pow2). An AVX-512 file instantiates these
// templates only with a V of its own anonymous namespace, so no AVX-512 copy gets a symbol shared with baseline code.
#pragma once

namespace sa::cpu::vmath {

// Defines struct NAME, the lane operations V for one vector type VT: P is the intrinsic prefix
// (_mm256_, _mm512_), SI the integer vector width (256, 512), FLOOR the rounding down of `a`.
#define SA_VMATH_LANES(NAME, VT, P, SI, FLOOR)                                                                  \
    struct NAME {                                                                                               \
        using v = VT;                                                                                           \
        static v set1(float a) { return P##set1_ps(a); }                                                        \
        static v load(const float * p) { return P##loadu_ps(p); }                                               \
        static void store(float * p, v a) { P##storeu_ps(p, a); }                                               \
        static v add(v a, v b) { return P##add_ps(a, b); }                                                      \
        static v sub(v a, v b) { return P##sub_ps(a, b); }                                                      \
        static v mul(v a, v b) { return P##mul_ps(a, b); }                                                      \
        static v div(v a, v b) { return P##div_ps(a, b); }                                                      \
        static v fmadd(v a, v b, v c) { return P##fmadd_ps(a, b, c); }                                          \
        static v fnmadd(v a, v b, v c) { return P##fnmadd_ps(a, b, c); }                                        \
        static v min(v a, v b) { return P##min_ps(a, b); }                                                      \
        static v max(v a, v b) { return P##max_ps(a, b); }                                                      \
        static v floor(v a) { return FLOOR; }                                                                   \
        static v pow2i(v n) {                                                                                   \
            return P##castsi##SI##_ps(P##slli_epi32(P##add_epi32(P##cvttps_epi32(n), P##set1_epi32(127)), 23)); \
        }                                                                                                       \
    }

// y 2^n for integral-valued lanes n: V::scale2 where the level has one (AVX-512's scalef, one
// instruction), else y * pow2i(n). The same bits whenever 2^n is a normal float (n >= -126; exp's
// clamp keeps n >= -127).
template <class V>
inline typename V::v times_pow2(typename V::v y, typename V::v n) {
    if constexpr (requires { V::scale2(y, n); }) {
        return V::scale2(y, n);
    } else {
        return V::mul(y, V::pow2i(n));
    }
}

// exp(x): x clamped to +-88.376 (NaN stays NaN), n = floor(x log2(e) + 1/2), r = x - n ln2 (ln2 in
// two parts), exp(x) = 2^n (1 + r + r^2 P(r)) with the Cephes degree-5 P.
template <class V>
inline typename V::v exp(typename V::v x) {
    constexpr float kExp[] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                              4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};
    x = V::min(V::set1(88.3762626647949f), V::max(V::set1(-88.3762626647949f), x));
    const typename V::v fx = V::floor(V::fmadd(x, V::set1(1.44269504088896341f), V::set1(0.5f)));
    x = V::fnmadd(fx, V::set1(0.693359375f), x);
    x = V::fnmadd(fx, V::set1(-2.12194440e-4f), x);
    typename V::v y = V::set1(kExp[0]);
    for (int i = 1; i < 6; ++i) y = V::fmadd(y, x, V::set1(kExp[i]));
    y = V::fmadd(y, V::mul(x, x), V::add(x, V::set1(1.0f)));
    return times_pow2<V>(y, fx);
}

// GELU x Phi(x) = x/2 (1 + erf(x / sqrt 2)), the formula of PyTorch's nn.GELU, with
// erf(x / sqrt 2) = c R(c^2) for c = x clamped to +-kGeluClamp and R = P/Q of degree 5 in c^2 (a
// minimax fit of erf(c / sqrt 2) / c on [0, 5.7] weighted by c; erf's absolute error below 2.5e-8
// in exact arithmetic, 3.1e-7 evaluated in float), the result clamped to [-1, 1] (the fit ripples
// around 1 above c = 5.1, where erf(c / sqrt 2) rounds to 1 in float). GELU's error is below
// 1.9e-7 |x| (measured over [-30, 30] in steps of 1e-5): relative for x > 0; in the negative tail,
// as in PyTorch's float evaluation, 1 + erf cancels, so the small values there are accurate in
// absolute terms only (0 for x <= -5.7, where |GELU(x)| < 4e-8). A third of the time of x Phi(x)
// with Phi from an erfc fit and an exp (the form used before).
inline constexpr float kGeluClamp = 5.7f;
inline constexpr float kGeluP[] = {0.7978844046592712f,     0.06987900286912918f,    0.00948140025138855f,
                                   0.00035874670720659196f, 1.2747437722282484e-05f, 4.3159257501201864e-08f};
inline constexpr float kGeluQ[] = {1.0f,
                                   0.2542458176612854f,
                                   0.02925966866314411f,
                                   0.0019444385543465614f,
                                   7.675954839214683e-05f,
                                   1.164907530437631e-06f};

// erf(x / sqrt 2) as GELU uses it: the fit above, clamped to [-1, 1] (NaN stays NaN).
template <class V>
inline typename V::v gelu_erf(typename V::v x) {
    // max/min return their second operand for a NaN lane: NaN stays NaN
    const typename V::v c = V::min(V::set1(kGeluClamp), V::max(V::set1(-kGeluClamp), x));
    const typename V::v s = V::mul(c, c);
    typename V::v p = V::set1(kGeluP[5]), q = V::set1(kGeluQ[5]);
    for (int i = 4; i >= 0; --i) {
        p = V::fmadd(p, s, V::set1(kGeluP[i]));
        q = V::fmadd(q, s, V::set1(kGeluQ[i]));
    }
    return V::min(V::set1(1.0f), V::max(V::set1(-1.0f), V::mul(c, V::div(p, q))));
}

// GELU from e = gelu_erf(x): x/2 + x/2 e.
template <class V>
inline typename V::v gelu_from_erf(typename V::v x, typename V::v e) {
    const typename V::v h = V::mul(V::set1(0.5f), x);
    return V::fmadd(h, e, h);
}

template <class V>
inline typename V::v gelu(typename V::v x) {
    return gelu_from_erf<V>(x, gelu_erf<V>(x));
}

// GELU's derivative Phi(x) + x phi(x) from e = gelu_erf(x): (1 + e) / 2 + x phi(x), the form of
// PyTorch's GELU backward (its float evaluation cancels in the negative tail the same way: the
// derivative is accurate to about 1e-7 in absolute terms there). One exp per value.
template <class V>
inline typename V::v gelu_grad_from_erf(typename V::v x, typename V::v e) {
    const typename V::v pdf = V::mul(V::set1(0.39894228040143267794f), exp<V>(V::mul(V::set1(-0.5f), V::mul(x, x))));
    return V::fmadd(x, pdf, V::fmadd(V::set1(0.5f), e, V::set1(0.5f)));
}

template <class V>
inline typename V::v gelu_grad(typename V::v x) {
    return gelu_grad_from_erf<V>(x, gelu_erf<V>(x));
}

}  // namespace sa::cpu::vmath
