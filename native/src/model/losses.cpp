// SPDX-License-Identifier: Apache-2.0
#include "sa/losses.h"

#include "sa/status.h"

namespace sa {

const char * loss_name(LossKind k) {
    switch (k) {
        case LossKind::DiceCE:
            return "dicece";
        case LossKind::MedSAM:
            return "medsam";
        case LossKind::SAM:
            return "sam";
    }
    return "unknown";
}

LossKind parse_loss(const std::string & name) {
    for (LossKind k : {LossKind::DiceCE, LossKind::MedSAM, LossKind::SAM})
        if (name == loss_name(k)) return k;
    fail(SA_ERR_INVALID_ARG, "unknown loss '" + name + "' (expected dicece, medsam or sam)");
}

}  // namespace sa
