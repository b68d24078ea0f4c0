// SPDX-License-Identifier: Apache-2.0
// Backend::linear_backward: the argument checks (an empty product only clears dx), then the backend's
// kernel.
#include "sa/backend.h"

namespace sa {

void Backend::linear_backward(const LinearBackwardArgs & a) {
    SA_CHECK_ARG(a.M >= 0 && a.K >= 0 && a.N >= 0, "linear_backward: negative size");
    if (a.M == 0 || a.N == 0) {
        if (a.dx && a.M > 0 && a.K > 0) fill(a.dx, 0.0f, (size_t) (a.M * a.K));
        return;
    }
    SA_CHECK_ARG(a.dy != nullptr, "linear_backward: null dy");
    if (a.dx && a.K > 0) {
        SA_CHECK_ARG(a.W != nullptr, "linear_backward: dx needs W");
        SA_CHECK_ARG(a.dx != a.dy, "linear_backward: dx must not alias dy");
    }
    if (a.dW && a.K > 0) SA_CHECK_ARG(a.x != nullptr, "linear_backward: dW needs x");
    linear_backward_impl(a);
}

}  // namespace sa
