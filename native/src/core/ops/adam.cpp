// SPDX-License-Identifier: Apache-2.0
// Backend::adam_step / adam_step_zero_grad: the argument checks, then the backend's kernel. The base
// adam_step_zero_grad_impl runs adam_step_impl and fill.
#include <cmath>

#include "sa/backend.h"

namespace sa {

namespace {

// false: an empty buffer (nothing to do).
bool check_adam(const AdamArgs & a) {
    SA_CHECK_ARG(a.n >= 0, "adam_step: negative size");
    SA_CHECK_ARG(a.t >= 1, "adam_step: step number must start at 1");
    SA_CHECK_ARG(a.beta1 >= 0.0f && a.beta1 < 1.0f && a.beta2 >= 0.0f && a.beta2 < 1.0f,
                 "adam_step: betas outside [0, 1)");
    SA_CHECK_ARG(std::isfinite(a.lr) && a.lr >= 0.0f && a.eps >= 0.0f && a.weight_decay >= 0.0f,
                 "adam_step: lr, eps and weight_decay must be finite and non-negative");
    if (a.n == 0) return false;
    SA_CHECK_ARG(a.param && a.grad && a.m && a.v, "adam_step: null pointer");
    return true;
}

}  // namespace

void Backend::adam_step(const AdamArgs & a) {
    if (check_adam(a)) adam_step_impl(a);
}

void Backend::adam_step_zero_grad(const AdamArgs & a) {
    if (check_adam(a)) adam_step_zero_grad_impl(a);
}

void Backend::adam_step_zero_grad_impl(const AdamArgs & a) {
    adam_step_impl(a);
    fill(a.grad, 0.0f, (size_t) a.n);
}

}  // namespace sa
