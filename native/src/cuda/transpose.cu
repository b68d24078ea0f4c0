// SPDX-License-Identifier: Apache-2.0
// Batched transpose of the last two dims: x[B, R, C] -> y[B, C, R] (NCHW <-> NHWC) through padded
// 32x32 shared-memory tiles.
#include <algorithm>

#include "cuda/backend-cuda.cuh"
#include "cuda/common.cuh"
#include "cuda/transpose.cuh"

namespace sa {

namespace cuda {

static __global__ void transpose_last2_kernel(const float * __restrict__ x, float * __restrict__ y, int64_t B,
                                              int64_t R, int64_t C) {
    __shared__ float tile[32][33];
    const int64_t c0 = (int64_t) blockIdx.x * 32, r0 = (int64_t) blockIdx.y * 32;
    for (int64_t b = blockIdx.z; b < B; b += gridDim.z) {
        const float * xb = x + b * R * C;
        float * yb = y + b * R * C;
        for (int k = threadIdx.y; k < 32; k += blockDim.y) {
            const int64_t r = r0 + k, c = c0 + threadIdx.x;
            if (r < R && c < C) tile[k][threadIdx.x] = xb[r * C + c];
        }
        __syncthreads();
        for (int k = threadIdx.y; k < 32; k += blockDim.y) {
            const int64_t c = c0 + k, r = r0 + threadIdx.x;
            if (r < R && c < C) yb[c * R + r] = tile[threadIdx.x][k];
        }
        __syncthreads();
    }
}

void launch_transpose_last2(const float * x, float * y, int64_t B, int64_t R, int64_t C, cudaStream_t stream) {
    if (B <= 0 || R <= 0 || C <= 0) return;
    const dim3 grid(ceil_div_u(C, 32), ceil_div_u(R, 32), (unsigned) std::min<int64_t>(B, 65535));
    transpose_last2_kernel<<<grid, dim3(32, 8), 0, stream>>>(x, y, B, R, C);
    SA_CUDA_LAUNCH_CHECK();
}

}  // namespace cuda

void CudaBackend::transpose_last2(const float * x, float * y, int64_t B, int64_t R, int64_t C) {
    SA_CHECK_ARG(B >= 0 && R >= 0 && C >= 0, "transpose_last2: negative size");
    if (B == 0 || R == 0 || C == 0) return;
    SA_CHECK_ARG(x && y, "transpose_last2: null pointer");
    SA_CHECK_ARG(x != y, "transpose_last2: in-place transpose is not supported");
    SA_CHECK_ARG(C <= 65535LL * 32 && R <= 65535LL * 32, "transpose_last2: matrix too large");
    activate();
    cuda::launch_transpose_last2(x, y, B, R, C, stream_);
}

}  // namespace sa
