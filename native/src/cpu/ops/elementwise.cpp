// SPDX-License-Identifier: Apache-2.0
// Elementwise ops: add, add_bias (row broadcast), scale. Memory-bound; split over the default pool
// in large contiguous chunks (results do not depend on the partition).
#include <string>

#include "cpu/backend-cpu.h"
#include "sa/threadpool.h"

#ifdef __AVX2__
#include <immintrin.h>
#endif

namespace sa {

namespace {
constexpr int64_t kGrain = 1 << 15;  // elements per task: small arrays stay on the calling thread
}

void CpuBackend::add(const float * a, const float * b, float * y, int64_t n) {
    SA_CHECK_ARG(n >= 0, "add: negative size");
    if (n == 0) return;
    SA_CHECK_ARG(a && b && y, "add: null pointer");
    pool()->parallel_for(
        n,
        [&](int64_t i0, int64_t i1) {
            int64_t i = i0;
#ifdef __AVX2__
            for (; i + 8 <= i1; i += 8)
                _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
#endif
            for (; i < i1; ++i) y[i] = a[i] + b[i];
        },
        kGrain);
}

void CpuBackend::add_bias(const float * x, const float * bias, float * y, int64_t rows, int64_t cols) {
    SA_CHECK_ARG(rows >= 0 && cols >= 0, "add_bias: negative size");
    if (rows == 0 || cols == 0) return;
    SA_CHECK_ARG(x && bias && y, "add_bias: null pointer");
    const int64_t grain_rows = cols >= kGrain ? 1 : kGrain / cols;
    pool()->parallel_for(
        rows,
        [&](int64_t r0, int64_t r1) {
            for (int64_t r = r0; r < r1; ++r) {
                const float * xr = x + r * cols;
                float * yr = y + r * cols;
                int64_t c = 0;
#ifdef __AVX2__
                for (; c + 8 <= cols; c += 8)
                    _mm256_storeu_ps(yr + c, _mm256_add_ps(_mm256_loadu_ps(xr + c), _mm256_loadu_ps(bias + c)));
#endif
                for (; c < cols; ++c) yr[c] = xr[c] + bias[c];
            }
        },
        grain_rows);
}

void CpuBackend::scale(const float * x, float s, float * y, int64_t n) {
    SA_CHECK_ARG(n >= 0, "scale: negative size");
    if (n == 0) return;
    SA_CHECK_ARG(x && y, "scale: null pointer");
    pool()->parallel_for(
        n,
        [&](int64_t i0, int64_t i1) {
            int64_t i = i0;
#ifdef __AVX2__
            const __m256 vs = _mm256_set1_ps(s);
            for (; i + 8 <= i1; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), vs));
#endif
            for (; i < i1; ++i) y[i] = x[i] * s;
        },
        kGrain);
}

}  // namespace sa
