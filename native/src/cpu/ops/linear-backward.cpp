// SPDX-License-Identifier: Apache-2.0
// Linear layer backward (PyTorch layout W[N, K]): dx[M,K] = dy W (overwrite), dW[N,K] += dy^T x,
// db[N] += column sums of dy. The bias reduction is split over columns, so its summation order (row
// order) does not depend on the thread count.
#include <algorithm>

#include "cpu/backend-cpu.h"
#include "sa/gemm.h"
#include "sa/threadpool.h"

namespace sa {

void CpuBackend::linear_backward(const float * x, const float * W, const float * dy, float * dx, float * dW,
                                 float * db, int64_t M, int64_t K, int64_t N) {
    SA_CHECK_ARG(M >= 0 && K >= 0 && N >= 0, "linear_backward: negative size");
    if (M == 0 || N == 0) {
        if (dx && M > 0 && K > 0) fill(dx, 0.0f, (size_t) (M * K));
        return;
    }
    SA_CHECK_ARG(dy != nullptr, "linear_backward: null dy");
    if (dx && K > 0) {
        SA_CHECK_ARG(W != nullptr, "linear_backward: dx needs W");
        SA_CHECK_ARG(dx != dy, "linear_backward: dx must not alias dy");
        sgemm(false, false, M, K, N, 1.0f, dy, N, W, K, 0.0f, dx, K);
    }
    if (dW && K > 0) {
        SA_CHECK_ARG(x != nullptr, "linear_backward: dW needs x");
        sgemm(true, false, N, K, M, 1.0f, dy, N, x, K, 1.0f, dW, K);
    }
    if (db) {
        const int64_t grain = 64;
        default_pool().parallel_for(
            N,
            [&](int64_t c0, int64_t c1) {
                for (int64_t r = 0; r < M; ++r) {
                    const float * d = dy + r * N;
                    for (int64_t c = c0; c < c1; ++c) db[c] += d[c];
                }
            },
            M * N >= (1 << 15) ? grain : std::max<int64_t>(N, 1));
    }
}

}  // namespace sa
