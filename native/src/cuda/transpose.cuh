// SPDX-License-Identifier: Apache-2.0
// Batched transpose of the last two dims on the CUDA backend: x[B, R, C] -> y[B, C, R].
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace sa {
namespace cuda {

// 32x32 shared-memory tiles (coalesced reads and writes).
void launch_transpose_last2(const float * x, float * y, int64_t B, int64_t R, int64_t C, cudaStream_t stream);

}  // namespace cuda
}  // namespace sa
