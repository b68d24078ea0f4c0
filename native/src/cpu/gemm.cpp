// SPDX-License-Identifier: Apache-2.0
// Packed, cache-blocked SGEMM (the Goto/BLIS scheme). The blocked driver is shared by every CPU level;
// the register micro-kernel and the packing come from the level in use (cpu/gemm-kernel.h): here the
// 6x16 AVX2/FMA kernel (and a portable scalar fallback), isa/gemm-avx512.cpp the 14x32 AVX-512 one.
//
//   for jc in N by NC:            B panel  op(B)[pc:pc+KC, jc:jc+NC] packed into NR-wide slivers
//     for pc in K by KC:
//       for ic in M by MC:        A block  op(A)[ic:ic+MC, pc:pc+KC] packed into MR-tall slivers
//         for jr, ir:             MR x NR micro-kernel over KC
//
// Threads: C is cut into tiles (tm x tn, whole micro-tiles, balanced, up to a few per thread) that
// threads claim as they get free; each runs the blocked loop above on a tile with its own packing
// buffers. Every element of C is then produced by exactly one tile with the same k-order for any
// thread count and any cut, so results are bit-identical across thread counts and runs. Thin products with a long K are
// cut along K instead (gemm_split_k), in chunks fixed by K alone, with the same guarantee.
#include "sa/gemm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "cpu/gemm-kernel.h"
#include "cpu/gemm-packed.h"
#include "cpu/simd.h"
#include "sa/isa.h"
#include "sa/status.h"
#include "sa/threadpool.h"

#ifdef __AVX2__
#include <immintrin.h>
#endif

namespace sa {

namespace {

// The AVX2 kernel's tile and blocks.
constexpr int64_t MR = 6;
constexpr int64_t NR = 16;
constexpr int64_t KC = 256;            // A sliver + B sliver stay in L1 across the micro-kernel
constexpr int64_t MC = 144;            // packed A block (MC x KC, 144 KiB) stays in L2
constexpr int64_t NC = 3072;           // packed B panel (KC x NC, 3 MiB) stays in L3
constexpr int64_t kMaxTile = 32 * 32;  // largest mr x nr of any level
constexpr int64_t kMaxNr = 32;         // largest nr of any level
constexpr int64_t kGroupCols = 256;    // B columns packed at a time for a product of one row block

// Below this many multiply-adds a product runs on the calling thread (fork-join costs more).
constexpr double kSerialMacs = 1 << 18;

// Split-K products (see gemm_split_k): C at most this many elements, K at least two chunks.
constexpr int64_t kSplitMaxMN = 256 * 256;
constexpr int64_t kSplitChunk = 1024;
constexpr int64_t kSplitMaxChunks = 16;

// 64-byte aligned, grow-only scratch buffer owned by one thread.
class Scratch {
  public:
    ~Scratch() { std::free(p_); }
    float * get(size_t n) {
        if (n > cap_) {
            std::free(p_);
            size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
            p_ = static_cast<float *>(std::aligned_alloc(64, bytes));
            if (!p_) {
                cap_ = 0;
                fail(SA_ERR_OOM, "sgemm: out of memory for packing buffers");
            }
            cap_ = n;
        }
        return p_;
    }

