// SPDX-License-Identifier: Apache-2.0
// LayerNorm backward over the last dimension, from the saved mean/rstd:
//   xhat = (x - mean) rstd, g = dy gamma,
//   dx = rstd (g - mean_c(g) - xhat mean_c(g xhat))            (overwrite)
//   dgamma[c] += sum_rows dy xhat, dbeta[c] += sum_rows dy      (accumulate)
// dx is split over rows; the parameter reductions over columns in row order (thread-count independent).
#include <algorithm>

#include "cpu/backend-cpu.h"
#include "sa/threadpool.h"

namespace sa {

void CpuBackend::layernorm_backward(const float * x, const float * gamma, const float * mean, const float * rstd,
                                    const float * dy, float * dx, float * dgamma, float * dbeta, int64_t rows,
                                    int64_t C) {
    SA_CHECK_ARG(rows >= 0 && C > 0, "layernorm_backward: bad size");
    if (rows == 0) return;
    SA_CHECK_ARG(x && mean && rstd && dy, "layernorm_backward: null input");
    ThreadPool & pool = default_pool();
    if (dx) {
        SA_CHECK_ARG(dx != x, "layernorm_backward: dx must not alias x");
        pool.parallel_for(
            rows,
            [&](int64_t r0, int64_t r1) {
                for (int64_t r = r0; r < r1; ++r) {
                    const float * xr = x + r * C;
                    const float * dr = dy + r * C;
                    float * out = dx + r * C;
                    const float mu = mean[r], rs = rstd[r];
                    float sg = 0.0f, sgx = 0.0f;
                    for (int64_t c = 0; c < C; ++c) {
                        const float g = dr[c] * (gamma ? gamma[c] : 1.0f);
                        const float xh = (xr[c] - mu) * rs;
                        sg += g;
                        sgx += g * xh;
                    }
                    const float inv_c = 1.0f / (float) C;
                    const float mg = sg * inv_c, mgx = sgx * inv_c;
                    for (int64_t c = 0; c < C; ++c) {
                        const float g = dr[c] * (gamma ? gamma[c] : 1.0f);
                        const float xh = (xr[c] - mu) * rs;
                        out[c] = rs * (g - mg - xh * mgx);
                    }
                }
            },
            C >= 4096 ? 1 : 4096 / C);
    }
    if (dgamma || dbeta) {
        pool.parallel_for(
            C,
            [&](int64_t c0, int64_t c1) {
                for (int64_t r = 0; r < rows; ++r) {
                    const float * xr = x + r * C;
                    const float * dr = dy + r * C;
                    const float mu = mean[r], rs = rstd[r];
                    if (dgamma)
                        for (int64_t c = c0; c < c1; ++c) dgamma[c] += dr[c] * ((xr[c] - mu) * rs);
                    if (dbeta)
                        for (int64_t c = c0; c < c1; ++c) dbeta[c] += dr[c];
                }
            },
            rows * C >= (1 << 15) ? 32 : C);
    }
}

}  // namespace sa
