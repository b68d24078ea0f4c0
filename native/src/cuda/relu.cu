// SPDX-License-Identifier: Apache-2.0
// ReLU, y = max(x, 0) keeping NaN visible, and its backward pass from the saved output.
#include "cuda/backend-cuda.cuh"
#include "cuda/common.cuh"
#include "cuda/relu.cuh"

namespace sa {

namespace cuda {

static __global__ void relu_kernel(const float * x, float * y, int64_t n) {
    for (int64_t i = blockIdx.x * (int64_t) blockDim.x + threadIdx.x; i < n; i += (int64_t) gridDim.x * blockDim.x) {
        const float v = x[i];
        y[i] = v < 0.0f ? 0.0f : v;
    }
}

static __global__ void relu_backward_kernel(const float * y, const float * dy, float * dx, int64_t n) {
    for (int64_t i = blockIdx.x * (int64_t) blockDim.x + threadIdx.x; i < n; i += (int64_t) gridDim.x * blockDim.x)
        dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

void launch_relu(const float * x, float * y, int64_t n, cudaStream_t stream) {
    if (n <= 0) return;
    relu_kernel<<<grid_for(n), kThreads, 0, stream>>>(x, y, n);
    SA_CUDA_LAUNCH_CHECK();
}

void launch_relu_backward(const float * y, const float * dy, float * dx, int64_t n, cudaStream_t stream) {
    if (n <= 0) return;
    relu_backward_kernel<<<grid_for(n), kThreads, 0, stream>>>(y, dy, dx, n);
    SA_CUDA_LAUNCH_CHECK();
}

}  // namespace cuda

void CudaBackend::relu(const float * x, float * y, int64_t n) {
    SA_CHECK_ARG(n >= 0, "relu: negative size");
    if (n == 0) return;
    SA_CHECK_ARG(x && y, "relu: null pointer");
    activate();
    cuda::launch_relu(x, y, n, stream_);
}

void CudaBackend::relu_backward(const float * y, const float * dy, float * dx, int64_t n) {
    SA_CHECK_ARG(n >= 0, "relu_backward: negative size");
    if (n == 0) return;
    SA_CHECK_ARG(y && dy && dx, "relu_backward: null pointer");
    activate();
    cuda::launch_relu_backward(y, dy, dx, n, stream_);
}

}  // namespace sa
