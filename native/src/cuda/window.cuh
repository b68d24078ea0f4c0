// SPDX-License-Identifier: Apache-2.0
// SAM window partitioning on the CUDA backend: [B, H, W, C] <-> [B * nWh * nWw, win, win, C].
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace sa {
namespace cuda {

// Zero-pads the grid at the bottom/right to multiples of win.
void launch_window_partition(const float * x, float * y, int64_t B, int64_t H, int64_t W, int64_t C, int64_t win,
                             cudaStream_t stream);
// Drops the padding again.
void launch_window_unpartition(const float * x, float * y, int64_t B, int64_t H, int64_t W, int64_t C, int64_t win,
                               cudaStream_t stream);

}  // namespace cuda
}  // namespace sa
