// SPDX-License-Identifier: Apache-2.0
// ReLU, y = max(x, 0), and its backward pass from the saved output: dx = dy where y > 0, else 0.
#include "cpu/backend-cpu.h"
#include "sa/threadpool.h"

#ifdef __AVX2__
#include <immintrin.h>
#endif

namespace sa {

namespace {
constexpr int64_t kGrain = 1 << 15;
}

void CpuBackend::relu(const float * x, float * y, int64_t n) {
    SA_CHECK_ARG(n >= 0, "relu: negative size");
    if (n == 0) return;
    SA_CHECK_ARG(x && y, "relu: null pointer");
    pool()->parallel_for(
        n,
        [&](int64_t i0, int64_t i1) {
            int64_t i = i0;
#ifdef __AVX2__
            const __m256 zero = _mm256_setzero_ps();
            // max(x, 0) with x as the second operand would return 0 for NaN; keep NaN visible instead.
            for (; i + 8 <= i1; i += 8) {
                const __m256 v = _mm256_loadu_ps(x + i);
                _mm256_storeu_ps(y + i, _mm256_blendv_ps(v, zero, _mm256_cmp_ps(v, zero, _CMP_LT_OQ)));
            }
#endif
            for (; i < i1; ++i) y[i] = x[i] < 0.0f ? 0.0f : x[i];
        },
        kGrain);
}

void CpuBackend::relu_backward(const float * y, const float * dy, float * dx, int64_t n) {
    SA_CHECK_ARG(n >= 0, "relu_backward: negative size");
    if (n == 0) return;
    SA_CHECK_ARG(y && dy && dx, "relu_backward: null pointer");
    pool()->parallel_for(
        n,
        [&](int64_t i0, int64_t i1) {
            int64_t i = i0;
#ifdef __AVX2__
            const __m256 zero = _mm256_setzero_ps();
            for (; i + 8 <= i1; i += 8) {
                const __m256 pos = _mm256_cmp_ps(_mm256_loadu_ps(y + i), zero, _CMP_GT_OQ);
                _mm256_storeu_ps(dx + i, _mm256_and_ps(pos, _mm256_loadu_ps(dy + i)));
            }
#endif
            for (; i < i1; ++i) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
        },
        kGrain);
}

}  // namespace sa
