// SPDX-License-Identifier: Apache-2.0
// SAM's LayerNorm2d on channels-first data x[B, C, HW]: each pixel is normalised over its C channels
// (two-pass statistics, biased variance), then y = xhat * gamma[c] + beta[c]. Pixels are processed in
// contiguous runs so every pass streams along HW.
#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu/backend-cpu.h"
#include "sa/threadpool.h"

namespace sa {

namespace {
constexpr int64_t kRun = 256;  // pixels per inner run (statistics kept in a small local buffer)
}

void CpuBackend::layernorm2d_impl(const LayerNorm2dArgs & a) {
    const auto & [x, gamma, beta, y, mean, rstd, B, C, HW, eps] = a;
    const int64_t runs_per_image = (HW + kRun - 1) / kRun;
    pool()->parallel_for(B * runs_per_image, [&](int64_t t0, int64_t t1) {
        float mu[kRun], rs[kRun];
        for (int64_t t = t0; t < t1; ++t) {
            const int64_t b = t / runs_per_image;
            const int64_t p0 = (t % runs_per_image) * kRun;
            const int64_t n = std::min(kRun, HW - p0);
            const float * xb = x + b * C * HW + p0;
            float * yb = y + b * C * HW + p0;
            std::fill(mu, mu + n, 0.0f);
            for (int64_t c = 0; c < C; ++c) {
                const float * xc = xb + c * HW;
                for (int64_t p = 0; p < n; ++p) mu[p] += xc[p];
            }
            const float inv_c = 1.0f / (float) C;
            for (int64_t p = 0; p < n; ++p) {
                mu[p] *= inv_c;
                rs[p] = 0.0f;
            }
            for (int64_t c = 0; c < C; ++c) {
                const float * xc = xb + c * HW;
                for (int64_t p = 0; p < n; ++p) {
                    const float d = xc[p] - mu[p];
                    rs[p] += d * d;
                }
            }
            for (int64_t p = 0; p < n; ++p) rs[p] = 1.0f / std::sqrt(rs[p] * inv_c + eps);
            for (int64_t c = 0; c < C; ++c) {
                const float * xc = xb + c * HW;
                float * yc = yb + c * HW;
                const float g = gamma ? gamma[c] : 1.0f;
                const float be = beta ? beta[c] : 0.0f;
                for (int64_t p = 0; p < n; ++p) yc[p] = (xc[p] - mu[p]) * rs[p] * g + be;
            }
            if (mean) std::copy(mu, mu + n, mean + b * HW + p0);
            if (rstd) std::copy(rs, rs + n, rstd + b * HW + p0);
        }
    });
}

}  // namespace sa
