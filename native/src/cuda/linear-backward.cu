// SPDX-License-Identifier: Apache-2.0
// Linear layer backward (W[N, K]): dx[M,K] = dy W (overwrite), dW[N,K] += dy^T x, db[N] += column sums of dy.
#include <string>

#include "cuda/backend-cuda.cuh"
#include "cuda/common.cuh"
#include "cuda/reduce.cuh"

namespace sa {

namespace {
struct RowValue {
    const float * dy;
    int64_t N;
    __device__ float2 operator()(int64_t r, int64_t c) const { return make_float2(dy[r * N + c], 0.0f); }
};
}  // namespace

void CudaBackend::linear_backward_impl(const LinearBackwardArgs & a) {
    const auto & [x, W, dy, dx, dW, db, M, K, N] = a;
    SA_CHECK_ARG(M <= INT32_MAX && N <= INT32_MAX && K <= INT32_MAX,
                 "linear_backward: size exceeds the 32-bit range of cuBLAS");
    activate();
    if (dx && K > 0) {
        gemm_rm(false, false, M, K, N, 1.0f, dy, N, W, K, 0.0f, dx, K);
    }
    if (dW && K > 0) {
        gemm_rm(true, false, N, K, M, 1.0f, dy, N, x, K, 1.0f, dW, K);
    }
    if (db) cuda::launch_col_reduce(*this, RowValue{dy, N}, M, N, db, nullptr, true);
}

}  // namespace sa
