// SPDX-License-Identifier: Apache-2.0
// The mask decoder's multi-head attention (+ backward) on the CUDA backend: cuBLAS batched GEMMs per
// image over the heads, with row-softmax kernels between them.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace sa {
namespace cuda {

// In place over rows of n: p = softmax(p).
void launch_softmax_rows(float * p, int64_t rows, int64_t n, cudaStream_t stream);
// In place over rows of n: ds = p * (ds - sum(ds * p)) * scale (softmax backward; ds holds dP on entry).
void launch_softmax_backward_rows(const float * p, float * ds, int64_t rows, int64_t n, float scale,
                                  cudaStream_t stream);

}  // namespace cuda
}  // namespace sa
