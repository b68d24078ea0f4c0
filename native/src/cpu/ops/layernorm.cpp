// SPDX-License-Identifier: Apache-2.0
// LayerNorm over the last dimension: y = (x - mean) * rstd * gamma + beta, two-pass statistics
// (biased variance, as torch.nn.LayerNorm; cpu/layernorm-row.h), one row per task.
#include "cpu/backend-cpu.h"
#include "cpu/layernorm-row.h"
#include "sa/threadpool.h"

namespace sa {

void CpuBackend::layernorm(const float * x, const float * gamma, const float * beta, float * y, float * mean,
                           float * rstd, int64_t rows, int64_t C, float eps) {
    SA_CHECK_ARG(rows >= 0 && C > 0, "layernorm: bad size");
    SA_CHECK_ARG(eps >= 0.0f, "layernorm: negative eps");
    if (rows == 0) return;
    SA_CHECK_ARG(x && y, "layernorm: null pointer");
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
