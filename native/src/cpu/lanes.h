// SPDX-License-Identifier: Apache-2.0
// The loop of the elementwise CPU ops written once: an op states its formula once, over a lane type L
// (L.load, L.store, L.add, ...), and for_lanes runs it on eight AVX2 lanes while eight elements
// remain and on one float for the tail. Lane8 and Lane1 compute the same IEEE operations, so a value
// does not depend on which of them handled it (GELU: the vector and scalar formulas of cpu/simd.h),
// except GELU's derivative, whose scalar form takes exp from the C library (within a few ulp; which
// elements form the tail depends only on the array length, as parallel_lanes splits at multiples of
// its grain). The body is the caller's lambda, inlined: no std::function in the loop.
#pragma once

#include <cstdint>

#include "cpu/simd.h"
#include "sa/threadpool.h"

namespace sa::cpu {

// One float.
struct Lane1 {
    using v = float;
    static v load(const float * p) { return *p; }
    static void store(float * p, v a) { *p = a; }
    static v set1(float a) { return a; }
    static v add(v a, v b) { return a + b; }
    static v sub(v a, v b) { return a - b; }
    static v mul(v a, v b) { return a * b; }
    // max(a, 0), NaN kept
    static v relu(v a) { return a < 0.0f ? 0.0f : a; }
    // a where y > 0, else 0
    static v where_pos(v y, v a) { return y > 0.0f ? a : 0.0f; }
    static v gelu(v a) { return gelu_scalar(a); }
    static v gelu_grad(v a) { return gelu_grad_scalar(a); }
};

#ifdef __AVX2__
// Eight floats.
struct Lane8 {
    using v = __m256;
    static v load(const float * p) { return _mm256_loadu_ps(p); }
    static void store(float * p, v a) { _mm256_storeu_ps(p, a); }
    static v set1(float a) { return _mm256_set1_ps(a); }
    static v add(v a, v b) { return _mm256_add_ps(a, b); }
    static v sub(v a, v b) { return _mm256_sub_ps(a, b); }
    static v mul(v a, v b) { return _mm256_mul_ps(a, b); }
    // a blend rather than a max against 0, which can return 0 for a NaN lane: NaN stays visible
    static v relu(v a) {
        const v zero = _mm256_setzero_ps();
        return _mm256_blendv_ps(a, zero, _mm256_cmp_ps(a, zero, _CMP_LT_OQ));
    }
    static v where_pos(v y, v a) { return _mm256_and_ps(_mm256_cmp_ps(y, _mm256_setzero_ps(), _CMP_GT_OQ), a); }
    static v gelu(v a) { return gelu256(a); }
    static v gelu_grad(v a) { return gelu_grad256(a); }
};
#endif

// body(L{}, i) for i in [i0, i1): Lane8 at i, i + 8, ... while 8 elements remain (AVX2 builds), then
// Lane1 for each of the rest.
template <class Body>
inline void for_lanes(int64_t i0, int64_t i1, Body && body) {
    int64_t i = i0;
#ifdef __AVX2__
    for (; i + 8 <= i1; i += 8) body(Lane8{}, i);
#endif
    for (; i < i1; ++i) body(Lane1{}, i);
}

// Elements per task of a memory-bound loop: small arrays stay on the calling thread.
constexpr int64_t kMemoryBoundGrain = 1 << 15;

// for_lanes over [0, n), split over the pool in chunks of at least `grain` elements (the split does not
// change any value).
template <class Body>
inline void parallel_lanes(ThreadPool & pool, int64_t n, Body && body, int64_t grain = kMemoryBoundGrain) {
    pool.parallel_for(
        n, [&](int64_t i0, int64_t i1) { for_lanes(i0, i1, body); }, grain);
}

}  // namespace sa::cpu
