// SPDX-License-Identifier: Apache-2.0
// Sum of squares into out[0] (device): a fixed grid (a function of n only) writes per-block partial
// sums in double, and one block adds them in block order, so the result is deterministic.
#include <algorithm>

#include "cuda/backend-cuda.cuh"
#include "cuda/common.cuh"
#include "cuda/sum-squares.cuh"

namespace sa {

namespace cuda {

static __global__ void sum_squares_partial_kernel(const float * __restrict__ x, int64_t n,
                                                  double * __restrict__ partial) {
    __shared__ double sm[kThreads / 32];
    double a = 0.0;
    for (int64_t i = blockIdx.x * (int64_t) blockDim.x + threadIdx.x; i < n; i += (int64_t) gridDim.x * blockDim.x) {
        const double v = (double) x[i];
        a += v * v;
    }
    const double s = block_sum(a, sm);
    if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

static __global__ void sum_partials_kernel(const double * __restrict__ partial, int64_t count,
                                           float * __restrict__ out) {
    __shared__ double sm[kThreads / 32];
    double a = 0.0;
    for (int64_t i = threadIdx.x; i < count; i += blockDim.x) a += partial[i];
    const double s = block_sum(a, sm);
    if (threadIdx.x == 0) out[0] = (float) s;
}

int64_t sum_squares_partials(int64_t n) {
    return std::max<int64_t>(1, std::min<int64_t>(1024, (n + 4095) / 4096));
}

void launch_sum_squares(const float * x, float * out, int64_t n, double * partial, cudaStream_t stream) {
    const int64_t blocks = sum_squares_partials(n);
    sum_squares_partial_kernel<<<(unsigned) blocks, kThreads, 0, stream>>>(x, n, partial);
    SA_CUDA_LAUNCH_CHECK();
    sum_partials_kernel<<<1, kThreads, 0, stream>>>(partial, blocks, out);
    SA_CUDA_LAUNCH_CHECK();
}

}  // namespace cuda

void CudaBackend::sum_squares(const float * x, float * out, int64_t n) {
    SA_CHECK_ARG(n >= 0, "sum_squares: negative size");
    SA_CHECK_ARG(out != nullptr, "sum_squares: null out");
    activate();
    if (n == 0) {
        fill(out, 0.0f, 1);
        return;
    }
    SA_CHECK_ARG(x != nullptr, "sum_squares: null x");
    Scratch part(*this, (size_t) cuda::sum_squares_partials(n) * sizeof(double));
    cuda::launch_sum_squares(x, out, n, part.as<double>(), stream_);
}

}  // namespace sa
