// SPDX-License-Identifier: Apache-2.0
// The CPU backend: declares every Backend method; each op's definition lives in its own file under
// src/cpu/ops/<op>.cpp (CpuBackend::<op> plus the op's kernels), memory in src/cpu/ops/memory.cpp.
#pragma once

#include <memory>
#include <mutex>

#include "cpu/gemm-kernel.h"
#include "sa/backend.h"
#include "sa/threadpool.h"

namespace sa {

class CpuBackend final : public Backend {
  public:
    // bf16: the frozen encoder weights (prepare_linear) are kept and multiplied in bf16 (cpu/gemm-bf16.h).
    // threads <= 0: SA_NUM_THREADS, else all cores.
    // products: the GEMM kernel of the products that take no prepared weights (null: the level's fp32
    // kernel; cpu::gemm_kernel_bf16_training() for bf16 decoder products).
    explicit CpuBackend(bool bf16 = false, int threads = 0, const cpu::GemmKernel * products = nullptr);
    DeviceKind kind() const override { return DeviceKind::CPU; }
    std::string name() const override { return "cpu"; }
    bool supports(Op op) const override { return cpu_supports(op); }
    bool bf16() const { return bf16_; }

    int threads() const override;
    void set_threads(int n) override;
    // The pool an op runs on. An op holds the returned reference until it returns, so set_threads
    // (from another thread) never frees a pool in use; the replaced pool ends with its last op.
    std::shared_ptr<ThreadPool> pool() const;

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
    void upsample_bilinear(const float * x, float * y, int64_t N, int64_t H, int64_t Wd, int64_t Ho,
                           int64_t Wo) override;
    void upsample_bilinear_backward(const float * dy, float * dx, int64_t N, int64_t H, int64_t Wd, int64_t Ho,
                                    int64_t Wo) override;
    void relu_backward(const float * y, const float * dy, float * dx, int64_t n) override;
    void linear(const float * x, const float * W, const float * b, float * y, int64_t M, int64_t K, int64_t N) override;
    size_t prepared_linear_size(int64_t N, int64_t K) override;
    void prepare_linear(const float * W, float * Wp, int64_t N, int64_t K) override;
    void linear_prepared(const float * x, const float * Wp, const float * b, float * y, int64_t M, int64_t K,
                         int64_t N) override;
    void transpose_last2(const float * x, float * y, int64_t B, int64_t R, int64_t C) override;
    void softmax_rows(const float * x, float * y, int64_t rows, int64_t n) override;
    void softmax_rows_backward(const float * y, const float * dy, float * dx, int64_t rows, int64_t n) override;
    void sum_squares(const float * x, float * out, int64_t n) override;

    // C[M, N] = op(A)[M, K] Wp^T + beta * C (+ bias[N] on every row) on the calling thread, Wp from
    // prepare_linear (fp32 or bf16 layout by the backend's precision); used by linear_prepared and the
    // fused TinyViT MLP.
    void prepared_product(int64_t M, int64_t N, int64_t K, const float * A, int64_t lda, const float * Wp, float beta,
                          float * C, int64_t ldc, const float * bias = nullptr) const;

  protected:
    // Every op with a parameter struct has a CPU kernel (src/cpu/ops/).
#define SA_CPU_OP_IMPL(op, Args) void op##_impl(const Args & a) override;
    SA_OP_STRUCTS(SA_CPU_OP_IMPL)
#undef SA_CPU_OP_IMPL

  private:
    // The products kernel of this backend for the rest of the calling op (every sgemm of the op, on
    // every thread of its pool jobs).
    cpu::ProductsScope products() const {
        return cpu::ProductsScope(products_);
    }
    // The kernel of an image encoder's unprepared products (attention, MBConv's 1x1 convolutions): the level's bf16
    // products on a bf16 backend (operands rounded as they are packed, fp32 accumulation), null (the level's fp32
    // kernel) otherwise.
    const cpu::GemmKernel * encoder_products() const {
        return bf16_ ? cpu::gemm_kernel_bf16_training() : nullptr;
    }

    bool bf16_ = false;
    const cpu::GemmKernel * products_ = nullptr;
    mutable std::mutex pool_mu_;
    std::shared_ptr<ThreadPool> pool_;
};

}  // namespace sa
