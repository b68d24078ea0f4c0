// SPDX-License-Identifier: Apache-2.0
// One Adam / AdamW step over a flat parameter buffer, in PyTorch's order of operations
// (torch.optim.Adam / AdamW, single-tensor path, amsgrad off):
//   Adam:  g += wd * param                  AdamW: param *= 1 - lr * wd
//   m = beta1 m + (1 - beta1) g,  v = beta2 v + (1 - beta2) g^2
//   param -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// The bias corrections depend on t and are computed on the host per call, so a CUDA graph should
// capture the forward/backward pass and leave this single launch outside (see cuda/graph.h).
#include <cmath>

#include "cuda/adam.cuh"
#include "cuda/backend-cuda.cuh"
#include "cuda/common.cuh"

namespace sa {

namespace cuda {

static __global__ void adam_step_kernel(float * __restrict__ param, const float * __restrict__ grad,
                                        float * __restrict__ m, float * __restrict__ v, int64_t n, AdamCoeffs k) {
    for (int64_t i = blockIdx.x * (int64_t) blockDim.x + threadIdx.x; i < n; i += (int64_t) gridDim.x * blockDim.x) {
        float g = grad[i];
        float p = param[i];
        if (k.decoupled) {
            p *= k.decay;
        } else if (k.weight_decay != 0.0f) {
            g += k.weight_decay * p;
        }
        const float mi = k.beta1 * m[i] + (1.0f - k.beta1) * g;
        const float vi = k.beta2 * v[i] + (1.0f - k.beta2) * g * g;
        m[i] = mi;
        v[i] = vi;
        param[i] = p - k.step_size * __fdiv_rn(mi, __fdiv_rn(__fsqrt_rn(vi), k.bc2_sqrt) + k.eps);
    }
}

void launch_adam_step(float * param, const float * grad, float * m, float * v, int64_t n, const AdamCoeffs & k,
                      cudaStream_t stream) {
    if (n <= 0) return;
    adam_step_kernel<<<grid_for(n), kThreads, 0, stream>>>(param, grad, m, v, n, k);
    SA_CUDA_LAUNCH_CHECK();
}

}  // namespace cuda

void CudaBackend::adam_step(float * param, const float * grad, float * m, float * v, int64_t n, float lr, float beta1,
                            float beta2, float eps, float weight_decay, bool decoupled, int64_t t) {
    SA_CHECK_ARG(n >= 0, "adam_step: negative size");
    SA_CHECK_ARG(t >= 1, "adam_step: step number must start at 1");
    SA_CHECK_ARG(beta1 >= 0.0f && beta1 < 1.0f && beta2 >= 0.0f && beta2 < 1.0f, "adam_step: betas outside [0, 1)");
    SA_CHECK_ARG(std::isfinite(lr) && lr >= 0.0f && eps >= 0.0f && weight_decay >= 0.0f,
                 "adam_step: lr, eps and weight_decay must be finite and non-negative");
    if (n == 0) return;
    SA_CHECK_ARG(param && grad && m && v, "adam_step: null pointer");
    activate();
    cuda::AdamCoeffs k;
    k.lr = lr;
    k.beta1 = beta1;
    k.beta2 = beta2;
    k.eps = eps;
    k.weight_decay = weight_decay;
    const float bc1 = (float) (1.0 - std::pow((double) beta1, (double) t));
    k.bc2_sqrt = (float) std::sqrt(1.0 - std::pow((double) beta2, (double) t));
    k.step_size = lr / bc1;
    k.decay = 1.0f - lr * weight_decay;
    k.decoupled = decoupled;
    cuda::launch_adam_step(param, grad, m, v, n, k, stream_);
}

}  // namespace sa
