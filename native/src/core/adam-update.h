// SPDX-License-Identifier: Apache-2.0
// One Adam / AdamW update of one parameter, in PyTorch's order of operations (torch.optim.Adam / AdamW,
// single-tensor path, amsgrad off), shared by the CPU (cpu/ops/adam.cpp, scalar tail) and CUDA
// (cuda/adam.cu) kernels:
//   Adam:  g += wd * param                  AdamW: param *= 1 - lr * wd
//   m = beta1 m + (1 - beta1) g,  v = beta2 v + (1 - beta2) g^2
//   param -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// The bias corrections depend on t and are computed on the host per step (adam_coeffs).
#pragma once

#include <cmath>
#include <cstdint>

#include "core/hd.h"
#include "sa/ops.h"

namespace sa {

struct AdamCoeffs {
    float beta1, beta2, one_m_b1, one_m_b2, weight_decay;
    float decay;     // 1 - lr * weight_decay (AdamW)
    float bc2_sqrt;  // sqrt(1 - beta2^t)
    float eps;
    float step_size;  // lr / (1 - beta1^t)
    bool decoupled;
};

inline AdamCoeffs adam_coeffs(const AdamArgs & a) {
    const float bc1 = (float) (1.0 - std::pow((double) a.beta1, (double) a.t));
    AdamCoeffs k;
    k.beta1 = a.beta1;
    k.beta2 = a.beta2;
    k.one_m_b1 = 1.0f - a.beta1;
    k.one_m_b2 = 1.0f - a.beta2;
    k.weight_decay = a.weight_decay;
    k.decay = 1.0f - a.lr * a.weight_decay;
    k.bc2_sqrt = (float) std::sqrt(1.0 - std::pow((double) a.beta2, (double) a.t));
    k.eps = a.eps;
    k.step_size = a.lr / bc1;
    k.decoupled = a.decoupled;
    return k;
}

// Updates param, m and v in place from the gradient g.
SA_HD void adam_update(float & param, float g, float & m, float & v, const AdamCoeffs & k) {
    float p = param;
    if (k.decoupled) {
        p *= k.decay;
    } else if (k.weight_decay != 0.0f) {
        g += k.weight_decay * p;
    }
    const float mi = k.beta1 * m + k.one_m_b1 * g;
    const float vi = k.beta2 * v + k.one_m_b2 * g * g;
    m = mi;
    v = vi;
#ifdef __CUDA_ARCH__
    // IEEE division and square root (the CUDA build uses --use_fast_math).
    param = p - __fdiv_rn(k.step_size * mi, __fdiv_rn(__fsqrt_rn(vi), k.bc2_sqrt) + k.eps);
#else
    param = p - k.step_size * mi / (std::sqrt(vi) / k.bc2_sqrt + k.eps);
#endif
}

}  // namespace sa
