// SPDX-License-Identifier: Apache-2.0
// Backend::mask_loss: the argument checks, then the backend's kernel.
#include <string>

#include "sa/backend.h"
#include "sa/losses.h"

namespace sa {

void Backend::mask_loss(const MaskLossArgs & a) {
    SA_CHECK_ARG(a.kind >= 0 && a.kind <= 2, "mask_loss: unknown loss kind " + std::to_string(a.kind));
    SA_CHECK_ARG(a.B > 0 && a.M > 0 && a.HW > 0, "mask_loss: bad size");
    SA_CHECK_ARG(a.logits && a.target && a.loss_out, "mask_loss: null pointer");
    if (static_cast<LossKind>(a.kind) == LossKind::SAM) {
        SA_CHECK_ARG(a.iou_pred != nullptr, "mask_loss: the sam loss needs iou_pred");
        SA_CHECK_ARG(a.iou_ld >= a.M, "mask_loss: iou_ld smaller than M");
    }
    if (a.diou_pred) SA_CHECK_ARG(a.iou_ld >= a.M, "mask_loss: iou_ld smaller than M");
    mask_loss_impl(a);
}

}  // namespace sa
