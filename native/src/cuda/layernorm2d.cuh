// SPDX-License-Identifier: Apache-2.0
// LayerNorm2d (SAM) on the CUDA backend: x [B, C, HW], normalised over C per pixel.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace sa {
namespace cuda {

// One thread per pixel (coalesced along HW); mean/rstd [B, HW] written when non-null.
void launch_layernorm2d(const float * x, const float * gamma, const float * beta, float * y, float * mean, float * rstd,
                        int64_t B, int64_t C, int64_t HW, float eps, cudaStream_t stream);

}  // namespace cuda
}  // namespace sa
