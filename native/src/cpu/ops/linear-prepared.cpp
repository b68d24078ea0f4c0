// SPDX-License-Identifier: Apache-2.0
// Linear layers with frozen, pre-packed weights (see Backend::prepare_linear): W [N, K] is stored as
// the GEMM's packed right-hand operand op(B) = W^T [K, N], so a product only packs its activations.
// Blocks of rows go to whichever thread is free (ThreadPool::parallel_chunks); per block the bias is
// broadcast into y and the product accumulated on top with the same k-order as CpuBackend::linear,
// hence bit-identical results.
// A bf16 backend keeps W in the bf16 layout of cpu/gemm-bf16.h instead (products round x to bf16 and
// accumulate in fp32).
#include <algorithm>
#include <cstdint>
#include <string>

#include "cpu/backend-cpu.h"
#include "cpu/gemm-bf16.h"
#include "cpu/gemm-kernel.h"
#include "cpu/gemm-packed.h"
#include "sa/threadpool.h"

namespace sa {

namespace {
// Rows of one micro-tile of the products.
int64_t row_tile(bool bf16) {
    return bf16 ? cpu::bf16_row_tile() : cpu::gemm_kernel_fp32().mr;
}
// Rows per product (their outputs stay in L2 across K panels): about 96, whole micro-tiles.
int64_t row_block(bool bf16) {
    const int64_t mr = row_tile(bf16);
    return (96 + mr - 1) / mr * mr;
}
}  // namespace

void CpuBackend::prepared_product(int64_t M, int64_t N, int64_t K, const float * A, int64_t lda, const float * Wp,
                                  float beta, float * C, int64_t ldc, const float * bias) const {
    if (bf16_) {
        cpu::gemm_bf16_prepacked(M, N, K, A, lda, reinterpret_cast<const uint32_t *>(Wp), beta, C, ldc, bias);
    } else {
        cpu::gemm_prepacked_b(false, M, N, K, 1.0f, A, lda, Wp, beta, C, ldc, bias);
    }
}

size_t CpuBackend::prepared_linear_size(int64_t N, int64_t K) {
    SA_CHECK_ARG(N >= 0 && K >= 0, "prepared_linear_size: negative size");
    return bf16_ ? cpu::packed_bf16_size(K, N) : cpu::packed_b_size(K, N);
}

void CpuBackend::prepare_linear(const float * W, float * Wp, int64_t N, int64_t K) {
    SA_CHECK_ARG(N >= 0 && K >= 0, "prepare_linear: negative size");
    if (N == 0 || K == 0) return;
    SA_CHECK_ARG(W && Wp, "prepare_linear: null pointer");
    SA_CHECK_ARG(reinterpret_cast<uintptr_t>(Wp) % 32 == 0, "prepare_linear: Wp must be 32-byte aligned (use alloc())");
    if (bf16_) {
        cpu::pack_bf16(W, N, K, reinterpret_cast<uint32_t *>(Wp));
    } else {
        cpu::pack_b_full(true, K, N, W, K, Wp);
    }
}

void CpuBackend::linear_prepared(const float * x, const float * Wp, const float * b, float * y, int64_t M, int64_t K,
                                 int64_t N) {
    SA_CHECK_ARG(M >= 0 && K >= 0 && N >= 0, "linear_prepared: negative size");
    if (M == 0 || N == 0) return;
    SA_CHECK_ARG(y && (K == 0 || (x && Wp)), "linear_prepared: null pointer");
    SA_CHECK_ARG(y != x || K == 0, "linear_prepared: y must not alias x");
    pool()->parallel_chunks(M, row_block(bf16_), [&](int64_t m0, int64_t m1) {
        prepared_product(m1 - m0, N, K, x + m0 * K, K, Wp, 0.0f, y + m0 * N, N, b);
    });
}

}  // namespace sa
