// SPDX-License-Identifier: Apache-2.0
// Backend::attention_tinyvit / attention_tinyvit_backward: the argument checks, then the backend's
// kernel.
#include <string>

#include "sa/backend.h"

namespace sa {

namespace {

void check_sizes(const std::string & op, int64_t B, int64_t H, int64_t W, int64_t win, int64_t nh, int64_t kd,
                 int64_t vd) {
    SA_CHECK_ARG(B >= 0 && H > 0 && W > 0, op + ": bad grid size");
    SA_CHECK_ARG(win > 0 && nh > 0 && kd > 0 && vd > 0, op + ": bad window, head count or head dims");
}

}  // namespace

void Backend::attention_tinyvit(const AttentionTinyVitArgs & a) {
    check_sizes("attention_tinyvit", a.B, a.H, a.W, a.win, a.nh, a.kd, a.vd);
    if (a.B == 0) return;
    SA_CHECK_ARG(a.qkv && a.out, "attention_tinyvit: null pointer");
    SA_CHECK_ARG(a.out != a.qkv, "attention_tinyvit: out must not alias qkv");
    attention_tinyvit_impl(a);
}

void Backend::attention_tinyvit_backward(const AttentionTinyVitBackwardArgs & a) {
    check_sizes("attention_tinyvit_backward", a.B, a.H, a.W, a.win, a.nh, a.kd, a.vd);
    if (a.B == 0) return;
    SA_CHECK_ARG(a.qkv && a.dout && a.dqkv, "attention_tinyvit_backward: null pointer");
    SA_CHECK_ARG(a.dqkv != a.qkv && a.dqkv != a.dout, "attention_tinyvit_backward: dqkv must not alias its inputs");
    attention_tinyvit_backward_impl(a);
}

}  // namespace sa
