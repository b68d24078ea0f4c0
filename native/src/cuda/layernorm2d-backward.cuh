// SPDX-License-Identifier: Apache-2.0
// LayerNorm2d backward (x [B, C, HW], normalised over C per pixel) on the CUDA backend.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace sa {
namespace cuda {

// dx = rstd (g - mean_c(g) - xhat mean_c(g xhat)), g = dy gamma[c] (one thread per pixel; overwrite).
void launch_layernorm2d_backward_dx(const float * x, const float * gamma, const float * mean, const float * rstd,
                                    const float * dy, float * dx, int64_t B, int64_t C, int64_t HW,
                                    cudaStream_t stream);

}  // namespace cuda
}  // namespace sa
