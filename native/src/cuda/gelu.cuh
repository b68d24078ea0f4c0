// SPDX-License-Identifier: Apache-2.0
// Exact (erf) GELU and its backward pass on the CUDA backend.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace sa {
namespace cuda {

// y = x * Phi(x)
void launch_gelu(const float * x, float * y, int64_t n, cudaStream_t stream);
// dx = dy * (Phi(x) + x phi(x))
void launch_gelu_backward(const float * x, const float * dy, float * dx, int64_t n, cudaStream_t stream);

}  // namespace cuda
}  // namespace sa
