// SPDX-License-Identifier: Apache-2.0
// Segmentation losses (sa/losses.h) on the CUDA backend: partial sums, per-sample selection of the best
// candidate and the loss on the device (no host synchronisation), then the gradient.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "sa/ops.h"

namespace sa {
namespace cuda {

// partial: B*M*chunks*kLossSums doubles; coef: B*M float4 (dice gradient coefficients, selection flag).
void launch_mask_loss(const MaskLossArgs & a, double * partial, float4 * coef, cudaStream_t stream);

}  // namespace cuda
}  // namespace sa
