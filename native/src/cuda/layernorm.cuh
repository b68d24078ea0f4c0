// SPDX-License-Identifier: Apache-2.0
// LayerNorm over the last dimension on the CUDA backend (one warp per row).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace sa {
namespace cuda {

// y = (x - mean) rstd gamma + beta per row of C; mean/rstd [rows] written when non-null.
// gamma/beta may be null (1 / 0).
void launch_layernorm(const float * x, const float * gamma, const float * beta, float * y, float * mean, float * rstd,
                      int64_t rows, int64_t C, float eps, cudaStream_t stream);

}  // namespace cuda
}  // namespace sa
