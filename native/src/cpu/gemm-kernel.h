// SPDX-License-Identifier: Apache-2.0
// The register micro-kernel and packing routines of the CPU GEMM at one instruction-set level. The
// blocked driver (gemm.cpp) is shared; each level brings its own tile shape and packed layouts:
//   avx2     6 x 16 (gemm.cpp)
//   avx512  14 x 32, 28 ZMM accumulators (isa/gemm-avx512.cpp, compiled with AVX-512 flags)
// The level is chosen once per process (sa/isa.h), so packed operands (prepared weights, packed
// attention keys) always meet the kernel that packed them.
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
};

// The kernel of the level in use (sa::cpu_isa()).
const GemmKernel & gemm_kernel();
const GemmKernel & gemm_kernel_avx2();
#if defined(SA_HAVE_AVX512)
const GemmKernel & gemm_kernel_avx512();
#endif

}  // namespace sa::cpu
