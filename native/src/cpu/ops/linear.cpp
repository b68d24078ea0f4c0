// SPDX-License-Identifier: Apache-2.0
// Linear layer forward: y[M,N] = x[M,K] W[N,K]^T + b[N] (PyTorch nn.Linear layout), the bias added
// in the GEMM's epilogue.
#include "cpu/backend-cpu.h"
#include "sa/gemm.h"

namespace sa {

void CpuBackend::linear(const float * x, const float * W, const float * b, float * y, int64_t M, int64_t K, int64_t N) {
    const cpu::ProductsScope scope = products();
    SA_CHECK_ARG(M >= 0 && K >= 0 && N >= 0, "linear: negative size");
    if (M == 0 || N == 0) return;
    SA_CHECK_ARG(y && (K == 0 || (x && W)), "linear: null pointer");
    SA_CHECK_ARG(y != x || K == 0, "linear: y must not alias x");
    sgemm_bias(false, true, M, N, K, 1.0f, x, K, W, K, 0.0f, y, N, b, *pool());
}

}  // namespace sa
