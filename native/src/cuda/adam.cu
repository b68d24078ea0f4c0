// SPDX-License-Identifier: Apache-2.0
// One Adam / AdamW step over a flat parameter buffer (the update of one element: core/adam-update.h).
// The bias corrections depend on t and are computed on the host per call, so a CUDA graph should
// capture the forward/backward pass and leave this single launch outside (see cuda/graph.h).
#include "core/adam-update.h"
#include "cuda/adam.cuh"
#include "cuda/backend-cuda.cuh"
#include "cuda/common.cuh"

namespace sa {

namespace cuda {

static __global__ void adam_step_kernel(float * __restrict__ param, const float * __restrict__ grad,
                                        float * __restrict__ m, float * __restrict__ v, int64_t n, AdamCoeffs k) {
    for (int64_t i = blockIdx.x * (int64_t) blockDim.x + threadIdx.x; i < n; i += (int64_t) gridDim.x * blockDim.x)
        adam_update(param[i], grad[i], m[i], v[i], k);
}

void launch_adam_step(float * param, const float * grad, float * m, float * v, int64_t n, const AdamCoeffs & k,
                      cudaStream_t stream) {
    if (n <= 0) return;
    adam_step_kernel<<<grid_for(n), kThreads, 0, stream>>>(param, grad, m, v, n, k);
    SA_CUDA_LAUNCH_CHECK();
}

}  // namespace cuda

void CudaBackend::adam_step_impl(const AdamArgs & a) {
    activate();
    cuda::launch_adam_step(a.param, a.grad, a.m, a.v, a.n, adam_coeffs(a), stream_);
}

}  // namespace sa
