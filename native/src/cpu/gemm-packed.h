// SPDX-License-Identifier: Apache-2.0
// GEMM with a pre-packed right-hand operand, for ops that multiply many row blocks by the same
// matrix (attention: every query block against one head's keys and values). The packed layout is
// the one sa::sgemm uses internally, so both paths share the micro-kernel.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sa::cpu {

// Floats needed to pack op(B) [K, N].
size_t packed_b_size(int64_t K, int64_t N);

// Packs op(B) [K, N] (B stored [K, N] with row stride ldb, or [N, K] when trans_b) into Bp, which
// must hold packed_b_size(K, N) floats and be 32-byte aligned.
void pack_b_full(bool trans_b, int64_t K, int64_t N, const float * B, int64_t ldb, float * Bp);

// C[M, N] = alpha * op(A) Bpacked + beta * C (+ bias[N] on every row) on the calling thread (beta == 0:
// C is not read). Bp comes from pack_b_full with the same K and N.
void gemm_prepacked_b(bool trans_a, int64_t M, int64_t N, int64_t K, float alpha, const float * A, int64_t lda,
                      const float * Bp, float beta, float * C, int64_t ldc, const float * bias = nullptr);

}  // namespace sa::cpu
