// SPDX-License-Identifier: Apache-2.0
// Exact (erf-based) GELU, y = x Phi(x), and its backward pass dx = dy (Phi(x) + x phi(x)). erff is
// used even under --use_fast_math (it has no fast intrinsic), so results match the CPU closely.
#include "cuda/backend-cuda.cuh"
#include "cuda/common.cuh"
#include "cuda/gelu.cuh"

namespace sa {

namespace cuda {

static __global__ void gelu_kernel(const float * x, float * y, int64_t n) {
    for (int64_t i = blockIdx.x * (int64_t) blockDim.x + threadIdx.x; i < n; i += (int64_t) gridDim.x * blockDim.x) {
        const float v = x[i];
        y[i] = 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
    }
}

static __global__ void gelu_backward_kernel(const float * x, const float * dy, float * dx, int64_t n) {
    for (int64_t i = blockIdx.x * (int64_t) blockDim.x + threadIdx.x; i < n; i += (int64_t) gridDim.x * blockDim.x) {
        const float v = x[i];
        const float cdf = 0.5f * (1.0f + erff(v * 0.70710678118654752f));
        const float pdf = 0.39894228040143268f * expf(-0.5f * v * v);
        dx[i] = dy[i] * (cdf + v * pdf);
    }
}

void launch_gelu(const float * x, float * y, int64_t n, cudaStream_t stream) {
    if (n <= 0) return;
    gelu_kernel<<<grid_for(n), kThreads, 0, stream>>>(x, y, n);
    SA_CUDA_LAUNCH_CHECK();
}

void launch_gelu_backward(const float * x, const float * dy, float * dx, int64_t n, cudaStream_t stream) {
    if (n <= 0) return;
    gelu_backward_kernel<<<grid_for(n), kThreads, 0, stream>>>(x, dy, dx, n);
    SA_CUDA_LAUNCH_CHECK();
}

}  // namespace cuda

void CudaBackend::gelu(const float * x, float * y, int64_t n) {
    SA_CHECK_ARG(n >= 0, "gelu: negative size");
    if (n == 0) return;
    SA_CHECK_ARG(x && y, "gelu: null pointer");
    activate();
    cuda::launch_gelu(x, y, n, stream_);
}

void CudaBackend::gelu_backward(const float * x, const float * dy, float * dx, int64_t n) {
    SA_CHECK_ARG(n >= 0, "gelu_backward: negative size");
    if (n == 0) return;
    SA_CHECK_ARG(x && dy && dx, "gelu_backward: null pointer");
    activate();
    cuda::launch_gelu_backward(x, dy, dx, n, stream_);
}

}  // namespace sa
