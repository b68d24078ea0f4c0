// SPDX-License-Identifier: Apache-2.0
// ConvTranspose2d with kernel == stride == 2 on the CUDA backend (GEMM + (de)interleave kernels).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace sa {
namespace cuda {

// y[b, o, 2i+ki, 2j+kj] = z[b, o*4 + ki*2 + kj, i*W + j] + bias[o] (bias nullable).
void launch_k2s2_interleave(const float * z, const float * bias, float * y, int64_t B, int64_t O, int64_t H, int64_t W,
                            cudaStream_t stream);
// The inverse gather: dz[b, o*4 + ki*2 + kj, i*W + j] = dy[b, o, 2i+ki, 2j+kj].
void launch_k2s2_deinterleave(const float * dy, float * dz, int64_t B, int64_t O, int64_t H, int64_t W,
                              cudaStream_t stream);

}  // namespace cuda
}  // namespace sa
