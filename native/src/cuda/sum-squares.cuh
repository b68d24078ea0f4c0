// SPDX-License-Identifier: Apache-2.0
// Sum of squares into a device scalar on the CUDA backend (deterministic two-stage reduction).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace sa {
namespace cuda {

// Number of partial sums (doubles) launch_sum_squares needs as scratch for n elements.
int64_t sum_squares_partials(int64_t n);
// out[0] = sum x[i]^2 (accumulated in double; NaN / Inf propagate).
void launch_sum_squares(const float * x, float * out, int64_t n, double * partial, cudaStream_t stream);

}  // namespace cuda
}  // namespace sa
