// SPDX-License-Identifier: Apache-2.0
// Single-precision GEMM on the CPU (row-major), the workhorse of every linear layer and convolution.
#pragma once

#include <cstdint>

namespace sa {

class ThreadPool;

// C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C[M,N], all row-major.
// op(A) = A (lda >= K) or A^T when trans_a (A stored [K,M], lda >= M); likewise for B.
// beta == 0 overwrites C (NaNs in C are not propagated). Runs on `pool` (the calling thread is its
// thread 0); the same bits for any thread count.
void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float * A, int64_t lda,
           const float * B, int64_t ldb, float beta, float * C, int64_t ldc, ThreadPool & pool);

// sgemm plus a column bias: C = alpha * op(A) op(B) + beta * C + 1 bias^T (bias: N values), the bias
// added in the product's epilogue (no separate pass over C).
void sgemm_bias(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float * A, int64_t lda,
                const float * B, int64_t ldb, float beta, float * C, int64_t ldc, const float * bias,
                ThreadPool & pool);

// The GEMM micro-kernel's ceiling: every thread of `pool` runs the register micro-kernel of the level
// in use on operands that stay in L1 (no packing, no memory traffic) for about `seconds` (0 < s <= 10,
// else SA_ERR_INVALID_ARG); returns the multiply-add rate of all threads together in GFLOP/s (2 per
// multiply-add) over the longest thread's time. Real products approach it from below. bf16: the level's
// bf16 products kernel (VDPBF16PS or AMX tiles; SA_ERR_UNSUPPORTED below avx512bf16).
double gemm_kernel_peak_gflops(ThreadPool & pool, double seconds, bool bf16 = false);
// The K-split of sgemm: for a product that sgemm cuts along K (thin C, long K), the chunk length (fixed
// by K alone: chunks [0, c), [c, 2c), ...; the partial products summed in chunk order, C = sum + beta C);
// 0 when sgemm does not cut it. Callers that fuse other work into the chunks reproduce sgemm's bits
// with sgemm_unsplit per chunk.
int64_t sgemm_split_k_chunk(int64_t M, int64_t N, int64_t K);
// The last step of a split-K sgemm for rows [r0, r1) of C [M, N]: the chunks' partial products
// (partial [chunks, M, N], chunk order) summed, then C = alpha sum + beta C (+ bias[N]; beta == 0: C not
// read).
void sgemm_split_k_sum(const float * partial, int64_t chunks, int64_t M, int64_t N, int64_t r0, int64_t r1, float alpha,
                       float beta, float * C, int64_t ldc, const float * bias = nullptr);
// sgemm on the calling thread, never cut along K: one chunk's product of a split-K sgemm.
void sgemm_unsplit(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float * A,
                   int64_t lda, const float * B, int64_t ldb, float beta, float * C, int64_t ldc);
// Single-threaded variant for callers that already parallelise outside (e.g. per attention head).
void sgemm_serial(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float * A,
                  int64_t lda, const float * B, int64_t ldb, float beta, float * C, int64_t ldc);

}  // namespace sa
