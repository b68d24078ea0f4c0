// SPDX-License-Identifier: Apache-2.0
// CUDA backend memory: caching-allocator buffers (zeroed on request), stream-ordered transfers (large
// uploads through pinned staging, staging.cuh) and fills, and synchronize(), which turns asynchronous
// device errors into sa::Error.
#include <cmath>
#include <memory>
#include <string>

#include "cuda/backend-cuda.cuh"
#include "cuda/common.cuh"
#include "cuda/memory.cuh"

namespace sa {

namespace cuda {

static __global__ void fill_kernel(float * __restrict__ dst, float value, int64_t n) {
    for (int64_t i = blockIdx.x * (int64_t) blockDim.x + threadIdx.x; i < n; i += (int64_t) gridDim.x * blockDim.x)
        dst[i] = value;
}

void launch_fill(float * dst, float value, int64_t n, cudaStream_t stream) {
    if (n <= 0) return;
    fill_kernel<<<grid_for(n), kThreads, 0, stream>>>(dst, value, n);
    SA_CUDA_LAUNCH_CHECK();
}

}  // namespace cuda

float * CudaBackend::alloc(size_t n_floats) {
    SA_CHECK_ARG(n_floats <= (SIZE_MAX / sizeof(float)) / 2, "alloc: size overflow");
    activate();
    const size_t bytes = (n_floats == 0 ? 1 : n_floats) * sizeof(float);
    void * p = alloc_.allocate(bytes, stream_);
    if (zero_alloc_) {
        try {
            SA_CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, stream_));
        } catch (...) {
            alloc_.release(p);
            throw;
        }
    }
    return static_cast<float *>(p);
}

void CudaBackend::free(float * p) {
    if (!p) return;
    alloc_.release(p);
}

void CudaBackend::upload(float * dst, const float * host_src, size_t n) {
    if (n == 0) return;
    SA_CHECK_ARG(dst && host_src, "upload: null pointer");
    activate();
    // Either way the call returns once the source has been read, so the caller may reuse it. Large
    // uploads go through pinned staging buffers (several host threads, transfers overlapping the host
    // copies); small ones, and any inside a graph capture (which refuses them), through the driver.
    const size_t bytes = n * sizeof(float);
    cudaStreamCaptureStatus cap = cudaStreamCaptureStatusNone;
    SA_CUDA_CHECK(cudaStreamIsCapturing(stream_, &cap));
    if (bytes >= cuda::HostStaging::kMinBytes && cap == cudaStreamCaptureStatusNone) {
        if (!staging_) staging_ = std::make_unique<cuda::HostStaging>(device_);
        staging_->upload(dst, host_src, bytes, stream_);
        return;
    }
    SA_CUDA_CHECK(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, stream_));
}

void CudaBackend::download(float * host_dst, const float * src, size_t n) {
    if (n == 0) return;
    SA_CHECK_ARG(host_dst && src, "download: null pointer");
    activate();
    SA_CUDA_CHECK(cudaMemcpyAsync(host_dst, src, n * sizeof(float), cudaMemcpyDeviceToHost, stream_));
    SA_CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void CudaBackend::copy(float * dst, const float * src, size_t n) {
    if (n == 0 || dst == src) return;
    SA_CHECK_ARG(dst && src, "copy: null pointer");
    activate();
    const size_t bytes = n * sizeof(float);
    const bool overlap = (dst < src + n) && (src < dst + n);
    if (!overlap) {
        SA_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream_));
        return;
    }
    // memmove semantics, as the CPU backend: go through a temporary.
    Scratch tmp(*this, bytes);
    SA_CUDA_CHECK(cudaMemcpyAsync(tmp.as<float>(), src, bytes, cudaMemcpyDeviceToDevice, stream_));
    SA_CUDA_CHECK(cudaMemcpyAsync(dst, tmp.as<float>(), bytes, cudaMemcpyDeviceToDevice, stream_));
}

void CudaBackend::fill(float * dst, float value, size_t n) {
    if (n == 0) return;
    SA_CHECK_ARG(dst, "fill: null pointer");
    activate();
    if (value == 0.0f && !std::signbit(value)) {  // +0.0f is all-zero bytes
        SA_CUDA_CHECK(cudaMemsetAsync(dst, 0, n * sizeof(float), stream_));
        return;
    }
    cuda::launch_fill(dst, value, (int64_t) n, stream_);
}

void CudaBackend::synchronize() {
    activate();
    SA_CUDA_CHECK(cudaStreamSynchronize(stream_));
    SA_CUDA_CHECK(cudaGetLastError());
}

}  // namespace sa
