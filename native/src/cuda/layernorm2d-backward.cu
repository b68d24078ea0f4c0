// SPDX-License-Identifier: Apache-2.0
// LayerNorm2d backward (x [B, C, HW]) from the saved mean/rstd [B, HW]:
//   xhat = (x - mean) rstd, g = dy gamma[c],
//   dx = rstd (g - mean_c(g) - xhat mean_c(g xhat))                      (overwrite; thread per pixel)
//   dgamma[c] += sum_{b,p} dy xhat, dbeta[c] += sum_{b,p} dy             (accumulate; deterministic)
#include "cuda/backend-cuda.cuh"
#include "cuda/common.cuh"
#include "cuda/layernorm2d-backward.cuh"
#include "cuda/reduce.cuh"

namespace sa {

namespace cuda {

static __global__ void layernorm2d_backward_dx_kernel(const float * __restrict__ x, const float * __restrict__ gamma,
                                                      const float * __restrict__ mean, const float * __restrict__ rstd,
                                                      const float * __restrict__ dy, float * __restrict__ dx, int64_t B,
                                                      int64_t C, int64_t HW) {
    const int64_t n = B * HW;
    for (int64_t t = blockIdx.x * (int64_t) blockDim.x + threadIdx.x; t < n; t += (int64_t) gridDim.x * blockDim.x) {
        const int64_t b = t / HW, p = t - b * HW;
        const float * xp = x + b * C * HW + p;
        const float * dp = dy + b * C * HW + p;
        const float mu = mean[t], rs = rstd[t];
        float sg = 0.0f, sgx = 0.0f;
        for (int64_t c = 0; c < C; ++c) {
            const float g = dp[c * HW] * (gamma ? gamma[c] : 1.0f);
            sg += g;
            sgx += g * ((xp[c * HW] - mu) * rs);
        }
        const float inv_c = 1.0f / (float) C;
        sg *= inv_c;
        sgx *= inv_c;
        float * op = dx + b * C * HW + p;
        for (int64_t c = 0; c < C; ++c) {
            const float g = dp[c * HW] * (gamma ? gamma[c] : 1.0f);
            op[c * HW] = rs * (g - sg - (xp[c * HW] - mu) * rs * sgx);
        }
    }
}

void launch_layernorm2d_backward_dx(const float * x, const float * gamma, const float * mean, const float * rstd,
                                    const float * dy, float * dx, int64_t B, int64_t C, int64_t HW,
                                    cudaStream_t stream) {
    const int64_t n = B * HW;
    if (n <= 0) return;
    layernorm2d_backward_dx_kernel<<<grid_for(n, 128), 128, 0, stream>>>(x, gamma, mean, rstd, dy, dx, B, C, HW);
    SA_CUDA_LAUNCH_CHECK();
}

}  // namespace cuda

namespace {
struct Ln2dParamGrad {
    const float *x, *dy, *mean, *rstd;
    int64_t C, HW;
    __device__ float2 operator()(int64_t b, int64_t c, int64_t p) const {
        const int64_t i = (b * C + c) * HW + p;
        const float d = dy[i];
        return make_float2(d * ((x[i] - mean[b * HW + p]) * rstd[b * HW + p]), d);
    }
};
}  // namespace

void CudaBackend::layernorm2d_backward_impl(const LayerNorm2dBackwardArgs & a) {
    const auto & [x, gamma, mean, rstd, dy, dx, dgamma, dbeta, B, C, HW] = a;
    activate();
    if (dx) {
        cuda::launch_layernorm2d_backward_dx(x, gamma, mean, rstd, dy, dx, B, C, HW, stream_);
    }
    if (dgamma || dbeta)
        cuda::launch_channel_reduce(*this, Ln2dParamGrad{x, dy, mean, rstd, C, HW}, B, C, HW, dgamma, dbeta, true);
}

}  // namespace sa
