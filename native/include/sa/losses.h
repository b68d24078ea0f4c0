// SPDX-License-Identifier: Apache-2.0
// Segmentation losses for mask-decoder fine-tuning, computed on the low-resolution mask logits
// (Backend::mask_loss). With x the logits, g the binary target and p = sigmoid(x), per sample:
//   DiceCE  (MONAI DiceCELoss, sigmoid, mean reduction; the paper's loss):
//             dice + mean_i BCEWithLogits(x_i, g_i),
//             dice = 1 - (2 sum(p g) + 1e-5) / (sum(p) + sum(g) + 1e-5)
//   MedSAM  as DiceCE with squared sums in the dice denominator: sum(p^2) + sum(g^2)
//   SAM     20 * mean_i focal(x_i, g_i) + dice + (iou_pred - IoU(x > 0, g))^2, where focal is
//             torchvision's sigmoid_focal_loss (alpha 0.25, gamma 2) and IoU(x > 0, g) is a constant
//             (no gradient flows through it; both masks empty counts as IoU 1).
// The batch loss is the mean of the per-sample losses. BCE and focal use the stable forms
// max(x, 0) - x g + log1p(exp(-|x|)).
#pragma once

#include <string>

namespace sa {

enum class LossKind : int { DiceCE = 0, MedSAM = 1, SAM = 2 };

constexpr float kDiceSmooth = 1e-5f;  // MONAI smooth_nr = smooth_dr
constexpr float kFocalAlpha = 0.25f;
constexpr float kFocalGamma = 2.0f;       // the kernels implement gamma = 2 exactly
constexpr float kSamFocalWeight = 20.0f;  // SAM: focal : dice = 20 : 1

// "dicece", "medsam", "sam"
const char * loss_name(LossKind k);
// Inverse of loss_name (case-sensitive); throws sa::Error(SA_ERR_INVALID_ARG) naming the choices.
LossKind parse_loss(const std::string & name);

}  // namespace sa
