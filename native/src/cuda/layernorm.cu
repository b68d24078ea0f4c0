// SPDX-License-Identifier: Apache-2.0
// LayerNorm over the last dimension: two-pass statistics (biased variance, as torch.nn.LayerNorm),
// one warp per row.
#include "cuda/backend-cuda.cuh"
#include "cuda/common.cuh"
#include "cuda/layernorm.cuh"

namespace sa {

namespace cuda {

static __global__ void layernorm_kernel(const float * __restrict__ x, const float * __restrict__ gamma,
                                        const float * __restrict__ beta, float * __restrict__ y,
                                        float * __restrict__ mean, float * __restrict__ rstd, int64_t rows, int64_t C,
                                        float eps) {
    const int lane = threadIdx.x & 31;
    const int64_t row = (blockIdx.x * (int64_t) blockDim.x + threadIdx.x) >> 5;
    if (row >= rows) return;
    const float * xr = x + row * C;
    float s = 0.0f;
    for (int64_t c = lane; c < C; c += 32) s += xr[c];
    const float mu = warp_sum(s) / (float) C;
    float q = 0.0f;
    for (int64_t c = lane; c < C; c += 32) {
        const float d = xr[c] - mu;
        q += d * d;
    }
    const float rs = rsqrtf(warp_sum(q) / (float) C + eps);
    if (lane == 0) {
        if (mean) mean[row] = mu;
        if (rstd) rstd[row] = rs;
    }
    float * yr = y + row * C;
    for (int64_t c = lane; c < C; c += 32) {
        float v = (xr[c] - mu) * rs;
        if (gamma) v *= gamma[c];
        if (beta) v += beta[c];
        yr[c] = v;
    }
}

void launch_layernorm(const float * x, const float * gamma, const float * beta, float * y, float * mean, float * rstd,
                      int64_t rows, int64_t C, float eps, cudaStream_t stream) {
    if (rows <= 0) return;
    constexpr int kRowsPerBlock = kThreads / 32;
    layernorm_kernel<<<ceil_div_u(rows, kRowsPerBlock), kThreads, 0, stream>>>(x, gamma, beta, y, mean, rstd, rows, C,
                                                                               eps);
    SA_CUDA_LAUNCH_CHECK();
}

}  // namespace cuda

void CudaBackend::layernorm_impl(const LayerNormArgs & a) {
    const auto & [x, gamma, beta, y, mean, rstd, rows, C, eps] = a;
    activate();
    cuda::launch_layernorm(x, gamma, beta, y, mean, rstd, rows, C, eps, stream_);
}

}  // namespace sa
