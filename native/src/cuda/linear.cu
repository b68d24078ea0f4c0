// SPDX-License-Identifier: Apache-2.0
// Linear layer forward: y[M,N] = x[M,K] W[N,K]^T + b[N] (PyTorch nn.Linear layout).
#include <string>

#include "cuda/backend-cuda.cuh"
#include "cuda/common.cuh"
#include "cuda/elementwise.cuh"

namespace sa {

void CudaBackend::linear(const float * x, const float * W, const float * b, float * y, int64_t M, int64_t K,
                         int64_t N) {
    SA_CHECK_ARG(M >= 0 && K >= 0 && N >= 0, "linear: negative size");
    if (M == 0 || N == 0) return;
    SA_CHECK_ARG(y && (K == 0 || (x && W)), "linear: null pointer");
    SA_CHECK_ARG(y != x || K == 0, "linear: y must not alias x");
    SA_CHECK_ARG(M <= INT32_MAX && N <= INT32_MAX && K <= INT32_MAX, "linear: size exceeds the 32-bit range of cuBLAS");
    activate();
    if (K == 0) {
        if (b) {
            cuda::launch_broadcast_rows(y, b, M, N, stream_);
        } else {
            fill(y, 0.0f, (size_t) (M * N));
        }
        return;
    }
    if (b) {
        linear_lt(x, W, b, y, M, K, N);
    } else {
        gemm_rm(false, true, M, N, K, 1.0f, x, K, W, K, 0.0f, y, N);
    }
}

}  // namespace sa
