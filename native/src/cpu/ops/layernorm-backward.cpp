// SPDX-License-Identifier: Apache-2.0
// LayerNorm backward over the last dimension, from the saved mean/rstd (cpu/layernorm-backward-rows.h).
#include "cpu/backend-cpu.h"
#include "cpu/layernorm-backward-rows.h"
#include "sa/threadpool.h"

namespace sa {

void CpuBackend::layernorm_backward_impl(const LayerNormBackwardArgs & a) {
    const auto & [x, gamma, mean, rstd, dy, dx, dgamma, dbeta, rows, C] = a;
    const std::shared_ptr<ThreadPool> held = pool();
    cpu::layernorm_backward_rows(*held, x, gamma, mean, rstd, rows, C, dx, dgamma, dbeta,
                                 [&](int64_t r, float *) { return dy + r * C; });
}

}  // namespace sa
