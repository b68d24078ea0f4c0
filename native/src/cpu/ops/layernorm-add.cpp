// SPDX-License-Identifier: Apache-2.0
// LayerNorm with a second output y2 = y + addend (sa::LayerNormAddArgs): each row is normalised by
// cpu::layernorm_row (the bits of layernorm) and, while it is still in L1, added to its addend row.
#include "cpu/backend-cpu.h"
#include "cpu/lanes.h"
#include "cpu/layernorm-row.h"
#include "sa/threadpool.h"

namespace sa {

void CpuBackend::layernorm_add_impl(const LayerNormAddArgs & a) {
    const auto & [x, gamma, beta, y, mean, rstd, rows, C, eps] = a.ln;
    const float * addend = a.addend;
    float * y2 = a.y2;
    const int64_t add_rows = a.add_rows;
    pool()->parallel_for(
        rows,
        [&](int64_t r0, int64_t r1) {
            for (int64_t r = r0; r < r1; ++r) {
                float mu, rs;
                float * yr = y + r * C;
                cpu::layernorm_row(x + r * C, gamma, beta, yr, C, eps, mu, rs);
                if (mean) mean[r] = mu;
                if (rstd) rstd[r] = rs;
                const float * ar = addend + (r % add_rows) * C;
                float * zr = y2 + r * C;
                cpu::for_lanes(0, C,
                               [&](auto L, int64_t c) { L.store(zr + c, L.add(L.load(yr + c), L.load(ar + c))); });
            }
        },
        C >= 4096 ? 1 : 4096 / C);
}

}  // namespace sa
