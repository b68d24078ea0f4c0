// SPDX-License-Identifier: Apache-2.0
// One Adam / AdamW step over a flat parameter buffer, in PyTorch's order of operations
// (torch.optim.Adam / AdamW, single-tensor path, amsgrad off):
//   Adam:  g += wd * param                  AdamW: param *= 1 - lr * wd
//   m = beta1 m + (1 - beta1) g,  v = beta2 v + (1 - beta2) g^2
//   param -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
#include <cmath>
#include <string>

#include "cpu/backend-cpu.h"
#include "sa/threadpool.h"

namespace sa {

void CpuBackend::adam_step(float * param, const float * grad, float * m, float * v, int64_t n, float lr, float beta1,
                           float beta2, float eps, float weight_decay, bool decoupled, int64_t t) {
    SA_CHECK_ARG(n >= 0, "adam_step: negative size");
    SA_CHECK_ARG(t >= 1, "adam_step: step number must start at 1");
    SA_CHECK_ARG(beta1 >= 0.0f && beta1 < 1.0f && beta2 >= 0.0f && beta2 < 1.0f, "adam_step: betas outside [0, 1)");
    SA_CHECK_ARG(std::isfinite(lr) && lr >= 0.0f && eps >= 0.0f && weight_decay >= 0.0f,
                 "adam_step: lr, eps and weight_decay must be finite and non-negative");
    if (n == 0) return;
    SA_CHECK_ARG(param && grad && m && v, "adam_step: null pointer");
    const float bc1 = (float) (1.0 - std::pow((double) beta1, (double) t));
    const float bc2_sqrt = (float) std::sqrt(1.0 - std::pow((double) beta2, (double) t));
    const float step_size = lr / bc1;
    const float decay = 1.0f - lr * weight_decay;
    default_pool().parallel_for(
        n,
        [&](int64_t i0, int64_t i1) {
            for (int64_t i = i0; i < i1; ++i) {
                float g = grad[i];
                float p = param[i];
                if (decoupled) {
                    p *= decay;
                } else if (weight_decay != 0.0f) {
                    g += weight_decay * p;
                }
                const float mi = beta1 * m[i] + (1.0f - beta1) * g;
                const float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
                m[i] = mi;
                v[i] = vi;
                param[i] = p - step_size * mi / (std::sqrt(vi) / bc2_sqrt + eps);
            }
        },
        1 << 14);
}

}  // namespace sa