  private:
    float * p_ = nullptr;
    size_t cap_ = 0;
};

struct ThreadBuffers {
    Scratch a, b;
};

ThreadBuffers & thread_buffers() {
    static thread_local ThreadBuffers bufs;
    return bufs;
}

// ---- packing ----------------------------------------------------------------------------------
#ifdef __AVX2__
// Packs 8 consecutive k of MR = 6 rows: dst[k*6 + r] = rows[r][k0 + k], k in [0, 8). Each 8-float
// store spills 2 floats into the next k's slot, which the next store overwrites; the last k is
// stored as 4 + 2 floats so nothing past dst[48) is touched.
inline void pack_a_6x8(const float * const * rows, int64_t k0, float * dst) {
    __m256 r[8];
    for (int i = 0; i < 6; ++i) r[i] = _mm256_loadu_ps(rows[i] + k0);
    r[6] = r[7] = _mm256_setzero_ps();
    cpu::transpose8_regs(r);
    for (int q = 0; q < 7; ++q) _mm256_storeu_ps(dst + q * MR, r[q]);
    _mm_storeu_ps(dst + 7 * MR, _mm256_castps256_ps128(r[7]));
    _mm_storel_pi((__m64 *) (dst + 7 * MR + 4), _mm256_extractf128_ps(r[7], 1));
}
#endif

// Packed A: for each MR-row sliver, kc columns of MR values (rows past mc are zero). A transposed A
// is stored k-major: its whole slivers are filled one source row at a time, so the (often cold)
// source is read sequentially instead of in MR-float pieces down a column.
void pack_a_avx2(bool ta, int64_t mc, int64_t kc, const float * A, int64_t lda, float * Ap) {
    if (ta) {
        const int64_t whole = mc / MR * MR;
        for (int64_t k = 0; k < kc; ++k) {
            const float * src = A + k * lda;
            for (int64_t i0 = 0; i0 < whole; i0 += MR) std::memcpy(Ap + i0 * kc + k * MR, src + i0, MR * sizeof(float));
        }
    }
    for (int64_t i0 = 0; i0 < mc; i0 += MR) {
        const int64_t mr = std::min(MR, mc - i0);
        float * dst = Ap + i0 * kc;
        if (!ta) {
            const float * rows[MR];
            for (int64_t r = 0; r < MR; ++r) rows[r] = A + (i0 + std::min(r, mr - 1)) * lda;
            if (mr == MR) {
                int64_t k = 0;
#ifdef __AVX2__
                for (; k + 8 <= kc; k += 8) pack_a_6x8(rows, k, dst + k * MR);
#endif
                for (; k < kc; ++k)
                    for (int64_t r = 0; r < MR; ++r) dst[k * MR + r] = rows[r][k];
            } else {
                for (int64_t k = 0; k < kc; ++k)
                    for (int64_t r = 0; r < MR; ++r) dst[k * MR + r] = r < mr ? rows[r][k] : 0.0f;
            }
        } else if (mr == MR) {
            continue;  // whole slivers of a transposed A: filled row by row above
        } else {
            for (int64_t k = 0; k < kc; ++k) {
                const float * src = A + k * lda + i0;
                for (int64_t r = 0; r < MR; ++r) dst[k * MR + r] = r < mr ? src[r] : 0.0f;
            }
        }
    }
}

// Packed B: for each NR-column sliver, kc rows of NR values (columns past nc are zero). An untransposed
// B is filled one source row at a time (sequential reads of the often cold source, NR-float writes
// into every sliver).
void pack_b_avx2(bool tb, int64_t kc, int64_t nc, const float * B, int64_t ldb, float * Bp) {
    if (!tb) {
        const int64_t whole = nc / NR * NR;
        for (int64_t k = 0; k < kc; ++k) {
            const float * src = B + k * ldb;
            for (int64_t j0 = 0; j0 < whole; j0 += NR) {
#ifdef __AVX2__
                _mm256_store_ps(Bp + j0 * kc + k * NR, _mm256_loadu_ps(src + j0));
                _mm256_store_ps(Bp + j0 * kc + k * NR + 8, _mm256_loadu_ps(src + j0 + 8));
#else
                std::memcpy(Bp + j0 * kc + k * NR, src + j0, NR * sizeof(float));
#endif
            }
            if (whole < nc) {
                float * d = Bp + whole * kc + k * NR;
                for (int64_t c = 0; c < NR; ++c) d[c] = whole + c < nc ? src[whole + c] : 0.0f;
            }
        }
        return;
    }
    for (int64_t j0 = 0; j0 < nc; j0 += NR) {
        const int64_t nr = std::min(NR, nc - j0);
        float * dst = Bp + j0 * kc;
        const float * src = B + j0 * ldb;  // op(B)[k, j0 + c] = B[(j0 + c) * ldb + k]
        int64_t k = 0;
#ifdef __AVX2__
        if (nr == NR) {
            for (; k + 8 <= kc; k += 8) {
                cpu::transpose8x8(src + k, ldb, dst + k * NR, NR);
                cpu::transpose8x8(src + 8 * ldb + k, ldb, dst + k * NR + 8, NR);
            }
        }
#endif
        for (; k < kc; ++k)
            for (int64_t c = 0; c < NR; ++c) dst[k * NR + c] = c < nr ? src[c * ldb + k] : 0.0f;
    }
}

// ---- micro-kernel -----------------------------------------------------------------------------
// C[0:MR, 0:NR] = alpha * Ap Bp + beta * C + bias (beta == 0: overwrite without reading C; bias: NR
// column values or null).
// The AVX2 version keeps the 6x16 accumulator tile in ymm4-15 (B row in ymm0-1, A broadcasts in
// ymm2-3), unrolled by 4 in k; written as inline assembly so the register allocation and the
// instruction schedule do not depend on the compiler.
#if defined(__AVX2__) && defined(__x86_64__)
#define SA_K_STEP(i)                          \
    "vmovaps " #i                             \
    "*64(%[b]), %%ymm0\n\t"                   \
    "vmovaps " #i                             \
    "*64+32(%[b]), %%ymm1\n\t"                \
    "vbroadcastss " #i                        \
    "*24+0(%[a]), %%ymm2\n\t"                 \
    "vfmadd231ps %%ymm0, %%ymm2, %%ymm4\n\t"  \
    "vfmadd231ps %%ymm1, %%ymm2, %%ymm5\n\t"  \
    "vbroadcastss " #i                        \
    "*24+4(%[a]), %%ymm3\n\t"                 \
    "vfmadd231ps %%ymm0, %%ymm3, %%ymm6\n\t"  \
    "vfmadd231ps %%ymm1, %%ymm3, %%ymm7\n\t"  \
    "vbroadcastss " #i                        \
    "*24+8(%[a]), %%ymm2\n\t"                 \
    "vfmadd231ps %%ymm0, %%ymm2, %%ymm8\n\t"  \
    "vfmadd231ps %%ymm1, %%ymm2, %%ymm9\n\t"  \
    "vbroadcastss " #i                        \
    "*24+12(%[a]), %%ymm3\n\t"                \
    "vfmadd231ps %%ymm0, %%ymm3, %%ymm10\n\t" \
    "vfmadd231ps %%ymm1, %%ymm3, %%ymm11\n\t" \
    "vbroadcastss " #i                        \
    "*24+16(%[a]), %%ymm2\n\t"                \
    "vfmadd231ps %%ymm0, %%ymm2, %%ymm12\n\t" \
    "vfmadd231ps %%ymm1, %%ymm2, %%ymm13\n\t" \
    "vbroadcastss " #i                        \
    "*24+20(%[a]), %%ymm3\n\t"                \
    "vfmadd231ps %%ymm0, %%ymm3, %%ymm14\n\t" \
    "vfmadd231ps %%ymm1, %%ymm3, %%ymm15\n\t"
void kernel_avx2(int64_t kc, const float * Ap, const float * Bp, float * C, int64_t ldc, float alpha, float beta,
                 const float * bias) {
    alignas(32) float acc[MR * NR];
    // C is touched only after the k loop: start fetching its 6 rows (two lines each when unaligned) now.
    for (int64_t r = 0; r < MR; ++r) {
        _mm_prefetch((const char *) (C + r * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *) (C + r * ldc + NR - 1), _MM_HINT_T0);
    }
    int64_t k4 = kc / 4, kr = kc % 4;
    asm volatile(
        "vxorps %%ymm4, %%ymm4, %%ymm4\n\t"
        "vxorps %%ymm5, %%ymm5, %%ymm5\n\t"
        "vxorps %%ymm6, %%ymm6, %%ymm6\n\t"
        "vxorps %%ymm7, %%ymm7, %%ymm7\n\t"
        "vxorps %%ymm8, %%ymm8, %%ymm8\n\t"
        "vxorps %%ymm9, %%ymm9, %%ymm9\n\t"
        "vxorps %%ymm10, %%ymm10, %%ymm10\n\t"
        "vxorps %%ymm11, %%ymm11, %%ymm11\n\t"
        "vxorps %%ymm12, %%ymm12, %%ymm12\n\t"
        "vxorps %%ymm13, %%ymm13, %%ymm13\n\t"
        "vxorps %%ymm14, %%ymm14, %%ymm14\n\t"
        "vxorps %%ymm15, %%ymm15, %%ymm15\n\t"
        "test %[k4], %[k4]\n\t"
        "jz 2f\n\t"
        "1:\n\t"
        SA_K_STEP(0) SA_K_STEP(1) SA_K_STEP(2) SA_K_STEP(3)
        "add $96, %[a]\n\t"
        "add $256, %[b]\n\t"
        "dec %[k4]\n\t"
        "jnz 1b\n\t"
        "2:\n\t"
        "test %[kr], %[kr]\n\t"
        "jz 4f\n\t"
        "3:\n\t"
        SA_K_STEP(0)
        "add $24, %[a]\n\t"
        "add $64, %[b]\n\t"
        "dec %[kr]\n\t"
        "jnz 3b\n\t"
        "4:\n\t"
        "vmovaps %%ymm4, 0(%[c])\n\t"
        "vmovaps %%ymm5, 32(%[c])\n\t"
        "vmovaps %%ymm6, 64(%[c])\n\t"
        "vmovaps %%ymm7, 96(%[c])\n\t"
        "vmovaps %%ymm8, 128(%[c])\n\t"
        "vmovaps %%ymm9, 160(%[c])\n\t"
        "vmovaps %%ymm10, 192(%[c])\n\t"
        "vmovaps %%ymm11, 224(%[c])\n\t"
        "vmovaps %%ymm12, 256(%[c])\n\t"
        "vmovaps %%ymm13, 288(%[c])\n\t"
        "vmovaps %%ymm14, 320(%[c])\n\t"
        "vmovaps %%ymm15, 352(%[c])\n\t"
        : [a] "+r"(Ap), [b] "+r"(Bp), [k4] "+r"(k4), [kr] "+r"(kr)
        : [c] "r"(acc)
        : "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
          "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
    const __m256 va = _mm256_set1_ps(alpha);
    const __m256 b0 = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
    const __m256 b1 = bias ? _mm256_loadu_ps(bias + 8) : _mm256_setzero_ps();
    if (beta == 0.0f) {
        for (int64_t r = 0; r < MR; ++r) {
            _mm256_storeu_ps(C + r * ldc, _mm256_fmadd_ps(va, _mm256_load_ps(acc + r * NR), b0));
            _mm256_storeu_ps(C + r * ldc + 8, _mm256_fmadd_ps(va, _mm256_load_ps(acc + r * NR + 8), b1));
        }
    } else {
        const __m256 vb = _mm256_set1_ps(beta);
        for (int64_t r = 0; r < MR; ++r) {
            float * c = C + r * ldc;
            __m256 c0 = _mm256_mul_ps(vb, _mm256_loadu_ps(c)), c1 = _mm256_mul_ps(vb, _mm256_loadu_ps(c + 8));
            if (bias) {
                c0 = _mm256_add_ps(c0, b0);
                c1 = _mm256_add_ps(c1, b1);
            }
            _mm256_storeu_ps(c, _mm256_fmadd_ps(va, _mm256_load_ps(acc + r * NR), c0));
            _mm256_storeu_ps(c + 8, _mm256_fmadd_ps(va, _mm256_load_ps(acc + r * NR + 8), c1));
        }
    }
}
#undef SA_K_STEP
#else
void kernel_avx2(int64_t kc, const float * __restrict Ap, const float * __restrict Bp, float * C, int64_t ldc,
                 float alpha, float beta, const float * bias) {
    float acc[MR][NR] = {};
    for (int64_t k = 0; k < kc; ++k) {
        const float * a = Ap + k * MR;
        const float * b = Bp + k * NR;
        for (int64_t r = 0; r < MR; ++r)
            for (int64_t c = 0; c < NR; ++c) acc[r][c] += a[r] * b[c];
    }
    for (int64_t r = 0; r < MR; ++r) {
        float * cr = C + r * ldc;
        for (int64_t c = 0; c < NR; ++c) {
            const float add = (beta == 0.0f ? 0.0f : beta * cr[c]) + (bias ? bias[c] : 0.0f);
            cr[c] = alpha * acc[r][c] + add;
        }
    }
}
#endif

}  // namespace

namespace cpu {

const GemmKernel & gemm_kernel_avx2() {
    static const GemmKernel k{MR, NR, KC, MC, NC, 16.0, kernel_avx2, pack_a_avx2, pack_b_avx2};
    return k;
}

const GemmKernel & gemm_kernel_fp32() {
#if defined(SA_HAVE_AVX512)
    static const GemmKernel & k = cpu_isa() >= Isa::avx512 ? gemm_kernel_avx512() : gemm_kernel_avx2();
#else
    static const GemmKernel & k = gemm_kernel_avx2();
#endif
    return k;
}

const GemmKernel & gemm_kernel() {
    const uintptr_t scoped = job_context();
    return scoped ? *reinterpret_cast<const GemmKernel *>(scoped) : gemm_kernel_fp32();
}

const GemmKernel * gemm_kernel_bf16_training() {
#if defined(SA_HAVE_AMX)
    if (cpu_isa() == Isa::amx) return &gemm_kernel_train_amx();
#endif
#if defined(SA_HAVE_AVX512BF16)
    if (cpu_isa() == Isa::avx512bf16) return &gemm_kernel_train_avx512bf16();
#endif
    return nullptr;
}

ProductsScope::ProductsScope(const GemmKernel * kernel) : saved_(job_context()) {
    set_job_context(reinterpret_cast<uintptr_t>(kernel));
}

ProductsScope::~ProductsScope() {
    set_job_context(saved_);
}

}  // namespace cpu

namespace {

using cpu::gemm_kernel;
using cpu::GemmKernel;

// Partial tile at the edge of C: the full tile on a local copy of its part of C, then copied back.
void kernel_edge(const GemmKernel & g, int64_t mr, int64_t nr, int64_t kc, const float * Ap, const float * Bp,
                 float * C, int64_t ldc, float alpha, float beta, const float * bias) {
    // The edge tile runs the kernel's own arithmetic on a full-size copy of its part of C (and of the
    // bias row), so a row's bits do not depend on whether it falls in a full or an edge tile.
    alignas(64) float tmp[kMaxTile];
    alignas(64) float brow[kMaxNr];
    const int64_t NR = g.nr;
    if (beta != 0.0f)
        for (int64_t r = 0; r < g.mr; ++r)
            for (int64_t c = 0; c < NR; ++c) tmp[r * NR + c] = r < mr && c < nr ? C[r * ldc + c] : 0.0f;
    if (bias)
        for (int64_t c = 0; c < NR; ++c) brow[c] = c < nr ? bias[c] : 0.0f;
    const float * b = bias ? brow : nullptr;
    // The short tile covers the kernels' in-place case (alpha 1 from zero, the bias row or C).
    if (g.kernel_short && mr <= g.short_rows && alpha == 1.0f && (beta == 0.0f || (beta == 1.0f && !bias))) {
        g.kernel_short(kc, Ap, Bp, tmp, NR, beta != 0.0f ? tmp : b, beta != 0.0f ? NR : 0);
    } else {
        g.kernel(kc, Ap, Bp, tmp, NR, alpha, beta, b);
    }
    for (int64_t r = 0; r < mr; ++r) std::copy(tmp + r * NR, tmp + r * NR + nr, C + r * ldc);
}

// C = beta * C + bias for an M x N block (beta == 0: without reading C; bias: N values or null).
void scale_c(int64_t M, int64_t N, float beta, float * C, int64_t ldc, const float * bias) {
    for (int64_t i = 0; i < M; ++i) {
        float * c = C + i * ldc;
        if (beta == 0.0f) {
            std::fill(c, c + N, 0.0f);
        } else if (beta != 1.0f) {
            for (int64_t j = 0; j < N; ++j) c[j] *= beta;
        }
        if (bias)
            for (int64_t j = 0; j < N; ++j) c[j] += bias[j];
    }
}

// The macro-kernel: C[mc, nc] = alpha * Apacked[mc, kc] Bpacked[kc, nc] + beta * C (+ bias[nc]).
void macro_kernel(const GemmKernel & g, int64_t mc, int64_t nc, int64_t kc, float alpha, const float * Ap,
                  const float * Bp, float beta, float * C, int64_t ldc, const float * bias) {
    const int64_t MR = g.mr, NR = g.nr, ks = packed_k(g, kc);
    for (int64_t jr = 0; jr < nc; jr += NR) {
        const int64_t nr = std::min(NR, nc - jr);
        const float * bp = Bp + jr * ks;
        for (int64_t ir = 0; ir < mc; ir += MR) {
            const int64_t mr = std::min(MR, mc - ir);
            float * c = C + ir * ldc + jr;
            if (mr == MR && nr == NR) {
                g.kernel(kc, Ap + ir * ks, bp, c, ldc, alpha, beta, bias ? bias + jr : nullptr);
            } else {
                kernel_edge(g, mr, nr, kc, Ap + ir * ks, bp, c, ldc, alpha, beta, bias ? bias + jr : nullptr);
            }
        }
    }
}

// The blocked product on one thread: C[M,N] (a tile of the caller's C) with its own buffers; the
// column bias (N values or null) goes in with the first K panel.
void gemm_blocked(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float * A, int64_t lda,
                  const float * B, int64_t ldb, float beta, float * C, int64_t ldc, const float * bias = nullptr) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0 || alpha == 0.0f) {
        scale_c(M, N, beta, C, ldc, bias);
        return;
    }
    const GemmKernel & g = gemm_kernel();
    const int64_t MR = g.mr, NR = g.nr, KC = g.kc, MC = g.mc, NC = g.nc;
    ThreadBuffers & bufs = thread_buffers();
    const int64_t kc_max = std::min(KC, K);
    const int64_t nc_max = std::min(NC, (N + NR - 1) / NR * NR);
    const int64_t mc_max = std::min(MC, (M + MR - 1) / MR * MR);
    if (M <= MC) {
        // One block of rows (thin products: tokens, attention queries): its A panel is packed once per K
        // panel, and B goes in groups of kGroupCols columns, each packed and used at once, so the packed
        // group is still in L1/L2 when the micro-kernel reads it (a whole packed B panel, up to NC
        // columns, would go through L3 between the packing and its one pass of row tiles). The same
        // tiles and the same panels in the same order: the bits of the loop below.
        const int64_t ng_max = std::min(nc_max, std::max(NR, kGroupCols / NR * NR));
        float * Bp = bufs.b.get((size_t) (packed_k(g, kc_max) * ng_max));
        float * Ap = bufs.a.get((size_t) (packed_k(g, kc_max) * mc_max));
        if (g.begin) g.begin();
        for (int64_t pc = 0; pc < K; pc += KC) {
            const int64_t kc = std::min(KC, K - pc);
            const float beta_eff = pc == 0 ? beta : 1.0f;
            g.pack_a(ta, M, kc, ta ? A + pc * lda : A + pc, lda, Ap);
            for (int64_t jc = 0; jc < N; jc += ng_max) {
                const int64_t ng = std::min(ng_max, N - jc);
                g.pack_b(tb, kc, ng, tb ? B + jc * ldb + pc : B + pc * ldb + jc, ldb, Bp);
                macro_kernel(g, M, ng, kc, alpha, Ap, Bp, beta_eff, C + jc, ldc, pc == 0 && bias ? bias + jc : nullptr);
            }
        }
        if (g.end) g.end();
        return;
    }
    float * Bp = bufs.b.get((size_t) (packed_k(g, kc_max) * nc_max));
    float * Ap = bufs.a.get((size_t) (packed_k(g, kc_max) * mc_max));
    if (g.begin) g.begin();
    for (int64_t jc = 0; jc < N; jc += NC) {
        const int64_t nc = std::min(NC, N - jc);
        for (int64_t pc = 0; pc < K; pc += KC) {
            const int64_t kc = std::min(KC, K - pc);
            const float beta_eff = pc == 0 ? beta : 1.0f;
            g.pack_b(tb, kc, nc, tb ? B + jc * ldb + pc : B + pc * ldb + jc, ldb, Bp);
            for (int64_t ic = 0; ic < M; ic += MC) {
                const int64_t mc = std::min(MC, M - ic);
                g.pack_a(ta, mc, kc, ta ? A + pc * lda + ic : A + ic * lda + pc, lda, Ap);
                macro_kernel(g, mc, nc, kc, alpha, Ap, Bp, beta_eff, C + ic * ldc + jc, ldc,
                             pc == 0 && bias ? bias + jc : nullptr);
            }
        }
    }
    if (g.end) g.end();
}

// Thin products with a long inner dimension (weight gradients over all pixels, attention's P V):
// cutting C into thread tiles would make every thread pack the whole of the smaller operand, and
// packing (the first touch of both operands) then costs as much as the multiply-adds. Instead K is
// cut into chunks whose size depends on K only; each chunk's product goes on one thread into its own
// partial C (each operand element is packed once in all), and the partials are summed in chunk order,
// so the result is the same for any thread count, on a pool or serial (pool == nullptr).
bool use_split_k(int64_t M, int64_t N, int64_t K, float alpha) {
    return alpha != 0.0f && M * N <= kSplitMaxMN && K >= 2 * kSplitChunk &&
           (double) M * (double) N * (double) K >= kSerialMacs;
}

int64_t split_k_chunk(int64_t K) {
    const int64_t KC = gemm_kernel().kc;
    return std::max(kSplitChunk, (K / kSplitMaxChunks + KC - 1) / KC * KC);
}

void gemm_split_k(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float * A, int64_t lda,
                  const float * B, int64_t ldb, float beta, float * C, int64_t ldc, const float * bias,
                  ThreadPool * pool) {
    const int64_t chunk = split_k_chunk(K);
    const int64_t chunks = (K + chunk - 1) / chunk;
    thread_local Scratch partial_buf;
    float * partial = partial_buf.get((size_t) (chunks * M * N));
    auto products = [&](int64_t c0, int64_t c1) {
        for (int64_t c = c0; c < c1; ++c) {
            const int64_t k0 = c * chunk, kc = std::min(chunk, K - k0);
            gemm_blocked(ta, tb, M, N, kc, 1.0f, ta ? A + k0 * lda : A + k0, lda, tb ? B + k0 : B + k0 * ldb, ldb, 0.0f,
                         partial + c * M * N, N);
        }
    };
    auto sum_rows = [&](int64_t r0, int64_t r1) {
        sgemm_split_k_sum(partial, chunks, M, N, r0, r1, alpha, beta, C, ldc, bias);
    };
    if (pool && pool->size() > 1) {
        pool->parallel_chunks(chunks, 1, products);
        pool->parallel_for(M, sum_rows);
    } else {
        products(0, chunks);
        sum_rows(0, M);
    }
}

// Rows of op(A) / columns of op(B) starting at m0 / n0.
inline const float * a_rows(bool ta, const float * A, int64_t lda, int64_t m0) {
    return ta ? A + m0 : A + m0 * lda;
}
inline const float * b_cols(bool tb, const float * B, int64_t ldb, int64_t n0) {
    return tb ? B + n0 * ldb : B + n0;
}

}  // namespace

