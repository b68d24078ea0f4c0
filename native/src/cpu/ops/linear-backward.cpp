// SPDX-License-Identifier: Apache-2.0
// Linear layer backward (PyTorch layout W[N, K]): dx[M,K] = dy W (overwrite), dW[N,K] += dy^T x,
// db[N] += column sums of dy. The bias reduction is split over column blocks, so its summation order
// (row order) does not depend on the thread count.
#include <algorithm>

#include "cpu/backend-cpu.h"
#include "sa/gemm.h"
#include "sa/threadpool.h"

#ifdef __AVX2__
#include <immintrin.h>
#endif

namespace sa {

namespace {

constexpr int64_t kColBlock = 32;

// db[c0:c1] += sum over the M rows of dy[:, c0:c1] (row stride N), summed in row order.
void column_sums(const float * dy, int64_t M, int64_t N, int64_t c0, int64_t c1, float * db) {
    int64_t c = c0;
#ifdef __AVX2__
    if (c1 - c0 == kColBlock) {
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
        for (int64_t r = 0; r < M; ++r) {
            const float * d = dy + r * N + c0;
            a0 = _mm256_add_ps(a0, _mm256_loadu_ps(d));
            a1 = _mm256_add_ps(a1, _mm256_loadu_ps(d + 8));
            a2 = _mm256_add_ps(a2, _mm256_loadu_ps(d + 16));
            a3 = _mm256_add_ps(a3, _mm256_loadu_ps(d + 24));
        }
        _mm256_storeu_ps(db + c0, _mm256_add_ps(_mm256_loadu_ps(db + c0), a0));
        _mm256_storeu_ps(db + c0 + 8, _mm256_add_ps(_mm256_loadu_ps(db + c0 + 8), a1));
        _mm256_storeu_ps(db + c0 + 16, _mm256_add_ps(_mm256_loadu_ps(db + c0 + 16), a2));
        _mm256_storeu_ps(db + c0 + 24, _mm256_add_ps(_mm256_loadu_ps(db + c0 + 24), a3));
        return;
    }
#endif
    float acc[kColBlock] = {};
    for (int64_t r = 0; r < M; ++r) {
        const float * d = dy + r * N;
        for (c = c0; c < c1; ++c) acc[c - c0] += d[c];
    }
    for (c = c0; c < c1; ++c) db[c] += acc[c - c0];
}

}  // namespace

void CpuBackend::linear_backward_impl(const LinearBackwardArgs & a) {
    const auto & [x, W, dy, dx, dW, db, M, K, N] = a;
    const std::shared_ptr<ThreadPool> held = pool();
    ThreadPool & pool = *held;
    if (dx && K > 0) {
        sgemm(false, false, M, K, N, 1.0f, dy, N, W, K, 0.0f, dx, K, pool);
    }
    if (dW && K > 0) {
        sgemm(true, false, N, K, M, 1.0f, dy, N, x, K, 1.0f, dW, K, pool);
    }
    if (db) {
        // Column sums in row order, kept in registers over all rows for blocks of kColBlock columns.
        pool.parallel_for((N + kColBlock - 1) / kColBlock,
                          [&](int64_t b0, int64_t b1) {
                              for (int64_t blk = b0; blk < b1; ++blk)
                                  column_sums(dy, M, N, blk * kColBlock, std::min(N, (blk + 1) * kColBlock), db);
                          },
                          M * N >= (1 << 15) ? 1 : N);
    }
}

}  // namespace sa
