// SPDX-License-Identifier: Apache-2.0
// TinyViT's MLP (pre-norm, GELU, residual) fused over tiles of tokens (see Backend::tinyvit_mlp):
// per tile, LayerNorm -> fc1 -> bias + GELU -> fc2 -> bias + residual, with the tile's hidden
// activations kept in cache. Each thread owns a contiguous range of tokens; every token is computed
// the same way whatever the thread count.
#include <cmath>
#include <string>
#include <vector>

#include "cpu/backend-cpu.h"
#include "cpu/ops/tinyvit-fused.h"
#include "sa/gemm.h"
#include "sa/threadpool.h"

namespace sa {

namespace {
constexpr int64_t kTile = 128;  // tokens per tile
}

void CpuBackend::tinyvit_mlp(float * x, const float * gamma, const float * beta, float eps, const float * w1,
                             const float * b1, const float * w2, const float * b2, int64_t M, int64_t C,
                             int64_t hidden) {
    SA_CHECK_ARG(M >= 0 && C > 0 && hidden > 0, "tinyvit_mlp: bad size");
    SA_CHECK_ARG(eps >= 0.0f, "tinyvit_mlp: negative eps");
    if (M == 0) return;
    SA_CHECK_ARG(x && gamma && beta && w1 && b1 && w2 && b2, "tinyvit_mlp: null pointer");
    default_pool().parallel_for(
        M,
        [&](int64_t m0, int64_t m1) {
            std::vector<float> t((size_t) (kTile * C)), h((size_t) (kTile * hidden)), o((size_t) (kTile * C));
            for (int64_t r0 = m0; r0 < m1; r0 += kTile) {
                const int64_t n = std::min(kTile, m1 - r0);
                // LayerNorm (two-pass, biased variance as torch.nn.LayerNorm).
                for (int64_t r = 0; r < n; ++r) {
                    const float * xr = x + (r0 + r) * C;
                    double s = 0;
                    for (int64_t c = 0; c < C; ++c) s += xr[c];
                    const double mean = s / (double) C;
                    double v = 0;
                    for (int64_t c = 0; c < C; ++c) v += ((double) xr[c] - mean) * ((double) xr[c] - mean);
                    const float m = (float) mean, rstd = (float) (1.0 / std::sqrt(v / (double) C + (double) eps));
                    float * tr = t.data() + r * C;
                    for (int64_t c = 0; c < C; ++c) tr[c] = (xr[c] - m) * rstd * gamma[c] + beta[c];
                }
                sgemm_serial(false, true, n, hidden, C, 1.0f, t.data(), C, w1, C, 0.0f, h.data(), hidden);
                for (int64_t r = 0; r < n; ++r) {
                    float * hr = h.data() + r * hidden;
                    int64_t c = 0;
#ifdef __AVX2__
                    for (; c + 8 <= hidden; c += 8)
                        _mm256_storeu_ps(hr + c, cpu::gelu256(_mm256_add_ps(_mm256_loadu_ps(hr + c), _mm256_loadu_ps(b1 + c))));
#endif
                    for (; c < hidden; ++c) hr[c] = cpu::gelu_scalar(hr[c] + b1[c]);
                }
                sgemm_serial(false, true, n, C, hidden, 1.0f, h.data(), hidden, w2, hidden, 0.0f, o.data(), C);
                for (int64_t r = 0; r < n; ++r) {
                    float * xr = x + (r0 + r) * C;
                    const float * orow = o.data() + r * C;
                    for (int64_t c = 0; c < C; ++c) xr[c] += orow[c] + b2[c];
                }
            }
        },
        kTile);
}

}  // namespace sa
