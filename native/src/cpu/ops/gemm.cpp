// SPDX-License-Identifier: Apache-2.0
// Backend GEMM entry points over sa::sgemm (src/cpu/gemm.cpp).
#include <string>

#include "cpu/backend-cpu.h"
#include "sa/gemm.h"
#include "sa/threadpool.h"

namespace sa {

namespace {

void check_gemm_args(const char * op, bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float * A, int64_t lda,
                     const float * B, int64_t ldb, const float * C, int64_t ldc) {
    SA_CHECK_ARG(M >= 0 && N >= 0 && K >= 0, std::string(op) + ": negative size");
    SA_CHECK_ARG(lda >= (ta ? M : K) && lda >= 1, std::string(op) + ": lda too small");
    SA_CHECK_ARG(ldb >= (tb ? K : N) && ldb >= 1, std::string(op) + ": ldb too small");
    SA_CHECK_ARG(ldc >= N && ldc >= 1, std::string(op) + ": ldc too small");
    if (M > 0 && N > 0) {
        SA_CHECK_ARG(C != nullptr, std::string(op) + ": null C");
        SA_CHECK_ARG(K == 0 || (A && B), std::string(op) + ": null A or B");
    }
}

}  // namespace

void CpuBackend::gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float * A,
                      int64_t lda, const float * B, int64_t ldb, float beta, float * C, int64_t ldc) {
    check_gemm_args("gemm", trans_a, trans_b, M, N, K, A, lda, B, ldb, C, ldc);
    sgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, *pool());
}

void CpuBackend::gemm_batched(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                              const float * A, int64_t lda, int64_t stride_a, const float * B, int64_t ldb,
                              int64_t stride_b, float beta, float * C, int64_t ldc, int64_t stride_c, int64_t batch) {
    check_gemm_args("gemm_batched", trans_a, trans_b, M, N, K, A, lda, B, ldb, C, ldc);
    SA_CHECK_ARG(batch >= 0, "gemm_batched: negative batch");
    if (batch == 0 || M == 0 || N == 0) return;
    const std::shared_ptr<ThreadPool> held = pool();
    ThreadPool & pool = *held;
    // Many small products: one whole product per task. Few large ones: thread each product.
    const double work = (double) M * (double) N * (double) (K > 0 ? K : 1);
    if (batch >= pool.size() && work < 4.0e6) {
        pool.parallel_for(batch, [&](int64_t b0, int64_t b1) {
            for (int64_t b = b0; b < b1; ++b)
                sgemm_serial(trans_a, trans_b, M, N, K, alpha, A + b * stride_a, lda, B + b * stride_b, ldb, beta,
                             C + b * stride_c, ldc);
        });
    } else {
        for (int64_t b = 0; b < batch; ++b)
            sgemm(trans_a, trans_b, M, N, K, alpha, A + b * stride_a, lda, B + b * stride_b, ldb, beta,
                  C + b * stride_c, ldc, pool);
    }
}

}  // namespace sa
