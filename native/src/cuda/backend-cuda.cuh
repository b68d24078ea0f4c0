// SPDX-License-Identifier: Apache-2.0
// The CUDA backend: one stream, one cuBLAS and one cuBLASLt handle with a fixed workspace, and a
// caching allocator. Every op is stream-ordered and never synchronises the host (except upload /
// download / synchronize), so a sequence of ops can be captured into a CUDA graph (cuda/graph.h).
// Each op's definition lives in its own file: src/cuda/<op>.cu with its kernels and launcher
// declared in <op>.cuh.
#pragma once

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <memory>

#include "cuda/allocator.cuh"
#include "cuda/staging.cuh"
#include "sa/backend-cuda.h"

namespace sa {

namespace cuda {
struct LtPlanCache;  // cuBLASLt matmul plans by shape (gemm.cu)
void destroy_lt_plan_cache(LtPlanCache * c);
}  // namespace cuda

class CudaBackend final : public Backend {
  public:
    CudaBackend(int device, const CudaBackendOptions & options);
    ~CudaBackend() override;
    CudaBackend(const CudaBackend &) = delete;
    CudaBackend & operator=(const CudaBackend &) = delete;

    DeviceKind kind() const override { return DeviceKind::CUDA; }
    std::string name() const override;
    bool supports(Op op) const override { return cuda_supports(op); }

    float * alloc(size_t n_floats) override;
    void free(float * p) override;
    void upload(float * dst, const float * host_src, size_t n) override;
    void download(float * host_dst, const float * src, size_t n) override;
    void copy(float * dst, const float * src, size_t n) override;
    void fill(float * dst, float value, size_t n) override;
    void synchronize() override;
    void add(const float * a, const float * b, float * y, int64_t n) override;
    void add_bias(const float * x, const float * bias, float * y, int64_t rows, int64_t cols) override;
    void scale(const float * x, float s, float * y, int64_t n) override;
    void gelu(const float * x, float * y, int64_t n) override;
    void gelu_backward(const float * x, const float * dy, float * dx, int64_t n) override;
    void relu(const float * x, float * y, int64_t n) override;
    void relu_backward(const float * y, const float * dy, float * dx, int64_t n) override;
    void linear(const float * x, const float * W, const float * b, float * y, int64_t M, int64_t K, int64_t N) override;
    void transpose_last2(const float * x, float * y, int64_t B, int64_t R, int64_t C) override;
    void sum_squares(const float * x, float * out, int64_t n) override;

    // ---- CUDA specifics ----------------------------------------------------------------------
    cudaStream_t stream() const { return stream_; }
    int device() const { return device_; }
    const cudaDeviceProp & props() const { return props_; }
    cuda::CachingAllocator & allocator() { return alloc_; }
    CudaMath math() const { return math_; }
    void set_math(CudaMath m) { math_ = m; }
    // Makes this backend's device current on the calling thread (ops call it first).
    void activate() const;

    // Device scratch for the duration of one op: stream-ordered, so it may be released as soon as the
    // kernels that use it are enqueued. Not zeroed.
    class Scratch {
      public:
        Scratch(CudaBackend & be, size_t bytes)
            : be_(be), p_(bytes ? be.alloc_.allocate(bytes, be.stream_) : nullptr) {}
        ~Scratch() { be_.alloc_.release(p_); }
        Scratch(const Scratch &) = delete;
        Scratch & operator=(const Scratch &) = delete;
        template <typename T>
        T * as() const {
            return static_cast<T *>(p_);
        }

      private:
        CudaBackend & be_;
        void * p_;
    };

    // cuBLAS / cuBLASLt entry points shared by the GEMM-based ops (gemm.cu). Row-major semantics as
    // Backend::gemm. `bias` (nullable) adds bias[n] to every row of C (requires beta == 0 or 1).
    void gemm_rm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float * A, int64_t lda,
                 const float * B, int64_t ldb, float beta, float * C, int64_t ldc);
    void gemm_rm_batched(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float * A,
                         int64_t lda, int64_t stride_a, const float * B, int64_t ldb, int64_t stride_b, float beta,
                         float * C, int64_t ldc, int64_t stride_c, int64_t batch);
    // y[M,N] = x[M,K] W[N,K]^T + bias[N] through cuBLASLt with a fused bias epilogue.
    void linear_lt(const float * x, const float * W, const float * bias, float * y, int64_t M, int64_t K, int64_t N);

  protected:
    void gemm_impl(const GemmArgs & a) override;
    void gemm_batched_impl(const GemmArgs & a) override;
    void layernorm_impl(const LayerNormArgs & a) override;
    void layernorm_backward_impl(const LayerNormBackwardArgs & a) override;
    void layernorm2d_impl(const LayerNorm2dArgs & a) override;
    void layernorm2d_backward_impl(const LayerNorm2dBackwardArgs & a) override;
    void conv2d_impl(const Conv2dArgs & a) override;
    void conv_transpose_k2s2_impl(const ConvTransposeArgs & a) override;
    void conv_transpose_k2s2_backward_impl(const ConvTransposeBackwardArgs & a) override;
    void window_partition_impl(const WindowArgs & a) override;
    void window_unpartition_impl(const WindowArgs & a) override;
    void mask_loss_impl(const MaskLossArgs & a) override;
    void adam_step_impl(const AdamArgs & a) override;
    void attention_vit_impl(const AttentionVitArgs & a) override;
    void attention_tinyvit_impl(const AttentionTinyVitArgs & a) override;
    void attention_impl(const AttentionArgs & a) override;
    void attention_backward_impl(const AttentionBackwardArgs & a) override;
    void linear_backward_impl(const LinearBackwardArgs & a) override;

  private:
    int device_;
    cudaDeviceProp props_{};
    cudaStream_t stream_ = nullptr;
    cublasHandle_t cublas_ = nullptr;
    cublasLtHandle_t lt_ = nullptr;
    void * workspace_ = nullptr;
    size_t workspace_bytes_ = 0;
    cuda::CachingAllocator alloc_;
    CudaMath math_;
    bool zero_alloc_;
    std::unique_ptr<cuda::LtPlanCache, void (*)(cuda::LtPlanCache *)> lt_plans_{nullptr, cuda::destroy_lt_plan_cache};
    std::unique_ptr<cuda::HostStaging> staging_;  // pinned buffers of large uploads, created on first use
};

// The CudaBackend behind a Backend reference, or an sa::Error(SA_ERR_INVALID_ARG) naming `what`.
CudaBackend & as_cuda(Backend & be, const char * what);

}  // namespace sa
