// SPDX-License-Identifier: Apache-2.0
// Adam / AdamW step over a flat parameter buffer on the CUDA backend.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace sa {
namespace cuda {

struct AdamCoeffs {
    float lr, beta1, beta2, eps, weight_decay;
    float step_size;  // lr / (1 - beta1^t)
    float bc2_sqrt;   // sqrt(1 - beta2^t)
    float decay;      // 1 - lr * weight_decay (AdamW)
    bool decoupled;
};

void launch_adam_step(float * param, const float * grad, float * m, float * v, int64_t n, const AdamCoeffs & k,
                      cudaStream_t stream);

}  // namespace cuda
}  // namespace sa
