// SPDX-License-Identifier: Apache-2.0
// BF16 products with VDPBF16PS (compiled with AVX-512-BF16 flags; called only at level avx512bf16 or
// above). Same 14 x 32 register tile as the fp32 AVX-512 kernel, one step per bf16 pair of k: two
// B loads, 14 dword broadcasts of A pairs, 28 VDPBF16PS (fp32 accumulation). Layouts: cpu/gemm-bf16.h;
// packed A here: per 14-row sliver, (Kp / 2) x 14 dwords. Like every file under src/cpu/isa/, it
// defines nothing that another file could share (no inline project helpers, no library templates).
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "cpu/gemm-bf16.h"

namespace sa::cpu {

namespace {

constexpr int64_t MR = 14;
constexpr int64_t NR = 32;

inline int64_t min64(int64_t a, int64_t b) {
    return a < b ? a : b;
}

// Row a[0, k) as bf16 pairs in out[0, Kp / 2) (zero past k).
void row_pairs(const float * a, int64_t k, int64_t kp, uint32_t * out) {
    for (int64_t i = 0; i < kp; i += 32) {
        const int64_t n = k - i;
        const __mmask16 m0 = (__mmask16) (n >= 16 ? 0xFFFFu : n <= 0 ? 0u : (1u << n) - 1u);
        const __mmask16 m1 = (__mmask16) (n >= 32 ? 0xFFFFu : n <= 16 ? 0u : (1u << (n - 16)) - 1u);
        const __m512 lo = _mm512_maskz_loadu_ps(m0, a + i), hi = _mm512_maskz_loadu_ps(m1, a + i + 16);
        _mm512_storeu_si512((void *) (out + i / 2), (__m512i) _mm512_cvtne2ps_pbh(hi, lo));
    }
}

#define SA_ROW(i, r, bc, c0, c1)                       \
    "vbroadcastss " #i "*56+" #r "*4(%[a]), %%zmm" #bc \
    "\n\t"                                             \
    "vdpbf16ps %%zmm0, %%zmm" #bc ", %%zmm" #c0        \
    "\n\t"                                             \
    "vdpbf16ps %%zmm1, %%zmm" #bc ", %%zmm" #c1 "\n\t"
#define SA_K_STEP(i)                                                                                            \
    "vmovups " #i                                                                                               \
    "*128(%[b]), %%zmm0\n\t"                                                                                    \
    "vmovups " #i "*128+64(%[b]), %%zmm1\n\t" SA_ROW(i, 0, 2, 4, 5) SA_ROW(i, 1, 3, 6, 7) SA_ROW(i, 2, 2, 8, 9) \
        SA_ROW(i, 3, 3, 10, 11) SA_ROW(i, 4, 2, 12, 13) SA_ROW(i, 5, 3, 14, 15) SA_ROW(i, 6, 2, 16, 17)         \
            SA_ROW(i, 7, 3, 18, 19) SA_ROW(i, 8, 2, 20, 21) SA_ROW(i, 9, 3, 22, 23) SA_ROW(i, 10, 2, 24, 25)    \
                SA_ROW(i, 11, 3, 26, 27) SA_ROW(i, 12, 2, 28, 29) SA_ROW(i, 13, 3, 30, 31)
#define SA_ZERO(r) "vpxord %%zmm" #r ", %%zmm" #r ", %%zmm" #r "\n\t"
#define SA_STORE(r, off) "vmovaps %%zmm" #r ", " #off "(%[c])\n\t"

// acc[14 x 32] = Ap Bp over `pairs` k-pairs (a multiple of 4).
void kernel(int64_t pairs, const uint32_t * Ap, const uint32_t * Bp, float * acc) {
    int64_t k4 = pairs / 4;
    asm volatile(
        SA_ZERO(4) SA_ZERO(5) SA_ZERO(6) SA_ZERO(7) SA_ZERO(8) SA_ZERO(9) SA_ZERO(10) SA_ZERO(11) SA_ZERO(12)
        SA_ZERO(13) SA_ZERO(14) SA_ZERO(15) SA_ZERO(16) SA_ZERO(17) SA_ZERO(18) SA_ZERO(19) SA_ZERO(20)
        SA_ZERO(21) SA_ZERO(22) SA_ZERO(23) SA_ZERO(24) SA_ZERO(25) SA_ZERO(26) SA_ZERO(27) SA_ZERO(28)
        SA_ZERO(29) SA_ZERO(30) SA_ZERO(31)
        "test %[k4], %[k4]\n\t"
        "jz 2f\n\t"
        "1:\n\t"
        SA_K_STEP(0) SA_K_STEP(1) SA_K_STEP(2) SA_K_STEP(3)
        "add $224, %[a]\n\t"
        "add $512, %[b]\n\t"
        "dec %[k4]\n\t"
        "jnz 1b\n\t"
        "2:\n\t"
        SA_STORE(4, 0) SA_STORE(5, 64) SA_STORE(6, 128) SA_STORE(7, 192) SA_STORE(8, 256) SA_STORE(9, 320)
        SA_STORE(10, 384) SA_STORE(11, 448) SA_STORE(12, 512) SA_STORE(13, 576) SA_STORE(14, 640)
        SA_STORE(15, 704) SA_STORE(16, 768) SA_STORE(17, 832) SA_STORE(18, 896) SA_STORE(19, 960)
        SA_STORE(20, 1024) SA_STORE(21, 1088) SA_STORE(22, 1152) SA_STORE(23, 1216) SA_STORE(24, 1280)
        SA_STORE(25, 1344) SA_STORE(26, 1408) SA_STORE(27, 1472) SA_STORE(28, 1536) SA_STORE(29, 1600)
        SA_STORE(30, 1664) SA_STORE(31, 1728)
        : [a] "+r"(Ap), [b] "+r"(Bp), [k4] "+r"(k4)
        : [c] "r"(acc)
        : "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
          "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21",
          "xmm22", "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31");
}
#undef SA_ROW
#undef SA_K_STEP
#undef SA_ZERO
#undef SA_STORE

}  // namespace

void gemm_bf16_avx512bf16(int64_t M, int64_t N, int64_t K, const float * A, int64_t lda, const uint32_t * Bp,
                          float beta, float * C, int64_t ldc, const float * bias, uint32_t * scratch) {
    const int64_t Kp = bf16_padded_k(K), P = Kp / 2;
    const int64_t Np = (N + NR - 1) / NR * NR;
    // Packed A: sliver s holds rows 14s.. as [Kp / 2][14] pairs, rows past M zero.
    alignas(64) uint32_t row[kBf16Kc / 2];
    for (int64_t i0 = 0; i0 < M; i0 += MR) {
        uint32_t * dst = scratch + i0 * P;
        for (int64_t r = 0; r < MR; ++r) {
            for (int64_t pc = 0; pc < Kp; pc += kBf16Kc) {
                const int64_t kp = min64(kBf16Kc, Kp - pc);
                if (i0 + r < M) {
                    row_pairs(A + (i0 + r) * lda + pc, min64(kBf16Kc, K - pc), kp, row);
                } else {
                    std::memset(row, 0, sizeof row);
                }
                for (int64_t p = 0; p < kp / 2; ++p) dst[(pc / 2 + p) * MR + r] = row[p];
            }
        }
    }
    alignas(64) float acc[MR * NR];
    for (int64_t pc = 0; pc < Kp; pc += kBf16Kc) {
        const int64_t pairs = min64(kBf16Kc, Kp - pc) / 2;
        const uint32_t * panel = Bp + pc / 2 * Np;
        const bool first = pc == 0;
        for (int64_t j0 = 0; j0 < N; j0 += NR) {
            const int64_t nr = min64(NR, N - j0);
            const uint32_t * bs = panel + j0 * pairs;
            for (int64_t i0 = 0; i0 < M; i0 += MR) {
                const int64_t mr = min64(MR, M - i0);
                kernel(pairs, scratch + i0 * P + pc / 2 * MR, bs, acc);
                for (int64_t r = 0; r < mr; ++r) {
                    float * c = C + (i0 + r) * ldc + j0;
                    const float * t = acc + r * NR;
                    if (first && beta == 0.0f) {
                        if (bias) {
                            for (int64_t j = 0; j < nr; ++j) c[j] = t[j] + bias[j0 + j];
                        } else {
                            for (int64_t j = 0; j < nr; ++j) c[j] = t[j];
                        }
                    } else {
                        const float b = first ? beta : 1.0f;
                        for (int64_t j = 0; j < nr; ++j) c[j] = t[j] + b * c[j];
                        if (first && bias)
                            for (int64_t j = 0; j < nr; ++j) c[j] += bias[j0 + j];
                    }
                }
            }
        }
    }
}

}  // namespace sa::cpu