void sgemm_split_k_sum(const float * partial, int64_t chunks, int64_t M, int64_t N, int64_t r0, int64_t r1, float alpha,
                       float beta, float * C, int64_t ldc, const float * bias) {
    thread_local std::vector<float> row;
    row.resize((size_t) N);
    float * acc = row.data();
    for (int64_t r = r0; r < r1; ++r) {
        std::copy(partial + r * N, partial + (r + 1) * N, acc);
        for (int64_t q = 1; q < chunks; ++q) {
            const float * pq = partial + (q * M + r) * N;
            for (int64_t j = 0; j < N; ++j) acc[j] += pq[j];
        }
        float * c = C + r * ldc;
        if (beta == 0.0f && !bias) {
            for (int64_t j = 0; j < N; ++j) c[j] = alpha * acc[j];
        } else if (beta == 0.0f) {
            for (int64_t j = 0; j < N; ++j) c[j] = alpha * acc[j] + bias[j];
        } else if (!bias) {
            for (int64_t j = 0; j < N; ++j) c[j] = alpha * acc[j] + beta * c[j];
        } else {
            for (int64_t j = 0; j < N; ++j) c[j] = alpha * acc[j] + (beta * c[j] + bias[j]);
        }
    }
}

int64_t sgemm_split_k_chunk(int64_t M, int64_t N, int64_t K) {
    return M > 0 && N > 0 && use_split_k(M, N, K, 1.0f) ? split_k_chunk(K) : 0;
}

