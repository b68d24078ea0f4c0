// SPDX-License-Identifier: Apache-2.0
// Backend::gemm / gemm_batched and the shared cuBLAS / cuBLASLt entry points (see gemm.cuh).
#include <climits>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>

#include "cuda/backend-cuda.cuh"
#include "cuda/common.cuh"
#include "cuda/elementwise.cuh"
#include "cuda/gemm.cuh"

namespace sa {

namespace cuda {

cublasComputeType_t compute_type(CudaMath m) {
    switch (m) {
        case CudaMath::TF32:
            return CUBLAS_COMPUTE_32F_FAST_TF32;
        case CudaMath::BF16:
            return CUBLAS_COMPUTE_32F_FAST_16BF;
        case CudaMath::FP32:
            break;
    }
    return CUBLAS_COMPUTE_32F;
}

// One cuBLASLt plan: descriptors plus the algorithm the heuristic chose for a shape, math mode and the
// operands' alignment. The bias pointer is set per call.
struct LtPlan {
    cublasLtMatmulDesc_t desc = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
    cublasLtMatmulAlgo_t algo{};
    bool ok = false;  // false: no algorithm for this problem (callers fall back to cuBLAS + a bias kernel)
    ~LtPlan() {
        if (desc) cublasLtMatmulDescDestroy(desc);
        if (a) cublasLtMatrixLayoutDestroy(a);
        if (b) cublasLtMatrixLayoutDestroy(b);
        if (d) cublasLtMatrixLayoutDestroy(d);
    }
};

using LtKey = std::tuple<int64_t, int64_t, int64_t, int, int, int, int, int>;  // M, K, N, math, align x/W/y/bias

struct LtPlanCache {
    std::map<LtKey, std::unique_ptr<LtPlan>> plans;
};

void destroy_lt_plan_cache(LtPlanCache * c) {
    delete c;
}

namespace {

// Largest power-of-two alignment (bytes, up to 256) of a device pointer.
int alignment_of(const void * p) {
    const uintptr_t v = reinterpret_cast<uintptr_t>(p);
    int a = 4;
    while (a < 256 && (v % (uintptr_t) (2 * a)) == 0) a *= 2;
    return a;
}

void check_int(int64_t v, const char * op, const char * what) {
    SA_CHECK_ARG(v <= INT_MAX, std::string(op) + ": " + what + " exceeds the 32-bit range of cuBLAS");
}

// cuBLAS takes 32-bit sizes (the arguments are checked in src/core/ops/gemm.cpp).
void check_gemm_range(const char * op, const GemmArgs & a) {
    check_int(a.M, op, "M");
    check_int(a.N, op, "N");
    check_int(a.K, op, "K");
    check_int(a.A.ld, op, "lda");
    check_int(a.B.ld, op, "ldb");
    check_int(a.C.ld, op, "ldc");
}

}  // namespace

}  // namespace cuda

void CudaBackend::gemm_rm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float * A,
                          int64_t lda, const float * B, int64_t ldb, float beta, float * C, int64_t ldc) {
    if (M == 0 || N == 0) return;
    SA_CUBLAS_CHECK(cublasGemmEx(cublas_, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                                 (int) N, (int) M, (int) K, &alpha, B, CUDA_R_32F, (int) ldb, A, CUDA_R_32F, (int) lda,
                                 &beta, C, CUDA_R_32F, (int) ldc, cuda::compute_type(math_), CUBLAS_GEMM_DEFAULT));
}

void CudaBackend::gemm_rm_batched(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                                  const float * A, int64_t lda, int64_t stride_a, const float * B, int64_t ldb,
                                  int64_t stride_b, float beta, float * C, int64_t ldc, int64_t stride_c,
                                  int64_t batch) {
    if (M == 0 || N == 0 || batch == 0) return;
    SA_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
        cublas_, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, (int) N, (int) M, (int) K,
        &alpha, B, CUDA_R_32F, (int) ldb, (long long) stride_b, A, CUDA_R_32F, (int) lda, (long long) stride_a, &beta,
        C, CUDA_R_32F, (int) ldc, (long long) stride_c, (int) batch, cuda::compute_type(math_), CUBLAS_GEMM_DEFAULT));
}

void CudaBackend::gemm_impl(const GemmArgs & a) {
    cuda::check_gemm_range("gemm", a);
    activate();
    gemm_rm(a.trans_a, a.trans_b, a.M, a.N, a.K, a.alpha, a.A.data, a.A.ld, a.B.data, a.B.ld, a.beta, a.C.data, a.C.ld);
}

