// SPDX-License-Identifier: Apache-2.0
// Backend::layernorm, layernorm2d and their backward passes: the argument checks, then the backend's
// kernel (nothing to do: no call).
#include "sa/backend.h"

namespace sa {

void Backend::layernorm(const LayerNormArgs & a) {
    SA_CHECK_ARG(a.rows >= 0 && a.C > 0, "layernorm: bad size");
    SA_CHECK_ARG(a.eps >= 0.0f, "layernorm: negative eps");
    if (a.rows == 0) return;
    SA_CHECK_ARG(a.x && a.y, "layernorm: null pointer");
    layernorm_impl(a);
}

void Backend::layernorm_backward(const LayerNormBackwardArgs & a) {
    SA_CHECK_ARG(a.rows >= 0 && a.C > 0, "layernorm_backward: bad size");
    if (a.rows == 0) return;
    SA_CHECK_ARG(a.x && a.mean && a.rstd && a.dy, "layernorm_backward: null input");
    SA_CHECK_ARG(a.dx != a.x, "layernorm_backward: dx must not alias x");
    if (!a.dx && !a.dgamma && !a.dbeta) return;
    layernorm_backward_impl(a);
}

void Backend::layernorm2d(const LayerNorm2dArgs & a) {
    SA_CHECK_ARG(a.B >= 0 && a.C > 0 && a.HW >= 0, "layernorm2d: bad size");
    SA_CHECK_ARG(a.eps >= 0.0f, "layernorm2d: negative eps");
    if (a.B == 0 || a.HW == 0) return;
    SA_CHECK_ARG(a.x && a.y, "layernorm2d: null pointer");
    layernorm2d_impl(a);
}

void Backend::layernorm2d_backward(const LayerNorm2dBackwardArgs & a) {
    SA_CHECK_ARG(a.B >= 0 && a.C > 0 && a.HW >= 0, "layernorm2d_backward: bad size");
    if (a.B == 0 || a.HW == 0) return;
    SA_CHECK_ARG(a.x && a.mean && a.rstd && a.dy, "layernorm2d_backward: null input");
    SA_CHECK_ARG(a.dx != a.x, "layernorm2d_backward: dx must not alias x");
    if (!a.dx && !a.dgamma && !a.dbeta) return;
    layernorm2d_backward_impl(a);
}

}  // namespace sa
