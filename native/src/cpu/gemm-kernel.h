// SPDX-License-Identifier: Apache-2.0
// The register micro-kernel and packing routines of the CPU GEMM at one instruction-set level. The
// blocked driver (gemm.cpp) is shared; each level brings its own tile shape and packed layouts:
//   avx2     6 x 16 (gemm.cpp)
//   avx512  14 x 32, 28 ZMM accumulators (isa/gemm-avx512.cpp, compiled with AVX-512 flags)
// The level is chosen once per process (sa/isa.h), so packed operands (prepared weights, packed
// attention keys) always meet the kernel that packed them.
// A second kind of kernel multiplies in bf16 (operands rounded to bf16 as they are packed, fp32
// accumulation): the training products of a CPU backend made with bf16 training products
// (isa/gemm-train-avx512bf16.cpp at level avx512bf16, isa/gemm-train-amx.cpp at level amx). It is selected per call
// with ProductsScope, which every thread of the call's pool jobs inherits (sa::job_context); packed operands live only
// inside one product.
#pragma once

#include <cstdint>

namespace sa::cpu {

struct GemmKernel {
    int64_t mr, nr;         // micro-tile
    int64_t kc, mc, nc;     // cache blocks (K panel, A block rows, B panel columns)
    double macs_per_cycle;  // per core, for the thread-grid cost model
    // C[0:mr, 0:nr] = alpha * Ap Bp + beta * C + bias (beta == 0: C not read; bias: nr values or null).
    void (*kernel)(int64_t kc, const float * Ap, const float * Bp, float * C, int64_t ldc, float alpha, float beta,
                   const float * bias);
    // Packed A: per mr-row sliver, kc columns of mr values (rows past mc zero).
    void (*pack_a)(bool ta, int64_t mc, int64_t kc, const float * A, int64_t lda, float * Ap);
    // Packed B: per nr-column sliver, kc rows of nr values (columns past nc zero).
    void (*pack_b)(bool tb, int64_t kc, int64_t nc, const float * B, int64_t ldb, float * Bp);
    // Packed K: a sliver row or column holds packed_k(kc) 32-bit words (fp32: kc; bf16 pairs: kc rounded
    // up to k_align, two per word).
    int64_t k_align = 1, k_per_word = 1;
    // Called on a thread before and after its blocked product (AMX tile configuration), or null.
    void (*begin)() = nullptr;
    void (*end)() = nullptr;
    // Edge tiles of at most short_rows rows, or null: C[0:short_rows, 0:nr] = init + Ap Bp from the first
    // short_rows rows of an mr-row sliver (init rows ld_init apart, 0 repeating one row; null: zero),
    // with the bits of the full kernel's rows when it is called with alpha 1 and beta 0 (init: the bias
    // row or null) or beta 1 without a bias (init: C).
    int64_t short_rows = 0;
    void (*kernel_short)(int64_t kc, const float * Ap, const float * Bp, float * C, int64_t ldc, const float * init,
                         int64_t ld_init) = nullptr;
};

// Words per packed sliver row of a kc-long K panel (internal linkage: this header is also compiled
// with the levels' flags).
static inline int64_t packed_k(const GemmKernel & g, int64_t kc) {
    return (kc + g.k_align - 1) / g.k_align * g.k_align / g.k_per_word;
}

// The kernel of the calling thread's products: the ProductsScope's, else the fp32 kernel of the level
// in use (sa::cpu_isa()).
const GemmKernel & gemm_kernel();
// The level's fp32 kernel (prepared weights, packed attention keys, the peak measurement).
const GemmKernel & gemm_kernel_fp32();
const GemmKernel & gemm_kernel_avx2();
#if defined(SA_HAVE_AVX512)
const GemmKernel & gemm_kernel_avx512();
#endif
#if defined(SA_HAVE_AVX512BF16)
// bf16 products with VDPBF16PS: 14 x 32 micro-tiles, K in steps of 8 (pairs of bf16 per word).
const GemmKernel & gemm_kernel_train_avx512bf16();
#endif
#if defined(SA_HAVE_AMX)
// bf16 products on AMX tiles: 32 x 32 micro-tiles, K in steps of 32 (pairs of bf16 per word).
const GemmKernel & gemm_kernel_train_amx();
#endif

// The products kernel for training in bf16 at the level in use, or null when the level has none
// (below avx512bf16).
const GemmKernel * gemm_kernel_bf16_training();

// Makes every product of sa::sgemm and its variants on this thread, and in the pool jobs it starts,
// use `kernel` (null: the level's fp32 kernel) until the scope ends.
class ProductsScope {
  public:
    explicit ProductsScope(const GemmKernel * kernel);
    ~ProductsScope();
    ProductsScope(const ProductsScope &) = delete;
    ProductsScope & operator=(const ProductsScope &) = delete;

  private:
    uintptr_t saved_;
};

}  // namespace sa::cpu