void CudaBackend::gemm_batched_impl(const GemmArgs & a) {
    cuda::check_gemm_range("gemm_batched", a);
    cuda::check_int(a.batch, "gemm_batched", "batch");
    activate();
    gemm_rm_batched(a.trans_a, a.trans_b, a.M, a.N, a.K, a.alpha, a.A.data, a.A.ld, a.A.stride, a.B.data, a.B.ld,
                    a.B.stride, a.beta, a.C.data, a.C.ld, a.C.stride, a.batch);
}

void CudaBackend::linear_lt(const float * x, const float * W, const float * bias, float * y, int64_t M, int64_t K,
                            int64_t N) {
    if (!lt_plans_) lt_plans_.reset(new cuda::LtPlanCache());
    const int ax = cuda::alignment_of(x), aw = cuda::alignment_of(W), ay = cuda::alignment_of(y),
              ab = cuda::alignment_of(bias);
    const cuda::LtKey key{M, K, N, (int) math_, ax, aw, ay, ab};
    auto & slot = lt_plans_->plans[key];
    if (!slot) {
        auto plan = std::make_unique<cuda::LtPlan>();
        // Column-major view: D[N, M] = op(A) B with A = W stored [K, N] (transposed), B = x stored [K, M].
        SA_CUBLAS_CHECK(cublasLtMatmulDescCreate(&plan->desc, cuda::compute_type(math_), CUDA_R_32F));
        const cublasOperation_t opT = CUBLAS_OP_T, opN = CUBLAS_OP_N;
        SA_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_TRANSA, &opT, sizeof opT));
        SA_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_TRANSB, &opN, sizeof opN));
        const cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
        SA_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi));
        const cudaDataType_t bias_type = CUDA_R_32F;
        SA_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type,
                                                       sizeof bias_type));
        SA_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan->a, CUDA_R_32F, (uint64_t) K, (uint64_t) N, (int64_t) K));
        SA_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan->b, CUDA_R_32F, (uint64_t) K, (uint64_t) M, (int64_t) K));
        SA_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan->d, CUDA_R_32F, (uint64_t) N, (uint64_t) M, (int64_t) N));
        cublasLtMatmulPreference_t pref = nullptr;
        SA_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
        const uint64_t ws = workspace_bytes_;
        const uint32_t al_a = (uint32_t) aw, al_b = (uint32_t) ax, al_d = (uint32_t) ay;
        cublasStatus_t st =
            cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws);
        if (st == CUBLAS_STATUS_SUCCESS)
            st = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &al_a,
                                                      sizeof al_a);
        if (st == CUBLAS_STATUS_SUCCESS)
            st = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &al_b,
                                                      sizeof al_b);
        if (st == CUBLAS_STATUS_SUCCESS) {
            st = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &al_d,
                                                      sizeof al_d);
        }
        if (st == CUBLAS_STATUS_SUCCESS)
            st = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &al_d,
                                                      sizeof al_d);
        cublasLtMatmulHeuristicResult_t res{};
        int found = 0;
        if (st == CUBLAS_STATUS_SUCCESS)
            st = cublasLtMatmulAlgoGetHeuristic(lt_, plan->desc, plan->a, plan->b, plan->d, plan->d, pref, 1, &res,
                                                &found);
        cublasLtMatmulPreferenceDestroy(pref);
        if (st == CUBLAS_STATUS_SUCCESS && found > 0 && res.state == CUBLAS_STATUS_SUCCESS) {
            plan->algo = res.algo;
            plan->ok = true;
        }
        slot = std::move(plan);
    }
    if (slot->ok) {
        SA_CUBLAS_CHECK(
            cublasLtMatmulDescSetAttribute(slot->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
        const float one = 1.0f, zero = 0.0f;
        SA_CUBLAS_CHECK(cublasLtMatmul(lt_, slot->desc, &one, W, slot->a, x, slot->b, &zero, y, slot->d, y, slot->d,
                                       &slot->algo, workspace_, workspace_bytes_, stream_));
        return;
    }
    // No fused plan for this problem: bias broadcast, then accumulate the product on top.
    cuda::launch_broadcast_rows(y, bias, M, N, stream_);
    gemm_rm(false, true, M, N, K, 1.0f, x, K, W, K, 1.0f, y, N);
}

}  // namespace sa
