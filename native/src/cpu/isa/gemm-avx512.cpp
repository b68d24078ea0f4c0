// SPDX-License-Identifier: Apache-2.0
// The AVX-512 GEMM micro-kernel and its packing (compiled with AVX-512F/BW/VL/DQ flags; called only
// when sa::cpu_isa() >= avx512). Tile 14 x 32: the accumulators fill zmm4-31 (28 registers), a packed
// B row takes zmm0-1 and the A broadcasts alternate in zmm2-3, so each k costs 2 vector loads, 14
// broadcasts and 28 FMAs. Only this file's own code may use AVX-512 instructions: it includes no
// project header with inline functions of external linkage (cpu/transpose8x8.h has internal linkage)
// and uses no library templates, so no shared (weak) symbol compiled here can replace the baseline
// build's copy.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "cpu/gemm-kernel.h"
#include "cpu/isa/transpose16x16.h"
#include "cpu/transpose8x8.h"

namespace sa::cpu {

namespace {

constexpr int64_t MR = 14;
constexpr int64_t NR = 32;
constexpr int64_t KC = 256;   // B sliver 32 KiB + A sliver 14 KiB in L1
constexpr int64_t MC = 168;   // packed A block 168 KiB in L2
constexpr int64_t NC = 3072;  // packed B panel 3 MiB

inline int64_t min64(int64_t a, int64_t b) {
    return a < b ? a : b;
}

// A transposed A and a transposed B are read in long runs along their rows (the first touch of an
// often cold operand then streams instead of hopping between rows one cache line at a time): the
// first several slivers per pass over its rows, the second through a buffer in L1 that takes 16
// source rows of the K panel whole and is transposed from there. (A row-major A is transposed straight
// from its rows: it is usually an activation still in cache, where the extra copy cost more.)
constexpr int64_t kGroupA = 8;  // slivers of a transposed A per pass over its rows (112 columns)

// buf[r * KC + k] = x[r * ld + k] for r < n, k < kc.
inline void copy_rows(const float * x, int64_t ld, int64_t n, int64_t kc, float * buf) {
    const int64_t whole = kc / 16 * 16;
    const __mmask16 tail = (__mmask16) ((1u << (kc - whole)) - 1u);
    for (int64_t r = 0; r < n; ++r) {
        const float * s = x + r * ld;
        float * d = buf + r * KC;
        for (int64_t k = 0; k < whole; k += 16) _mm512_store_ps(d + k, _mm512_loadu_ps(s + k));
        if (tail) _mm512_mask_storeu_ps(d + whole, tail, _mm512_maskz_loadu_ps(tail, s + whole));
    }
}

// Packed A: dst[k * MR + r] = op(A)[r, k] per MR-row sliver, rows past mc zero. A transposed A is
// read one source row (one k) at a time, for a group of slivers.
void pack_a(bool ta, int64_t mc, int64_t kc, const float * A, int64_t lda, float * Ap) {
    if (ta) {
        for (int64_t g0 = 0; g0 < mc; g0 += kGroupA * MR) {
            const int64_t g1 = min64(mc, g0 + kGroupA * MR);
            for (int64_t k = 0; k < kc; ++k)
                for (int64_t i0 = g0; i0 < g1; i0 += MR) {
                    const int64_t mr = min64(MR, mc - i0);
                    const __mmask16 m = (__mmask16) ((1u << mr) - 1u);
                    // 14 floats per k; the masked store keeps the next k's slot untouched.
                    _mm512_mask_storeu_ps(Ap + i0 * kc + k * MR, (__mmask16) 0x3FFF,
                                          _mm512_maskz_loadu_ps(m, A + k * lda + i0));
                }
        }
        return;
    }
    for (int64_t i0 = 0; i0 < mc; i0 += MR) {
        const int64_t mr = min64(MR, mc - i0);
        float * dst = Ap + i0 * kc;
        const float * rows[MR];
        for (int64_t r = 0; r < MR; ++r) rows[r] = A + (i0 + (r < mr ? r : mr - 1)) * lda;
        int64_t k = 0;
        // 16 k at a time: the mr rows (zero rows up to 16) transposed in registers, then 16 stores
        // of 14.
        for (; k + 16 <= kc; k += 16) {
            __m512 r[16];
            for (int64_t i = 0; i < 16; ++i) r[i] = i < mr ? _mm512_loadu_ps(rows[i] + k) : _mm512_setzero_ps();
            transpose16x16(r);
            for (int64_t q = 0; q < 16; ++q) _mm512_mask_storeu_ps(dst + (k + q) * MR, (__mmask16) 0x3FFF, r[q]);
        }
        if (mr == MR) {
            // then 8 k at a time: rows 0-7 and rows 8-13 (plus 2 zero rows) transposed into a 16-wide
            // staging block, then 8 stores of 14.
            alignas(64) float stage[8 * 16];
            float low[8 * 8] = {};
            for (; k + 8 <= kc; k += 8) {
                transpose8x8(rows[0] + k, lda, stage, 16);
                for (int64_t r = 8; r < MR; ++r) std::memcpy(low + (r - 8) * 8, rows[r] + k, 8 * sizeof(float));
                transpose8x8(low, 8, stage + 8, 16);
                for (int64_t q = 0; q < 8; ++q)
                    _mm512_mask_storeu_ps(dst + (k + q) * MR, (__mmask16) 0x3FFF, _mm512_load_ps(stage + q * 16));
            }
        }
        for (; k < kc; ++k)
            for (int64_t r = 0; r < MR; ++r) dst[k * MR + r] = r < mr ? rows[r][k] : 0.0f;
    }
}

// Packed B: dst[k * NR + c] = op(B)[k, c] per NR-column sliver, columns past nc zero.
void pack_b(bool tb, int64_t kc, int64_t nc, const float * B, int64_t ldb, float * Bp) {
    if (!tb) {
        const int64_t whole = nc / NR * NR;
        const int64_t rest = nc - whole;
        const __mmask16 m0 = (__mmask16) (rest >= 16 ? 0xFFFFu : (1u << rest) - 1u);
        const __mmask16 m1 = (__mmask16) (rest <= 16 ? 0u : (1u << (rest - 16)) - 1u);
        for (int64_t k = 0; k < kc; ++k) {
            const float * src = B + k * ldb;
            for (int64_t j0 = 0; j0 < whole; j0 += NR) {
                float * d = Bp + j0 * kc + k * NR;
                _mm512_storeu_ps(d, _mm512_loadu_ps(src + j0));
                _mm512_storeu_ps(d + 16, _mm512_loadu_ps(src + j0 + 16));
            }
            if (rest) {
                float * d = Bp + whole * kc + k * NR;
                _mm512_storeu_ps(d, _mm512_maskz_loadu_ps(m0, src + whole));
                _mm512_storeu_ps(d + 16, _mm512_maskz_loadu_ps(m1, src + whole + 16));
            }
        }
        return;
    }
    alignas(64) float buf[16 * KC];
    for (int64_t j0 = 0; j0 < nc; j0 += NR) {
        const int64_t nr = min64(NR, nc - j0);
        float * dst = Bp + j0 * kc;
        // op(B)[k, j0 + c] = B[(j0 + c) * ldb + k]: each half of the sliver (16 source rows, zero rows
        // past nr) copied to the buffer, then transposed 16 k at a time in registers.
        for (int64_t c0 = 0; c0 < NR; c0 += 16) {
            const int64_t n = min64(16, nr - c0);
            if (n <= 0) {
                for (int64_t k = 0; k < kc; ++k) _mm512_storeu_ps(dst + k * NR + c0, _mm512_setzero_ps());
                continue;
            }
            copy_rows(B + (j0 + c0) * ldb, ldb, n, kc, buf);
            int64_t k = 0;
            for (; k + 16 <= kc; k += 16) {
                __m512 r[16];
                for (int64_t i = 0; i < 16; ++i) r[i] = i < n ? _mm512_load_ps(buf + i * KC + k) : _mm512_setzero_ps();
                transpose16x16(r);
                for (int64_t q = 0; q < 16; ++q) _mm512_storeu_ps(dst + (k + q) * NR + c0, r[q]);
            }
            if (n == 16)
                for (; k + 8 <= kc; k += 8)
                    for (int64_t c = 0; c < 16; c += 8) transpose8x8(buf + c * KC + k, KC, dst + k * NR + c0 + c, NR);
            for (; k < kc; ++k)
                for (int64_t c = 0; c < 16; ++c) dst[k * NR + c0 + c] = c < n ? buf[c * KC + k] : 0.0f;
        }
    }
}

// The kernels' instruction macros, laid out by hand (clang-format does not settle on one layout for
// them).
// clang-format off
#define SA_ROW(i, r, bc, c0, c1)                                                        \
    "vbroadcastss " #i "*56+" #r "*4(%[a]), %%zmm" #bc "\n\t"                          \
    "vfmadd231ps %%zmm0, %%zmm" #bc ", %%zmm" #c0 "\n\t"                               \
    "vfmadd231ps %%zmm1, %%zmm" #bc ", %%zmm" #c1 "\n\t"
// One k of the first 8 rows (the short tile), and of all 14.
#define SA_K_STEP8(i)                                                                   \
    "vmovups " #i "*128(%[b]), %%zmm0\n\t"                                             \
    "vmovups " #i "*128+64(%[b]), %%zmm1\n\t"                                          \
    SA_ROW(i, 0, 2, 4, 5) SA_ROW(i, 1, 3, 6, 7) SA_ROW(i, 2, 2, 8, 9)                   \
    SA_ROW(i, 3, 3, 10, 11) SA_ROW(i, 4, 2, 12, 13) SA_ROW(i, 5, 3, 14, 15)             \
    SA_ROW(i, 6, 2, 16, 17) SA_ROW(i, 7, 3, 18, 19)
#define SA_K_STEP(i)                                                                    \
    SA_K_STEP8(i)                                                                       \
    SA_ROW(i, 8, 2, 20, 21) SA_ROW(i, 9, 3, 22, 23) SA_ROW(i, 10, 2, 24, 25)            \
    SA_ROW(i, 11, 3, 26, 27) SA_ROW(i, 12, 2, 28, 29) SA_ROW(i, 13, 3, 30, 31)
// The k loop over a sliver pair, unrolled by 4, then the k % 4 remaining steps.
#define SA_K_LOOP(STEP)                                                                 \
    "test %[k4], %[k4]\n\t"                                                            \
    "jz 2f\n\t"                                                                        \
    "1:\n\t" STEP(0) STEP(1) STEP(2) STEP(3)                                            \
    "add $224, %[a]\n\t"                                                               \
    "add $512, %[b]\n\t"                                                               \
    "dec %[k4]\n\t"                                                                    \
    "jnz 1b\n\t"                                                                       \
    "2:\n\t"                                                                           \
    "test %[kr], %[kr]\n\t"                                                            \
    "jz 4f\n\t"                                                                        \
    "3:\n\t" STEP(0)                                                                   \
    "add $56, %[a]\n\t"                                                                \
    "add $128, %[b]\n\t"                                                               \
    "dec %[kr]\n\t"                                                                    \
    "jnz 3b\n\t"                                                                       \
    "4:\n\t"
#define SA_ZERO(r) "vpxord %%zmm" #r ", %%zmm" #r ", %%zmm" #r "\n\t"
#define SA_STORE(r, off) "vmovaps %%zmm" #r ", " #off "(%[c])\n\t"
// Accumulators zmm4-19 (rows 0-7) and zmm20-31 (rows 8-13), zeroed and stored to acc.
#define SA_ZEROS8                                                                       \
    SA_ZERO(4) SA_ZERO(5) SA_ZERO(6) SA_ZERO(7) SA_ZERO(8) SA_ZERO(9) SA_ZERO(10)       \
    SA_ZERO(11) SA_ZERO(12) SA_ZERO(13) SA_ZERO(14) SA_ZERO(15) SA_ZERO(16) SA_ZERO(17) \
    SA_ZERO(18) SA_ZERO(19)
#define SA_ZEROS14                                                                      \
    SA_ZEROS8 SA_ZERO(20) SA_ZERO(21) SA_ZERO(22) SA_ZERO(23) SA_ZERO(24) SA_ZERO(25)   \
    SA_ZERO(26) SA_ZERO(27) SA_ZERO(28) SA_ZERO(29) SA_ZERO(30) SA_ZERO(31)
#define SA_STORES8                                                                      \
    SA_STORE(4, 0) SA_STORE(5, 64) SA_STORE(6, 128) SA_STORE(7, 192) SA_STORE(8, 256)   \
    SA_STORE(9, 320) SA_STORE(10, 384) SA_STORE(11, 448) SA_STORE(12, 512)              \
    SA_STORE(13, 576) SA_STORE(14, 640) SA_STORE(15, 704) SA_STORE(16, 768)             \
    SA_STORE(17, 832) SA_STORE(18, 896) SA_STORE(19, 960)
#define SA_STORES14                                                                     \
    SA_STORES8 SA_STORE(20, 1024) SA_STORE(21, 1088) SA_STORE(22, 1152)                 \
    SA_STORE(23, 1216) SA_STORE(24, 1280) SA_STORE(25, 1344) SA_STORE(26, 1408)         \
    SA_STORE(27, 1472) SA_STORE(28, 1536) SA_STORE(29, 1600) SA_STORE(30, 1664)         \
    SA_STORE(31, 1728)
// clang-format on

void kernel(int64_t kc, const float * Ap, const float * Bp, float * C, int64_t ldc, float alpha, float beta,
            const float * bias) {
    alignas(64) float acc[MR * NR];
    for (int64_t r = 0; r < MR; ++r) {
        _mm_prefetch((const char *) (C + r * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *) (C + r * ldc + NR - 1), _MM_HINT_T0);
    }
    int64_t k4 = kc / 4, kr = kc % 4;
    asm volatile(SA_ZEROS14 SA_K_LOOP(SA_K_STEP) SA_STORES14
                 : [a] "+r"(Ap), [b] "+r"(Bp), [k4] "+r"(k4), [kr] "+r"(kr)
                 : [c] "r"(acc)
                 : "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
                   "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20",
                   "xmm21", "xmm22", "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31");
    const __m512 va = _mm512_set1_ps(alpha);
    const __m512 b0 = bias ? _mm512_loadu_ps(bias) : _mm512_setzero_ps();
    const __m512 b1 = bias ? _mm512_loadu_ps(bias + 16) : _mm512_setzero_ps();
    if (beta == 0.0f) {
        for (int64_t r = 0; r < MR; ++r) {
            _mm512_storeu_ps(C + r * ldc, _mm512_fmadd_ps(va, _mm512_load_ps(acc + r * NR), b0));
            _mm512_storeu_ps(C + r * ldc + 16, _mm512_fmadd_ps(va, _mm512_load_ps(acc + r * NR + 16), b1));
        }
    } else {
        const __m512 vb = _mm512_set1_ps(beta);
        for (int64_t r = 0; r < MR; ++r) {
            float * c = C + r * ldc;
            __m512 c0 = _mm512_mul_ps(vb, _mm512_loadu_ps(c)), c1 = _mm512_mul_ps(vb, _mm512_loadu_ps(c + 16));
            if (bias) {
                c0 = _mm512_add_ps(c0, b0);
                c1 = _mm512_add_ps(c1, b1);
            }
            _mm512_storeu_ps(c, _mm512_fmadd_ps(va, _mm512_load_ps(acc + r * NR), c0));
            _mm512_storeu_ps(c + 16, _mm512_fmadd_ps(va, _mm512_load_ps(acc + r * NR + 16), c1));
        }
    }
}

// The first 8 rows of the tile (A still in 14-row slivers, rows 8 to 13 not read; 16 accumulators in
// zmm4-19): C[0:8, 0:32] = init + Ap Bp, init rows ld_init apart (0: one row repeated, null: zero).
// The products are summed from zero and init is added last, as the full kernel adds beta C + bias to
// alpha times its sums, so with alpha 1 and beta 0 (init: the bias row or null) or beta 1 without a
// bias (init: C) a row has the full kernel's bits. Edge tiles of at most 8 rows (a head dimension of 64
// = 4 x 14 + 8, products over 17 tokens = 14 + 3) skip the padding rows' multiply-adds.
void kernel_short(int64_t kc, const float * Ap, const float * Bp, float * C, int64_t ldc, const float * init,
                  int64_t ld_init) {
    constexpr int64_t R = 8;
    alignas(64) float acc[R * NR];
    int64_t k4 = kc / 4, kr = kc % 4;
    asm volatile(SA_ZEROS8 SA_K_LOOP(SA_K_STEP8) SA_STORES8
                 : [a] "+r"(Ap), [b] "+r"(Bp), [k4] "+r"(k4), [kr] "+r"(kr)
                 : [c] "r"(acc)
                 : "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
                   "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19");
    for (int64_t r = 0; r < R; ++r)
        for (int64_t h = 0; h < NR; h += 16) {
            const __m512 add = init ? _mm512_loadu_ps(init + r * ld_init + h) : _mm512_setzero_ps();
            _mm512_storeu_ps(C + r * ldc + h, _mm512_add_ps(_mm512_load_ps(acc + r * NR + h), add));
        }
}
#undef SA_ROW
#undef SA_K_STEP
#undef SA_K_STEP8
#undef SA_K_LOOP
#undef SA_ZERO
#undef SA_STORE
#undef SA_ZEROS8
#undef SA_ZEROS14
#undef SA_STORES8
#undef SA_STORES14

}  // namespace

const GemmKernel & gemm_kernel_avx512() {
    static const GemmKernel k{MR,     NR, KC, MC,      NC,      32.0, kernel,      pack_a,
                              pack_b, 1,  1,  nullptr, nullptr, 8,    kernel_short};
    return k;
}

}  // namespace sa::cpu
