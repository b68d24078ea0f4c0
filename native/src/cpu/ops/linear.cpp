// SPDX-License-Identifier: Apache-2.0
// Linear layer forward: y[M,N] = x[M,K] W[N,K]^T + b[N] (PyTorch nn.Linear layout).
#include "cpu/backend-cpu.h"
#include "sa/gemm.h"
#include "sa/threadpool.h"

namespace sa {

void CpuBackend::linear(const float * x, const float * W, const float * b, float * y, int64_t M, int64_t K,
                        int64_t N) {
    SA_CHECK_ARG(M >= 0 && K >= 0 && N >= 0, "linear: negative size");
    if (M == 0 || N == 0) return;
    SA_CHECK_ARG(y && (K == 0 || (x && W)), "linear: null pointer");
    SA_CHECK_ARG(y != x || K == 0, "linear: y must not alias x");
    if (b) {
        // Broadcast the bias into y, then accumulate the product on top (beta = 1).
        default_pool().parallel_for(
            M,
            [&](int64_t r0, int64_t r1) {
                for (int64_t r = r0; r < r1; ++r) {
                    float * yr = y + r * N;
                    for (int64_t c = 0; c < N; ++c) yr[c] = b[c];
                }
            },
            (1 << 14) / N + 1);
        sgemm(false, true, M, N, K, 1.0f, x, K, W, K, 1.0f, y, N);
    } else {
        sgemm(false, true, M, N, K, 1.0f, x, K, W, K, 0.0f, y, N);
    }
}

}  // namespace sa
