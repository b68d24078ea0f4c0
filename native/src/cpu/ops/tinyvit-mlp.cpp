// SPDX-License-Identifier: Apache-2.0
// TinyViT's MLP (pre-norm, GELU, residual) fused over tiles of tokens (see Backend::tinyvit_mlp):
// per tile, LayerNorm -> fc1 -> bias + GELU -> fc2 -> bias + residual, with the tile's hidden
// activations kept in cache and both weights pre-packed (prepare_linear), so a tile only packs its
// own activations. Each step does the arithmetic of the composed ops (layernorm, linear_prepared,
// gelu, add), so the fused block gives their bits. Tiles go to whichever thread is free; every token
// is computed the same way whatever the thread count.
#include <algorithm>
#include <string>
#include <vector>

#include "cpu/backend-cpu.h"
#include "cpu/gemm-bf16.h"
#include "cpu/gemm-kernel.h"
#include "cpu/kernels-avx512.h"
#include "cpu/layernorm-row.h"
#include "cpu/ops/tinyvit-fused.h"
#include "cpu/simd.h"
#include "sa/threadpool.h"

namespace sa {

namespace {

// Tokens per tile: whole GEMM micro-tiles (mr rows: a partial micro-tile computes a full one and
// discards the rest) whose hidden activations take about 192 KiB, so they stay in L2 between fc1
// and fc2.
int64_t tile_rows(int64_t hidden, int64_t mr) {
    const int64_t rows = std::clamp<int64_t>(49152 / hidden, 24, 120);
    return std::max(mr, rows / mr * mr);
}

struct MlpScratch {
    std::vector<float> t, h, o;
};

MlpScratch & scratch() {
    thread_local MlpScratch s;
    return s;
}

}  // namespace

void CpuBackend::tinyvit_mlp_impl(const TinyVitMlpArgs & a) {
    const auto & [x, gamma, beta, eps, w1, b1, w2, b2, M, C, hidden] = a;
    const int64_t tile = tile_rows(hidden, bf16_ ? cpu::bf16_row_tile() : cpu::gemm_kernel_fp32().mr);
    pool()->parallel_chunks(M, tile, [&](int64_t m0, int64_t m1) {
        MlpScratch & sc = scratch();
        sc.t.resize((size_t) (tile * C));
        sc.h.resize((size_t) (tile * hidden));
        sc.o.resize((size_t) (tile * C));
        float *t = sc.t.data(), *h = sc.h.data(), *o = sc.o.data();
        for (int64_t r0 = m0; r0 < m1; r0 += tile) {
            const int64_t n = std::min(tile, m1 - r0);
            float * xt = x + r0 * C;
            for (int64_t r = 0; r < n; ++r) {
                float mu, rs;
                cpu::layernorm_row(xt + r * C, gamma, beta, t + r * C, C, eps, mu, rs);
            }
            prepared_product(n, hidden, C, t, C, w1, 0.0f, h, hidden, b1);
            cpu::gelu_row(h, n * hidden);
            prepared_product(n, C, hidden, h, hidden, w2, 0.0f, o, C, b2);
            const int64_t nc = n * C;
            int64_t i = 0;
#ifdef __AVX2__
            for (; i + 8 <= nc; i += 8)
                _mm256_storeu_ps(xt + i, _mm256_add_ps(_mm256_loadu_ps(xt + i), _mm256_loadu_ps(o + i)));
#endif
            for (; i < nc; ++i) xt[i] += o[i];
        }
    });
}

}  // namespace sa
