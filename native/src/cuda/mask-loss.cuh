// SPDX-License-Identifier: Apache-2.0
// Segmentation losses (sa/losses.h) on the CUDA backend: partial sums, per-sample selection of the best
// candidate and the loss on the device (no host synchronisation), then the gradient.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace sa {
namespace cuda {

constexpr int kLossSums = 7;  // sum(p g), sum(p) or sum(p^2), sum(g) or sum(g^2), BCE, focal, |pred&g|, |pred|g|
constexpr int64_t kLossChunk = 4096;  // pixels per partial sum

struct MaskLossArgs {
    int kind;  // sa::LossKind
    const float * logits;
    const float * target;
    float * loss_out;
    float * dlogits;
    int64_t B, M, HW;
    const float * iou_pred;
    int64_t iou_ld;
    float * diou_pred;
};

// partial: B*M*chunks*kLossSums doubles; coef: B*M float4 (dice gradient coefficients, selection flag).
void launch_mask_loss(const MaskLossArgs & a, double * partial, float4 * coef, cudaStream_t stream);

}  // namespace cuda
}  // namespace sa
