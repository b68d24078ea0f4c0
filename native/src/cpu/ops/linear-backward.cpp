// SPDX-License-Identifier: Apache-2.0
// Linear layer backward (PyTorch layout W[N, K]): dx[M,K] = dy W (overwrite), dW[N,K] += dy^T x,
// db[N] += column sums of dy. The bias reduction is split over column blocks, so its summation order
// (row order) does not depend on the thread count.
//
// Tall layers (many rows, a small weight: the upscaling's transposed convolutions, 4096 x 256 -> 256
// and 16384 x 64 -> 128) take the weight gradient in sgemm's K-split chunks of rows. Each chunk's rows
// then go through all three products on one thread while they are in its caches: dx for the chunk,
// the chunk's part of dW (sgemm_unsplit, as sgemm's split would compute it) and of db; the parts are
// summed in chunk order. dy is read from memory once instead of three times; dx and dW have the bits
// of the plain products, db the chunked order. With fewer chunks than threads dx runs on the whole
// pool first (same bits) and the chunks follow.
#include <algorithm>
#include <vector>

#include "cpu/backend-cpu.h"
#include "sa/gemm.h"
#include "sa/threadpool.h"

#ifdef __AVX2__
#include <immintrin.h>
#endif

namespace sa {

namespace {

constexpr int64_t kColBlock = 32;

// db[c0:c1] += sum over the M rows of dy[:, c0:c1] (row stride N), summed in row order.
void column_sums(const float * dy, int64_t M, int64_t N, int64_t c0, int64_t c1, float * db) {
    int64_t c = c0;
#ifdef __AVX2__
    if (c1 - c0 == kColBlock) {
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
        for (int64_t r = 0; r < M; ++r) {
            const float * d = dy + r * N + c0;
            a0 = _mm256_add_ps(a0, _mm256_loadu_ps(d));
            a1 = _mm256_add_ps(a1, _mm256_loadu_ps(d + 8));
            a2 = _mm256_add_ps(a2, _mm256_loadu_ps(d + 16));
            a3 = _mm256_add_ps(a3, _mm256_loadu_ps(d + 24));
        }
        _mm256_storeu_ps(db + c0, _mm256_add_ps(_mm256_loadu_ps(db + c0), a0));
        _mm256_storeu_ps(db + c0 + 8, _mm256_add_ps(_mm256_loadu_ps(db + c0 + 8), a1));
        _mm256_storeu_ps(db + c0 + 16, _mm256_add_ps(_mm256_loadu_ps(db + c0 + 16), a2));
        _mm256_storeu_ps(db + c0 + 24, _mm256_add_ps(_mm256_loadu_ps(db + c0 + 24), a3));
        return;
    }
#endif
    float acc[kColBlock] = {};
    for (int64_t r = 0; r < M; ++r) {
        const float * d = dy + r * N;
        for (c = c0; c < c1; ++c) acc[c - c0] += d[c];
    }
    for (c = c0; c < c1; ++c) db[c] += acc[c - c0];
}

// dW and db from K-split chunks of rows (see the top), dx with them when `fuse_dx`.
void linear_backward_chunked(ThreadPool & pool, const LinearBackwardArgs & a, int64_t chunk, bool fuse_dx) {
    const auto & [x, W, dy, dx, dW, db, M, K, N] = a;
    const int64_t chunks = (M + chunk - 1) / chunk, wn = N * K;
    thread_local std::vector<float> part_buf;
    if (part_buf.size() < (size_t) (chunks * (wn + N))) part_buf.resize((size_t) (chunks * (wn + N)));
    float * part = part_buf.data();      // [chunks, N, K]
    float * partb = part + chunks * wn;  // [chunks, N]
    pool.parallel_chunks(chunks, 1, [&](int64_t c0, int64_t c1) {
        for (int64_t c = c0; c < c1; ++c) {
            const int64_t r0 = c * chunk, rows = std::min(chunk, M - r0);
            const float * dyc = dy + r0 * N;
            if (fuse_dx) sgemm_unsplit(false, false, rows, K, N, 1.0f, dyc, N, W, K, 0.0f, dx + r0 * K, K);
            sgemm_unsplit(true, false, N, K, rows, 1.0f, dyc, N, x + r0 * K, K, 0.0f, part + c * wn, K);
            if (db) {
                float * pb = partb + c * N;
                std::fill(pb, pb + N, 0.0f);
                for (int64_t b0 = 0; b0 < N; b0 += kColBlock)
                    column_sums(dyc, rows, N, b0, std::min(N, b0 + kColBlock), pb);
            }
        }
    });
    // dW += the chunks' parts in chunk order, as sgemm's split ends.
    pool.parallel_for(
        N, [&](int64_t n0, int64_t n1) { sgemm_split_k_sum(part, chunks, N, K, n0, n1, 1.0f, 1.0f, dW, K); });
    if (db)
        for (int64_t n = 0; n < N; ++n) {
            float s = partb[n];
            for (int64_t c = 1; c < chunks; ++c) s += partb[c * N + n];
            db[n] += s;
        }
}

}  // namespace

void CpuBackend::linear_backward_impl(const LinearBackwardArgs & a) {
    const cpu::ProductsScope scope = products();
    const auto & [x, W, dy, dx, dW, db, M, K, N] = a;
    const std::shared_ptr<ThreadPool> held = pool();
    ThreadPool & pool = *held;
    const int64_t chunk = dW && K > 0 ? sgemm_split_k_chunk(N, K, M) : 0;
    if (chunk > 0) {
        const int64_t chunks = (M + chunk - 1) / chunk;
        // dx fused into the chunks when every thread gets one and sgemm would not cut dx along N either.
        const bool fuse_dx = dx && chunks >= pool.size() && sgemm_split_k_chunk(M, K, N) == 0;
        if (dx && !fuse_dx) sgemm(false, false, M, K, N, 1.0f, dy, N, W, K, 0.0f, dx, K, pool);
        linear_backward_chunked(pool, a, chunk, fuse_dx);
        return;
    }
    if (dx && K > 0) {
        sgemm(false, false, M, K, N, 1.0f, dy, N, W, K, 0.0f, dx, K, pool);
    }
    if (dW && K > 0) {
        sgemm(true, false, N, K, M, 1.0f, dy, N, x, K, 1.0f, dW, K, pool);
    }
    if (db) {
        // Column sums in row order, kept in registers over all rows for blocks of kColBlock columns.
        pool.parallel_for((N + kColBlock - 1) / kColBlock,
                          [&](int64_t b0, int64_t b1) {
                              for (int64_t blk = b0; blk < b1; ++blk)
                                  column_sums(dy, M, N, blk * kColBlock, std::min(N, (blk + 1) * kColBlock), db);
                          },
                          M * N >= (1 << 15) ? 1 : N);
    }
}

}  // namespace sa
