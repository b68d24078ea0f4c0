// SPDX-License-Identifier: Apache-2.0
// ReLU and its backward pass (from the saved output) on the CUDA backend.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace sa {
namespace cuda {

// y = x < 0 ? 0 : x (NaN stays NaN)
void launch_relu(const float * x, float * y, int64_t n, cudaStream_t stream);
// dx = y > 0 ? dy : 0
void launch_relu_backward(const float * y, const float * dy, float * dx, int64_t n, cudaStream_t stream);

}  // namespace cuda
}  // namespace sa
