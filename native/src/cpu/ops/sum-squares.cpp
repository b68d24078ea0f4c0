// SPDX-License-Identifier: Apache-2.0
// Sum of squares into out[0], accumulated in double over fixed-size blocks that are summed in block
// order: the result does not depend on the thread count, and a NaN or Inf anywhere in x propagates.
#include <algorithm>
#include <vector>

#include "cpu/backend-cpu.h"
#include "sa/threadpool.h"

#ifdef __AVX2__
#include <immintrin.h>
#endif

namespace sa {

namespace {
constexpr int64_t kBlock = 1 << 14;
}

void CpuBackend::sum_squares(const float * x, float * out, int64_t n) {
    SA_CHECK_ARG(n >= 0, "sum_squares: negative size");
    SA_CHECK_ARG(out != nullptr, "sum_squares: null out");
    if (n == 0) {
        out[0] = 0.0f;
        return;
    }
    SA_CHECK_ARG(x != nullptr, "sum_squares: null x");
    const int64_t blocks = (n + kBlock - 1) / kBlock;
    thread_local std::vector<double> part;
    if ((int64_t) part.size() < blocks) part.resize((size_t) blocks);
    double * pp = part.data();
    pool()->parallel_for(blocks, [&](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b) {
            const int64_t i0 = b * kBlock, i1 = std::min(n, i0 + kBlock);
            double a[4] = {0, 0, 0, 0};
            int64_t i = i0;
#ifdef __AVX2__
            // Four independent 4-lane double accumulators (16 elements per iteration), folded in a fixed order.
            __m256d acc[4] = {_mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd()};
            for (; i + 16 <= i1; i += 16)
                for (int k = 0; k < 4; ++k) {
                    const __m256d v = _mm256_cvtps_pd(_mm_loadu_ps(x + i + 4 * k));
                    acc[k] = _mm256_fmadd_pd(v, v, acc[k]);
                }
            const __m256d s = _mm256_add_pd(_mm256_add_pd(acc[0], acc[1]), _mm256_add_pd(acc[2], acc[3]));
            _mm256_storeu_pd(a, s);
#endif
            for (; i < i1; ++i) a[i % 4] += (double) x[i] * (double) x[i];
            pp[b] = (a[0] + a[1]) + (a[2] + a[3]);
        }
    });
    double s = 0.0;
    for (int64_t b = 0; b < blocks; ++b) s += pp[b];
    out[0] = (float) s;
}

}  // namespace sa
