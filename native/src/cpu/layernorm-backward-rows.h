// SPDX-License-Identifier: Apache-2.0
// LayerNorm backward over the last dimension, from the saved mean/rstd:
//   xhat = (x - mean) rstd, g = dy gamma,
//   dx = rstd (g - mean_c(g) - xhat mean_c(g xhat))            (overwrite)
//   dgamma[c] += sum_rows dy xhat, dbeta[c] += sum_rows dy      (accumulate)
// One pass over the rows: each block of kLnRowBlock rows writes its dx rows and its partial parameter
// sums; the partials are then added in block order. Blocks depend only on the row count, so results
// do not depend on the thread count. Shared by layernorm_backward (dy from memory) and the fused
// layernorm_gelu_backward (each dy row computed into a row buffer first).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "cpu/simd.h"
#include "sa/threadpool.h"

namespace sa::cpu {

constexpr int64_t kLnRowBlock = 64;

// One row: dx (when non-null) and the partial sums pg += dy xhat, pb += dy (when non-null).
inline void layernorm_backward_row(const float * x, const float * dy, const float * gamma, float mu, float rs,
                                   int64_t C, float * dx, float * pg, float * pb) {
    int64_t c = 0;
    float sg = 0.0f, sgx = 0.0f;
#ifdef __AVX2__
    const __m256 vmu = _mm256_set1_ps(mu), vrs = _mm256_set1_ps(rs), one = _mm256_set1_ps(1.0f);
    __m256 ag = _mm256_setzero_ps(), agx = _mm256_setzero_ps();
    for (; c + 8 <= C; c += 8) {
        const __m256 d = _mm256_loadu_ps(dy + c);
        const __m256 xh = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + c), vmu), vrs);
        const __m256 g = _mm256_mul_ps(d, gamma ? _mm256_loadu_ps(gamma + c) : one);
        ag = _mm256_add_ps(ag, g);
        agx = _mm256_fmadd_ps(g, xh, agx);
        if (pg) _mm256_storeu_ps(pg + c, _mm256_fmadd_ps(d, xh, _mm256_loadu_ps(pg + c)));
        if (pb) _mm256_storeu_ps(pb + c, _mm256_add_ps(d, _mm256_loadu_ps(pb + c)));
    }
    sg = hsum256(ag);
    sgx = hsum256(agx);
#endif
    for (; c < C; ++c) {
        const float xh = (x[c] - mu) * rs;
        const float g = dy[c] * (gamma ? gamma[c] : 1.0f);
        sg += g;
        sgx += g * xh;
        if (pg) pg[c] += dy[c] * xh;
        if (pb) pb[c] += dy[c];
    }
    if (!dx) return;
    const float inv_c = 1.0f / (float) C;
    const float mg = sg * inv_c, mgx = sgx * inv_c;
    c = 0;
#ifdef __AVX2__
    const __m256 vmg = _mm256_set1_ps(mg), vmgx = _mm256_set1_ps(mgx);
    for (; c + 8 <= C; c += 8) {
        const __m256 xh = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + c), vmu), vrs);
        const __m256 g = _mm256_mul_ps(_mm256_loadu_ps(dy + c), gamma ? _mm256_loadu_ps(gamma + c) : one);
        _mm256_storeu_ps(dx + c, _mm256_mul_ps(vrs, _mm256_sub_ps(_mm256_sub_ps(g, vmg), _mm256_mul_ps(xh, vmgx))));
    }
#endif
    for (; c < C; ++c) {
        const float xh = (x[c] - mu) * rs;
        const float g = dy[c] * (gamma ? gamma[c] : 1.0f);
        dx[c] = rs * (g - mg - xh * mgx);
    }
}

// The backward pass over all rows; dy_row(r, buf) returns row r of dy (buf: C floats of the calling
// thread it may fill).
template <class DyRow>
void layernorm_backward_rows(ThreadPool & pool, const float * x, const float * gamma, const float * mean,
                             const float * rstd, int64_t rows, int64_t C, float * dx, float * dgamma, float * dbeta,
                             DyRow && dy_row) {
    const int64_t blocks = (rows + kLnRowBlock - 1) / kLnRowBlock;
    // Partial sums per row block: [blocks, C] for dgamma and for dbeta.
    thread_local std::vector<float> part_buf;
    const size_t part_n = (size_t) (blocks * C);
    if (dgamma && part_buf.size() < part_n) part_buf.resize(part_n);
    thread_local std::vector<float> part_buf2;
    if (dbeta && part_buf2.size() < part_n) part_buf2.resize(part_n);
    float * pg_all = dgamma ? part_buf.data() : nullptr;
    float * pb_all = dbeta ? part_buf2.data() : nullptr;
    pool.parallel_for(
        blocks,
        [&](int64_t b0, int64_t b1) {
            thread_local std::vector<float> row_buf;
            if (row_buf.size() < (size_t) C) row_buf.resize((size_t) C);
            for (int64_t blk = b0; blk < b1; ++blk) {
                float * pg = pg_all ? pg_all + blk * C : nullptr;
                float * pb = pb_all ? pb_all + blk * C : nullptr;
                if (pg) std::fill(pg, pg + C, 0.0f);
                if (pb) std::fill(pb, pb + C, 0.0f);
                const int64_t r1 = std::min(rows, (blk + 1) * kLnRowBlock);
                for (int64_t r = blk * kLnRowBlock; r < r1; ++r)
                    layernorm_backward_row(x + r * C, dy_row(r, row_buf.data()), gamma, mean[r], rstd[r], C,
                                           dx ? dx + r * C : nullptr, pg, pb);
            }
        },
        std::max<int64_t>(1, 4096 / (kLnRowBlock * C)));
    if (!dgamma && !dbeta) return;
    // Sum the partials in block order, split over columns.
    pool.parallel_for(
        C,
        [&](int64_t c0, int64_t c1) {
            for (int64_t blk = 0; blk < blocks; ++blk)
                for (int64_t c = c0; c < c1; ++c) {
                    if (dgamma) dgamma[c] += pg_all[blk * C + c];
                    if (dbeta) dbeta[c] += pb_all[blk * C + c];
                }
        },
        blocks * C >= (1 << 15) ? 64 : C);
}

}  // namespace sa::cpu
