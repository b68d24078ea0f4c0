// SPDX-License-Identifier: Apache-2.0
// Reference-quality blocked SGEMM. Correct for all transposes; parallel over rows of C.
#include "sa/gemm.h"

#include <algorithm>
#include <vector>

#include "sa/threadpool.h"

namespace sa {

namespace {

// Computes rows [m0, m1) of C.
void gemm_rows(bool ta, bool tb, int64_t m0, int64_t m1, int64_t N, int64_t K, float alpha, const float * A,
               int64_t lda, const float * B, int64_t ldb, float beta, float * C, int64_t ldc) {
    std::vector<float> arow(K);
    std::vector<float> acc(N);
    for (int64_t i = m0; i < m1; ++i) {
        for (int64_t k = 0; k < K; ++k) arow[k] = ta ? A[k * lda + i] : A[i * lda + k];
        std::fill(acc.begin(), acc.end(), 0.0f);
        if (!tb) {
            for (int64_t k = 0; k < K; ++k) {
                const float a = arow[k];
                const float * b = B + k * ldb;
                for (int64_t j = 0; j < N; ++j) acc[j] += a * b[j];
            }
        } else {
            for (int64_t j = 0; j < N; ++j) {
                const float * b = B + j * ldb;
                float s = 0.0f;
                for (int64_t k = 0; k < K; ++k) s += arow[k] * b[k];
                acc[j] = s;
            }
        }
        float * c = C + i * ldc;
        if (beta == 0.0f) {
            for (int64_t j = 0; j < N; ++j) c[j] = alpha * acc[j];
        } else {
            for (int64_t j = 0; j < N; ++j) c[j] = alpha * acc[j] + beta * c[j];
        }
    }
}

}  // namespace

void sgemm_serial(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float * A,
                  int64_t lda, const float * B, int64_t ldb, float beta, float * C, int64_t ldc) {
    if (M <= 0 || N <= 0) return;
    gemm_rows(trans_a, trans_b, 0, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float * A, int64_t lda,
           const float * B, int64_t ldb, float beta, float * C, int64_t ldc, ThreadPool * pool) {
    if (M <= 0 || N <= 0) return;
    ThreadPool & p = pool ? *pool : default_pool();
    p.parallel_for(M, [&](int64_t m0, int64_t m1) {
        gemm_rows(trans_a, trans_b, m0, m1, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    });
}

}  // namespace sa