void sgemm_unsplit(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float * A,
                   int64_t lda, const float * B, int64_t ldb, float beta, float * C, int64_t ldc) {
    gemm_blocked(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void sgemm_serial(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float * A,
                  int64_t lda, const float * B, int64_t ldb, float beta, float * C, int64_t ldc) {
    if (M <= 0 || N <= 0) return;
    if (use_split_k(M, N, K, alpha)) {
        gemm_split_k(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, nullptr, nullptr);
        return;
    }
    gemm_blocked(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float * A, int64_t lda,
           const float * B, int64_t ldb, float beta, float * C, int64_t ldc, ThreadPool & pool) {
    sgemm_bias(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, nullptr, pool);
}

void sgemm_bias(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float * A, int64_t lda,
                const float * B, int64_t ldb, float beta, float * C, int64_t ldc, const float * bias, ThreadPool & p) {
    if (M <= 0 || N <= 0) return;
    const int nt = p.size();
    if (use_split_k(M, N, K, alpha)) {
        gemm_split_k(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias, &p);
        return;
    }
    if (nt <= 1 || (double) M * (double) N * (double) std::max<int64_t>(K, 1) < kSerialMacs) {
        gemm_blocked(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias);
        return;
    }
    // C is cut into tm x tn tiles (whole micro-tiles, balanced) that threads claim as they get free
    // (ThreadPool::parallel_chunks). The cut minimises an estimate of the time in cycles: a tile's
    // micro-tile multiply-adds at the kernel's rate plus the operand panels it packs (its rows of A, its
    // columns of B, about one element per cycle), times the tiles per thread plus half a tile for the
    // last one to end (more tiles: more packing, less waiting on a thread slowed by other load); at
    // most kTilesPerThread tiles per thread. Ties go to fewer M cuts, then fewer N cuts.
    constexpr int kTilesPerThread = ThreadPool::kChunksPerThread;
    const GemmKernel & g = gemm_kernel();
    const int64_t MR = g.mr, NR = g.nr;
    const int64_t mt = (M + MR - 1) / MR, ntiles = (N + NR - 1) / NR;
    const double kk = (double) std::max<int64_t>(K, 1);
    int64_t best_tm = 1, best_tn = 1;
    double best_cost = -1;
    for (int64_t tm = 1; tm <= std::min<int64_t>(mt, kTilesPerThread * nt); ++tm) {
        for (int64_t tn = 1; tn <= std::min<int64_t>(ntiles, kTilesPerThread * nt / tm); ++tn) {
            const double tile_macs = (double) ((mt + tm - 1) / tm * MR) * (double) ((ntiles + tn - 1) / tn * NR) * kk;
            const double tile_packed = ((double) M / (double) tm + (double) N / (double) tn) * kk;
            const double per_thread = (double) (tm * tn) / nt + 0.5;
            const double cost = (tile_macs / g.macs_per_cycle + tile_packed) * per_thread;
            if (best_cost < 0 || cost < best_cost * (1 - 1e-9)) {
                best_cost = cost;
                best_tm = tm;
                best_tn = tn;
            }
        }
    }
    const int64_t tm = best_tm, tn = best_tn;
    p.parallel_chunks(tm * tn, 1, [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
            const int64_t it = t / tn, jt = t % tn;
            const int64_t m0 = std::min(M, mt * it / tm * MR), m1 = std::min(M, mt * (it + 1) / tm * MR);
            const int64_t n0 = std::min(N, ntiles * jt / tn * NR), n1 = std::min(N, ntiles * (jt + 1) / tn * NR);
            if (m0 >= m1 || n0 >= n1) continue;
            gemm_blocked(trans_a, trans_b, m1 - m0, n1 - n0, K, alpha, a_rows(trans_a, A, lda, m0), lda,
                         b_cols(trans_b, B, ldb, n0), ldb, beta, C + m0 * ldc + n0, ldc, bias ? bias + n0 : nullptr);
        }
    });
}

namespace cpu {

// Whole op(B) packed as consecutive KC-row panels, each the NR-column slivers of pack_b.
size_t packed_b_size(int64_t K, int64_t N) {
    const int64_t NR = gemm_kernel_fp32().nr;
    return (size_t) (K * ((N + NR - 1) / NR * NR));
}

void pack_b_full(bool trans_b, int64_t K, int64_t N, const float * B, int64_t ldb, float * Bp) {
    const GemmKernel & g = gemm_kernel_fp32();
    const int64_t NR = g.nr, KC = g.kc;
    const int64_t Np = (N + NR - 1) / NR * NR;
    for (int64_t pc = 0; pc < K; pc += KC) {
        const int64_t kc = std::min(KC, K - pc);
        g.pack_b(trans_b, kc, N, trans_b ? B + pc : B + pc * ldb, ldb, Bp + pc * Np);
    }
}

// gemm_prepacked_b: A (rows x K) and C (rows x N) sizes, in floats, about half of L2.
constexpr int64_t kWholeA = 96 * 1024;

void gemm_prepacked_b(bool trans_a, int64_t M, int64_t N, int64_t K, float alpha, const float * A, int64_t lda,
                      const float * Bp, float beta, float * C, int64_t ldc, const float * bias) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0 || alpha == 0.0f) {
        scale_c(M, N, beta, C, ldc, bias);
        return;
    }
    const GemmKernel & g = gemm_kernel_fp32();
    const int64_t MR = g.mr, NR = g.nr, KC = g.kc, MC = g.mc;
    const int64_t Np = (N + NR - 1) / NR * NR, Mp = (M + MR - 1) / MR * MR;
    if (K > KC && M <= MC && Mp * K <= kWholeA && Mp * N > kWholeA) {
        // Several K panels over a C wider than L2 holds: all of A packed once (it stays in L2), then
        // each NR-column sliver over every panel before the next, so its C tiles stay in L1 between
        // panels. Same sums in the same order as the loop below.
        float * Ap = thread_buffers().a.get((size_t) (Mp * K));
        for (int64_t pc = 0; pc < K; pc += KC)
            g.pack_a(trans_a, M, std::min(KC, K - pc), trans_a ? A + pc * lda : A + pc, lda, Ap + pc * Mp);
        for (int64_t jr = 0; jr < N; jr += NR)
            for (int64_t pc = 0; pc < K; pc += KC)
                macro_kernel(g, M, std::min(NR, N - jr), std::min(KC, K - pc), alpha, Ap + pc * Mp,
                             Bp + pc * Np + jr * std::min(KC, K - pc), pc == 0 ? beta : 1.0f, C + jr, ldc,
                             pc == 0 && bias ? bias + jr : nullptr);
        return;
    }
    float * Ap = thread_buffers().a.get((size_t) (std::min(KC, K) * std::min(MC, Mp)));
    for (int64_t pc = 0; pc < K; pc += KC) {
        const int64_t kc = std::min(KC, K - pc);
        const float beta_eff = pc == 0 ? beta : 1.0f;
        for (int64_t ic = 0; ic < M; ic += MC) {
            const int64_t mc = std::min(MC, M - ic);
            g.pack_a(trans_a, mc, kc, trans_a ? A + pc * lda + ic : A + ic * lda + pc, lda, Ap);
            macro_kernel(g, mc, N, kc, alpha, Ap, Bp + pc * Np, beta_eff, C + ic * ldc, ldc, pc == 0 ? bias : nullptr);
        }
    }
}

}  // namespace cpu

}  // namespace sa
