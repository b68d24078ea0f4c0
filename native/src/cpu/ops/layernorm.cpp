// SPDX-License-Identifier: Apache-2.0
// LayerNorm over the last dimension: y = (x - mean) * rstd * gamma + beta, two-pass statistics
// (biased variance, as torch.nn.LayerNorm; cpu/layernorm-row.h), one row per task.
#include "cpu/backend-cpu.h"
#include "cpu/layernorm-row.h"
#include "sa/threadpool.h"

namespace sa {

void CpuBackend::layernorm_impl(const LayerNormArgs & a) {
    const auto & [x, gamma, beta, y, mean, rstd, rows, C, eps] = a;
    pool()->parallel_for(
        rows,
        [&](int64_t r0, int64_t r1) {
            for (int64_t r = r0; r < r1; ++r) {
                float mu, rs;
                cpu::layernorm_row(x + r * C, gamma, beta, y + r * C, C, eps, mu, rs);
                if (mean) mean[r] = mu;
                if (rstd) rstd[r] = rs;
            }
        },
        C >= 4096 ? 1 : 4096 / C);
}

}  // namespace sa
