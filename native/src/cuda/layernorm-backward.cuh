// SPDX-License-Identifier: Apache-2.0
// LayerNorm backward (last dimension) on the CUDA backend.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace sa {
namespace cuda {

// dx = rstd (g - mean_c(g) - xhat mean_c(g xhat)), g = dy gamma (one warp per row; overwrite).
void launch_layernorm_backward_dx(const float * x, const float * gamma, const float * mean, const float * rstd,
                                  const float * dy, float * dx, int64_t rows, int64_t C, cudaStream_t stream);

}  // namespace cuda
}  // namespace sa
