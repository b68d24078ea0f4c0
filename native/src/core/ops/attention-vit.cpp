// SPDX-License-Identifier: Apache-2.0
// Backend::attention_vit / attention_vit_backward: the argument checks, then the backend's kernel.
#include <string>

#include "sa/backend.h"

namespace sa {

void Backend::attention_vit(const AttentionVitArgs & a) {
    SA_CHECK_ARG(a.B >= 0 && a.H > 0 && a.W > 0 && a.nh > 0 && a.hd > 0, "attention_vit: bad size");
    SA_CHECK_ARG((a.rel_pos_h == nullptr) == (a.rel_pos_w == nullptr),
                 "attention_vit: rel_pos_h and rel_pos_w must both be given or both be null");
    if (a.rel_pos_h) SA_CHECK_ARG(a.rel_len_h > 0 && a.rel_len_w > 0, "attention_vit: empty relative-position table");
    if (a.B == 0) return;
    SA_CHECK_ARG(a.qkv && a.out, "attention_vit: null pointer");
    SA_CHECK_ARG(a.qkv != a.out, "attention_vit: out must not alias qkv");
    attention_vit_impl(a);
}

void Backend::attention_vit_backward(const AttentionVitBackwardArgs & a) {
    SA_CHECK_ARG(a.B >= 0 && a.H > 0 && a.W > 0 && a.nh > 0 && a.hd > 0, "attention_vit_backward: bad size");
    SA_CHECK_ARG((a.rel_pos_h == nullptr) == (a.rel_pos_w == nullptr),
                 "attention_vit_backward: rel_pos_h and rel_pos_w must both be given or both be null");
    if (a.rel_pos_h) {
        SA_CHECK(a.rel_len_h == 2 * a.H - 1 && a.rel_len_w == 2 * a.W - 1, SA_ERR_UNSUPPORTED,
                 "attention_vit_backward: relative-position tables of " + std::to_string(a.rel_len_h) + " x " +
                     std::to_string(a.rel_len_w) + " rows for a " + std::to_string(a.H) + " x " + std::to_string(a.W) +
                     " grid need resampling, which has no backward pass (tables of 2H-1 / 2W-1 rows only)");
    }
    if (a.B == 0) return;
    SA_CHECK_ARG(a.qkv && a.dout && a.dqkv, "attention_vit_backward: null pointer");
    SA_CHECK_ARG(a.dqkv != a.qkv && a.dqkv != a.dout, "attention_vit_backward: dqkv must not alias its inputs");
    attention_vit_backward_impl(a);
}

}  // namespace sa
