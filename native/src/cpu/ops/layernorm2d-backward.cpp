// SPDX-License-Identifier: Apache-2.0
// LayerNorm2d backward (x [B, C, HW], normalised over C per pixel) from the saved mean/rstd [B, HW]:
//   xhat = (x - mean) rstd, g = dy gamma[c],
//   dx = rstd (g - mean_c(g) - xhat mean_c(g xhat))                      (overwrite)
//   dgamma[c] += sum_{b,p} dy xhat, dbeta[c] += sum_{b,p} dy             (accumulate)
// dx is computed in pixel runs that stream along HW; the parameter reductions are split over channels
// and summed in (b, p) order, so results do not depend on the thread count.
#include <algorithm>

#include "cpu/backend-cpu.h"
#include "sa/threadpool.h"

namespace sa {

namespace {
constexpr int64_t kRun = 256;
}

void CpuBackend::layernorm2d_backward_impl(const LayerNorm2dBackwardArgs & a) {
    const auto & [x, gamma, mean, rstd, dy, dx, dgamma, dbeta, B, C, HW] = a;
    const std::shared_ptr<ThreadPool> held = pool();
    ThreadPool & pool = *held;
    if (dx) {
        const int64_t runs = (HW + kRun - 1) / kRun;
        pool.parallel_for(B * runs, [&](int64_t t0, int64_t t1) {
            float sg[kRun], sgx[kRun];
            for (int64_t t = t0; t < t1; ++t) {
                const int64_t b = t / runs;
                const int64_t p0 = (t % runs) * kRun;
                const int64_t n = std::min(kRun, HW - p0);
                const float * xb = x + b * C * HW + p0;
                const float * db = dy + b * C * HW + p0;
                float * ob = dx + b * C * HW + p0;
                const float * mu = mean + b * HW + p0;
                const float * rs = rstd + b * HW + p0;
                std::fill(sg, sg + n, 0.0f);
                std::fill(sgx, sgx + n, 0.0f);
                for (int64_t c = 0; c < C; ++c) {
                    const float gm = gamma ? gamma[c] : 1.0f;
                    const float * xc = xb + c * HW;
                    const float * dc = db + c * HW;
                    for (int64_t p = 0; p < n; ++p) {
                        const float g = dc[p] * gm;
                        sg[p] += g;
                        sgx[p] += g * ((xc[p] - mu[p]) * rs[p]);
                    }
                }
                const float inv_c = 1.0f / (float) C;
                for (int64_t p = 0; p < n; ++p) {
                    sg[p] *= inv_c;
                    sgx[p] *= inv_c;
                }
                for (int64_t c = 0; c < C; ++c) {
                    const float gm = gamma ? gamma[c] : 1.0f;
                    const float * xc = xb + c * HW;
                    const float * dc = db + c * HW;
                    float * oc = ob + c * HW;
                    for (int64_t p = 0; p < n; ++p) {
                        const float xh = (xc[p] - mu[p]) * rs[p];
                        oc[p] = rs[p] * (dc[p] * gm - sg[p] - xh * sgx[p]);
                    }
                }
            }
        });
    }
    if (dgamma || dbeta) {
        pool.parallel_for(C, [&](int64_t c0, int64_t c1) {
            for (int64_t c = c0; c < c1; ++c) {
                double sgm = 0.0, sbe = 0.0;
                for (int64_t b = 0; b < B; ++b) {
                    const float * xc = x + (b * C + c) * HW;
                    const float * dc = dy + (b * C + c) * HW;
                    const float * mu = mean + b * HW;
                    const float * rs = rstd + b * HW;
                    for (int64_t p = 0; p < HW; ++p) {
                        sgm += dc[p] * ((xc[p] - mu[p]) * rs[p]);
                        sbe += dc[p];
                    }
                }
                if (dgamma) dgamma[c] += (float) sgm;
                if (dbeta) dbeta[c] += (float) sbe;
            }
        });
    }
}

}  // namespace sa
