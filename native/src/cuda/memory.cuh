// SPDX-License-Identifier: Apache-2.0
// Device memory ops of the CUDA backend: fill kernel launcher (alloc/free/transfers live in memory.cu).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace sa {
namespace cuda {

// dst[i] = value for i < n.
void launch_fill(float * dst, float value, int64_t n, cudaStream_t stream);

}  // namespace cuda
}  // namespace sa
