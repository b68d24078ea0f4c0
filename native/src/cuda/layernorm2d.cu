// SPDX-License-Identifier: Apache-2.0
// LayerNorm2d (SAM): x [B, C, HW] channels first, normalised over C per pixel; two-pass statistics,
// one thread per pixel so that every channel's loads are coalesced along HW.
#include "cuda/backend-cuda.cuh"
#include "cuda/common.cuh"
#include "cuda/layernorm2d.cuh"

namespace sa {

namespace cuda {

static __global__ void layernorm2d_kernel(const float * __restrict__ x, const float * __restrict__ gamma,
                                          const float * __restrict__ beta, float * __restrict__ y,
                                          float * __restrict__ mean, float * __restrict__ rstd, int64_t B, int64_t C,
                                          int64_t HW, float eps) {
    const int64_t n = B * HW;
    for (int64_t t = blockIdx.x * (int64_t) blockDim.x + threadIdx.x; t < n; t += (int64_t) gridDim.x * blockDim.x) {
        const int64_t b = t / HW, p = t - b * HW;
        const float * xp = x + b * C * HW + p;
        float s = 0.0f;
        for (int64_t c = 0; c < C; ++c) s += xp[c * HW];
        const float mu = s / (float) C;
        float q = 0.0f;
        for (int64_t c = 0; c < C; ++c) {
            const float d = xp[c * HW] - mu;
            q += d * d;
        }
        const float rs = rsqrtf(q / (float) C + eps);
        if (mean) mean[t] = mu;
        if (rstd) rstd[t] = rs;
        float * yp = y + b * C * HW + p;
        for (int64_t c = 0; c < C; ++c) {
            float v = (xp[c * HW] - mu) * rs;
            if (gamma) v *= gamma[c];
            if (beta) v += beta[c];
            yp[c * HW] = v;
        }
    }
}

void launch_layernorm2d(const float * x, const float * gamma, const float * beta, float * y, float * mean, float * rstd,
                        int64_t B, int64_t C, int64_t HW, float eps, cudaStream_t stream) {
    const int64_t n = B * HW;
    if (n <= 0) return;
    layernorm2d_kernel<<<grid_for(n, 128), 128, 0, stream>>>(x, gamma, beta, y, mean, rstd, B, C, HW, eps);
    SA_CUDA_LAUNCH_CHECK();
}

}  // namespace cuda

void CudaBackend::layernorm2d_impl(const LayerNorm2dArgs & a) {
    const auto & [x, gamma, beta, y, mean, rstd, B, C, HW, eps] = a;
    activate();
    cuda::launch_layernorm2d(x, gamma, beta, y, mean, rstd, B, C, HW, eps, stream_);
}

}  // namespace sa
