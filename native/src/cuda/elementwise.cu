// SPDX-License-Identifier: Apache-2.0
// Elementwise ops: add, add_bias (row broadcast), scale; grid-stride loops (memory-bound).
#include <string>

#include "cuda/backend-cuda.cuh"
#include "cuda/common.cuh"
#include "cuda/elementwise.cuh"

namespace sa {

namespace cuda {

static __global__ void add_kernel(const float * a, const float * b, float * y, int64_t n) {
    for (int64_t i = blockIdx.x * (int64_t) blockDim.x + threadIdx.x; i < n; i += (int64_t) gridDim.x * blockDim.x)
        y[i] = a[i] + b[i];
}

static __global__ void add_bias_kernel(const float * x, const float * __restrict__ bias, float * y, int64_t rows,
                                       int64_t cols) {
    const int64_t n = rows * cols;
    for (int64_t i = blockIdx.x * (int64_t) blockDim.x + threadIdx.x; i < n; i += (int64_t) gridDim.x * blockDim.x)
        y[i] = x[i] + bias[i % cols];
}

static __global__ void scale_kernel(const float * x, float s, float * y, int64_t n) {
    for (int64_t i = blockIdx.x * (int64_t) blockDim.x + threadIdx.x; i < n; i += (int64_t) gridDim.x * blockDim.x)
        y[i] = x[i] * s;
}

static __global__ void broadcast_rows_kernel(float * __restrict__ y, const float * __restrict__ bias, int64_t rows,
                                             int64_t cols) {
    const int64_t n = rows * cols;
    for (int64_t i = blockIdx.x * (int64_t) blockDim.x + threadIdx.x; i < n; i += (int64_t) gridDim.x * blockDim.x)
        y[i] = bias[i % cols];
}

static __global__ void broadcast_cols_kernel(float * __restrict__ y, const float * __restrict__ bias, int64_t channels,
                                             int64_t pixels, int64_t n) {
    for (int64_t i = blockIdx.x * (int64_t) blockDim.x + threadIdx.x; i < n; i += (int64_t) gridDim.x * blockDim.x)
        y[i] = bias[(i / pixels) % channels];
}

void launch_add(const float * a, const float * b, float * y, int64_t n, cudaStream_t stream) {
    if (n <= 0) return;
    add_kernel<<<grid_for(n), kThreads, 0, stream>>>(a, b, y, n);
    SA_CUDA_LAUNCH_CHECK();
}

void launch_add_bias(const float * x, const float * bias, float * y, int64_t rows, int64_t cols, cudaStream_t stream) {
    if (rows <= 0 || cols <= 0) return;
    add_bias_kernel<<<grid_for(rows * cols), kThreads, 0, stream>>>(x, bias, y, rows, cols);
    SA_CUDA_LAUNCH_CHECK();
}

void launch_scale(const float * x, float s, float * y, int64_t n, cudaStream_t stream) {
    if (n <= 0) return;
    scale_kernel<<<grid_for(n), kThreads, 0, stream>>>(x, s, y, n);
    SA_CUDA_LAUNCH_CHECK();
}

void launch_broadcast_rows(float * y, const float * bias, int64_t rows, int64_t cols, cudaStream_t stream) {
    if (rows <= 0 || cols <= 0) return;
    broadcast_rows_kernel<<<grid_for(rows * cols), kThreads, 0, stream>>>(y, bias, rows, cols);
    SA_CUDA_LAUNCH_CHECK();
}

void launch_broadcast_cols(float * y, const float * bias, int64_t images, int64_t channels, int64_t pixels,
                           cudaStream_t stream) {
    const int64_t n = images * channels * pixels;
    if (n <= 0) return;
    broadcast_cols_kernel<<<grid_for(n), kThreads, 0, stream>>>(y, bias, channels, pixels, n);
    SA_CUDA_LAUNCH_CHECK();
}

}  // namespace cuda

void CudaBackend::add(const float * a, const float * b, float * y, int64_t n) {
    SA_CHECK_ARG(n >= 0, "add: negative size");
    if (n == 0) return;
    SA_CHECK_ARG(a && b && y, "add: null pointer");
    activate();
    cuda::launch_add(a, b, y, n, stream_);
}

void CudaBackend::add_bias(const float * x, const float * bias, float * y, int64_t rows, int64_t cols) {
    SA_CHECK_ARG(rows >= 0 && cols >= 0, "add_bias: negative size");
    if (rows == 0 || cols == 0) return;
    SA_CHECK_ARG(x && bias && y, "add_bias: null pointer");
    activate();
    cuda::launch_add_bias(x, bias, y, rows, cols, stream_);
}

void CudaBackend::scale(const float * x, float s, float * y, int64_t n) {
    SA_CHECK_ARG(n >= 0, "scale: negative size");
    if (n == 0) return;
    SA_CHECK_ARG(x && y, "scale: null pointer");
    activate();
    cuda::launch_scale(x, s, y, n, stream_);
}

}  // namespace sa
