// SPDX-License-Identifier: Apache-2.0
// LayerNorm backward over the last dimension, from the saved mean/rstd:
//   xhat = (x - mean) rstd, g = dy gamma,
//   dx = rstd (g - mean_c(g) - xhat mean_c(g xhat))            (overwrite; one warp per row)
//   dgamma[c] += sum_rows dy xhat, dbeta[c] += sum_rows dy      (accumulate; deterministic reduction)
#include "cuda/backend-cuda.cuh"
#include "cuda/common.cuh"
#include "cuda/layernorm-backward.cuh"
#include "cuda/reduce.cuh"

namespace sa {

namespace cuda {

static __global__ void layernorm_backward_dx_kernel(const float * __restrict__ x, const float * __restrict__ gamma,
                                                    const float * __restrict__ mean, const float * __restrict__ rstd,
                                                    const float * __restrict__ dy, float * __restrict__ dx,
                                                    int64_t rows, int64_t C) {
    const int lane = threadIdx.x & 31;
    const int64_t row = (blockIdx.x * (int64_t) blockDim.x + threadIdx.x) >> 5;
    if (row >= rows) return;
    const float * xr = x + row * C;
    const float * dr = dy + row * C;
    const float mu = mean[row], rs = rstd[row];
    float sg = 0.0f, sgx = 0.0f;
    for (int64_t c = lane; c < C; c += 32) {
        const float g = dr[c] * (gamma ? gamma[c] : 1.0f);
        sg += g;
        sgx += g * ((xr[c] - mu) * rs);
    }
    const float inv_c = 1.0f / (float) C;
    const float mg = warp_sum(sg) * inv_c, mgx = warp_sum(sgx) * inv_c;
    float * out = dx + row * C;
    for (int64_t c = lane; c < C; c += 32) {
        const float g = dr[c] * (gamma ? gamma[c] : 1.0f);
        out[c] = rs * (g - mg - (xr[c] - mu) * rs * mgx);
    }
}

void launch_layernorm_backward_dx(const float * x, const float * gamma, const float * mean, const float * rstd,
                                  const float * dy, float * dx, int64_t rows, int64_t C, cudaStream_t stream) {
    if (rows <= 0) return;
    layernorm_backward_dx_kernel<<<ceil_div_u(rows, kThreads / 32), kThreads, 0, stream>>>(x, gamma, mean, rstd, dy, dx,
                                                                                           rows, C);
    SA_CUDA_LAUNCH_CHECK();
}

}  // namespace cuda

namespace {
struct LnParamGrad {
    const float *x, *dy, *mean, *rstd;
    int64_t C;
    __device__ float2 operator()(int64_t r, int64_t c) const {
        const float d = dy[r * C + c];
        return make_float2(d * ((x[r * C + c] - mean[r]) * rstd[r]), d);
    }
};
}  // namespace

void CudaBackend::layernorm_backward_impl(const LayerNormBackwardArgs & a) {
    const auto & [x, gamma, mean, rstd, dy, dx, dgamma, dbeta, rows, C] = a;
    activate();
    if (dx) {
        cuda::launch_layernorm_backward_dx(x, gamma, mean, rstd, dy, dx, rows, C, stream_);
    }
    if (dgamma || dbeta)
        cuda::launch_col_reduce(*this, LnParamGrad{x, dy, mean, rstd, C}, rows, C, dgamma, dbeta, true);
}

}  // namespace sa
