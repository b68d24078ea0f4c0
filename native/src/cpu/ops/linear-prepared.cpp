// SPDX-License-Identifier: Apache-2.0
// Linear layers with frozen, pre-packed weights (see Backend::prepare_linear): W [N, K] is stored as
// the GEMM's packed right-hand operand op(B) = W^T [K, N], so a product only packs its activations.
// Threads own contiguous row ranges; per block of rows the bias is broadcast into y and the product
// accumulated on top with the same k-order as CpuBackend::linear, hence bit-identical results.
#include <algorithm>
#include <cstdint>
#include <string>

#include "cpu/backend-cpu.h"
#include "cpu/gemm-packed.h"
#include "sa/threadpool.h"

namespace sa {

namespace {
constexpr int64_t kRowBlock = 96;  // rows per product: their outputs stay in L2 across K panels
}

size_t CpuBackend::prepared_linear_size(int64_t N, int64_t K) {
    SA_CHECK_ARG(N >= 0 && K >= 0, "prepared_linear_size: negative size");
    return cpu::packed_b_size(K, N);
}

void CpuBackend::prepare_linear(const float * W, float * Wp, int64_t N, int64_t K) {
    SA_CHECK_ARG(N >= 0 && K >= 0, "prepare_linear: negative size");
    if (N == 0 || K == 0) return;
    SA_CHECK_ARG(W && Wp, "prepare_linear: null pointer");
    SA_CHECK_ARG(reinterpret_cast<uintptr_t>(Wp) % 32 == 0, "prepare_linear: Wp must be 32-byte aligned (use alloc())");
    cpu::pack_b_full(true, K, N, W, K, Wp);
}

void CpuBackend::linear_prepared(const float * x, const float * Wp, const float * b, float * y, int64_t M,
                                 int64_t K, int64_t N) {
    SA_CHECK_ARG(M >= 0 && K >= 0 && N >= 0, "linear_prepared: negative size");
    if (M == 0 || N == 0) return;
    SA_CHECK_ARG(y && (K == 0 || (x && Wp)), "linear_prepared: null pointer");
    SA_CHECK_ARG(y != x || K == 0, "linear_prepared: y must not alias x");
    default_pool().parallel_for(
        M,
        [&](int64_t m0, int64_t m1) {
            for (int64_t r0 = m0; r0 < m1; r0 += kRowBlock) {
                const int64_t rows = std::min(kRowBlock, m1 - r0);
                float * yb = y + r0 * N;
                if (b) {
                    for (int64_t r = 0; r < rows; ++r) std::copy(b, b + N, yb + r * N);
                }
                cpu::gemm_prepacked_b(false, rows, N, K, 1.0f, x + r0 * K, K, Wp, b ? 1.0f : 0.0f, yb, N);
            }
        },
        6);
}

}  // namespace sa
