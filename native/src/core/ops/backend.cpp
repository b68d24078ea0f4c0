// SPDX-License-Identifier: Apache-2.0
// What every backend shares: op names and the base answer of supports().
#include "sa/backend.h"

namespace sa {

const char * op_name(Op op) {
    switch (op) {
#define SA_OP_NAME(name) \
    case Op::name:       \
        return #name;
        SA_BACKEND_OPS(SA_OP_NAME)
#undef SA_OP_NAME
        case Op::count:
            break;
    }
    return "unknown";
}

bool Backend::supports(Op op) const {
    switch (op) {
        // The base versions of these only throw SA_ERR_UNSUPPORTED.
        case Op::conv2d_backward:
        case Op::depthwise_conv2d_backward:
        case Op::upsample_bilinear:
        case Op::upsample_bilinear_backward:
        case Op::attention_vit_backward:
        case Op::attention_tinyvit:
        case Op::attention_tinyvit_backward:
            return false;
        default:
            return true;
    }
}

}  // namespace sa
