// SPDX-License-Identifier: Apache-2.0
// Elementwise kernels of the CUDA backend: add, add_bias (row broadcast), scale, and the bias
// broadcast used by the GEMM-based layers.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace sa {
namespace cuda {

void launch_add(const float * a, const float * b, float * y, int64_t n, cudaStream_t stream);
// y[r, c] = x[r, c] + bias[c]
void launch_add_bias(const float * x, const float * bias, float * y, int64_t rows, int64_t cols, cudaStream_t stream);
void launch_scale(const float * x, float s, float * y, int64_t n, cudaStream_t stream);
// y[r, c] = bias[c]
void launch_broadcast_rows(float * y, const float * bias, int64_t rows, int64_t cols, cudaStream_t stream);
// y[r, c] = bias[r] (channels-first bias of a convolution: r = (image, channel), c = pixel)
void launch_broadcast_cols(float * y, const float * bias, int64_t images, int64_t channels, int64_t pixels,
                           cudaStream_t stream);

}  // namespace cuda
}  // namespace sa
