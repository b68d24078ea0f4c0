// SPDX-License-Identifier: Apache-2.0
// Backend::mask_head / mask_head_backward: the argument checks, then the backend's kernel (the base
// versions compose other ops: decoder-fallbacks.cpp).
#include <string>

#include "sa/backend.h"

namespace sa {

namespace {

void check_sizes(const char * op, int64_t B, int64_t M, int64_t E, int64_t Cf) {
    SA_CHECK_ARG(B > 0 && M > 0 && E > 0 && Cf > 0, std::string(op) + ": bad size");
}

}  // namespace

void Backend::mask_head(const MaskHeadArgs & a) {
    check_sizes("mask_head", a.B, a.M, a.E, a.Cf);
    SA_CHECK_ARG(a.feat && a.hyper && a.masks, "mask_head: null pointer");
    mask_head_impl(a);
}

void Backend::mask_head_backward(const MaskHeadBackwardArgs & a) {
    check_sizes("mask_head_backward", a.B, a.M, a.E, a.Cf);
    if (!a.dfeat && !a.dhyper) return;
    SA_CHECK_ARG(a.feat && a.hyper && a.dmasks, "mask_head_backward: null input");
    mask_head_backward_impl(a);
}

}  // namespace sa
