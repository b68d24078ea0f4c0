// SPDX-License-Identifier: Apache-2.0
// The 14 x 32 VDPBF16PS register tile shared by the bf16 GEMMs of level avx512bf16 (the encoder's
// prepared products, isa/gemm-bf16-avx512bf16.cpp, and the training products,
// isa/gemm-train-avx512bf16.cpp; included only by files of that level and above, internal linkage).
// The fp32 AVX-512 kernel's tile: 28 ZMM accumulators, per pair of k two B loads, 14 dword broadcasts
// of A pairs and 28 VDPBF16PS (fp32 accumulation), unrolled by 4 pairs; inline assembly, so the
// register allocation does not depend on the compiler. The tile starts from zero or from given rows
// (the output itself when a product goes on over another K panel, a bias row) and is stored with any
// row stride, so no pass over a separate accumulator buffer is needed.
#pragma once

#include <cstdint>

namespace sa::cpu::vdpbf16 {
namespace {

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
#define SA_K_STEP8(i)                                                                                           \
    "vmovups " #i                                                                                               \
    "*128(%[b]), %%zmm0\n\t"                                                                                    \
    "vmovups " #i "*128+64(%[b]), %%zmm1\n\t" SA_ROW(i, 0, 2, 4, 5) SA_ROW(i, 1, 3, 6, 7) SA_ROW(i, 2, 2, 8, 9) \
        SA_ROW(i, 3, 3, 10, 11) SA_ROW(i, 4, 2, 12, 13) SA_ROW(i, 5, 3, 14, 15) SA_ROW(i, 6, 2, 16, 17)         \
            SA_ROW(i, 7, 3, 18, 19)
#define SA_ZERO(r) "vpxord %%zmm" #r ", %%zmm" #r ", %%zmm" #r "\n\t"
#define SA_LOAD(r0, r1) "vmovups (%[i]), %%zmm" #r0 "\n\tvmovups 64(%[i]), %%zmm" #r1 "\n\tadd %[li], %[i]\n\t"
#define SA_STORE(r0, r1) "vmovups %%zmm" #r0 ", (%[c])\n\tvmovups %%zmm" #r1 ", 64(%[c])\n\tadd %[lc], %[c]\n\t"
// clang-format off
#define SA_LOOP                                                                         \
    "test %[k4], %[k4]\n\t"                                                            \
    "jz 2f\n\t"                                                                        \
    "1:\n\t" SA_K_STEP(0) SA_K_STEP(1) SA_K_STEP(2) SA_K_STEP(3)                         \
    "add $224, %[a]\n\t"                                                               \
    "add $512, %[b]\n\t"                                                               \
    "dec %[k4]\n\t"                                                                    \
    "jnz 1b\n\t"                                                                       \
    "2:\n\t"
#define SA_STORES                                                                       \
    SA_STORE(4, 5) SA_STORE(6, 7) SA_STORE(8, 9) SA_STORE(10, 11) SA_STORE(12, 13)      \
    SA_STORE(14, 15) SA_STORE(16, 17) SA_STORE(18, 19) SA_STORE(20, 21) SA_STORE(22, 23) \
    SA_STORE(24, 25) SA_STORE(26, 27) SA_STORE(28, 29) SA_STORE(30, 31)
// clang-format on
// clang-format off
#define SA_LOOP8                                                                        \
    "test %[k4], %[k4]\n\t"                                                            \
    "jz 2f\n\t"                                                                        \
    "1:\n\t" SA_K_STEP8(0) SA_K_STEP8(1) SA_K_STEP8(2) SA_K_STEP8(3)                     \
    "add $224, %[a]\n\t"                                                               \
    "add $512, %[b]\n\t"                                                               \
    "dec %[k4]\n\t"                                                                    \
    "jnz 1b\n\t"                                                                       \
    "2:\n\t"
#define SA_STORES8 SA_STORE(4, 5) SA_STORE(6, 7) SA_STORE(8, 9) SA_STORE(10, 11) SA_STORE(12, 13) \
    SA_STORE(14, 15) SA_STORE(16, 17) SA_STORE(18, 19)
// clang-format on
#define SA_CLOBBERS                                                                                                   \
    "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", \
        "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23",   \
        "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31"

// The body of a tile function (the arguments below): the accumulators loaded from init (or zeroed),
// the k loop, the stores.
#define SA_TILE_BODY(LOADS, ZEROS, LOOP, STORES)                                              \
    int64_t k4 = pairs / 4;                                                                   \
    const int64_t lc = ldc * 4;                                                               \
    if (init) {                                                                               \
        const int64_t li = ld_init * 4;                                                       \
        asm volatile(LOADS LOOP STORES                                                        \
                     : [a] "+r"(Ap), [b] "+r"(Bp), [k4] "+r"(k4), [c] "+r"(c), [i] "+r"(init) \
                     : [lc] "r"(lc), [li] "r"(li)                                             \
                     : SA_CLOBBERS);                                                          \
        return;                                                                               \
    }                                                                                         \
    asm volatile(ZEROS LOOP STORES                                                            \
                 : [a] "+r"(Ap), [b] "+r"(Bp), [k4] "+r"(k4), [c] "+r"(c)                     \
                 : [lc] "r"(lc)                                                               \
                 : SA_CLOBBERS);
// clang-format off
#define SA_LOADS8 SA_LOAD(4, 5) SA_LOAD(6, 7) SA_LOAD(8, 9) SA_LOAD(10, 11) SA_LOAD(12, 13) SA_LOAD(14, 15) \
    SA_LOAD(16, 17) SA_LOAD(18, 19)
#define SA_LOADS14 SA_LOADS8 SA_LOAD(20, 21) SA_LOAD(22, 23) SA_LOAD(24, 25) SA_LOAD(26, 27) SA_LOAD(28, 29) \
    SA_LOAD(30, 31)
#define SA_ZEROS8 SA_ZERO(4) SA_ZERO(5) SA_ZERO(6) SA_ZERO(7) SA_ZERO(8) SA_ZERO(9) SA_ZERO(10) SA_ZERO(11) \
    SA_ZERO(12) SA_ZERO(13) SA_ZERO(14) SA_ZERO(15) SA_ZERO(16) SA_ZERO(17) SA_ZERO(18) SA_ZERO(19)
#define SA_ZEROS14 SA_ZEROS8 SA_ZERO(20) SA_ZERO(21) SA_ZERO(22) SA_ZERO(23) SA_ZERO(24) SA_ZERO(25) \
    SA_ZERO(26) SA_ZERO(27) SA_ZERO(28) SA_ZERO(29) SA_ZERO(30) SA_ZERO(31)
// clang-format on

// c[r][0, 32) = init[r] + (Ap Bp)[r] for the 14 rows r over `pairs` k-pairs (a multiple of 4): A as
// [pair][14] words, B as [pair][32] words (one 128-byte row per pair); c and init rows are ldc and
// ld_init floats apart, init == null starts from zero (ld_init 0 repeats one row, e.g. a bias). The
// accumulators start from init and add the pairs in k order, so a product continued over K panels
// (init = c) has the bits of one long panel.
inline void tile_14x32(int64_t pairs, const uint32_t * Ap, const uint32_t * Bp, float * c, int64_t ldc,
                       const float * init = nullptr, int64_t ld_init = 0) {
    SA_TILE_BODY(SA_LOADS14, SA_ZEROS14, SA_LOOP, SA_STORES)
}

// The first 8 rows of the same tile (A still in 14-row slivers, rows 8 to 13 not read): a product whose
// last sliver holds at most 8 rows (a head dimension of 64 = 4 x 14 + 8) skips the 6 padding rows' work.
// Same arithmetic per row as tile_14x32.
inline void tile_8x32(int64_t pairs, const uint32_t * Ap, const uint32_t * Bp, float * c, int64_t ldc,
                      const float * init = nullptr, int64_t ld_init = 0) {
    SA_TILE_BODY(SA_LOADS8, SA_ZEROS8, SA_LOOP8, SA_STORES8)
}
#undef SA_ROW
#undef SA_K_STEP
#undef SA_K_STEP8
#undef SA_LOOP8
#undef SA_STORES8
#undef SA_ZERO
#undef SA_LOAD
#undef SA_STORE
#undef SA_LOOP
#undef SA_STORES
#undef SA_CLOBBERS
#undef SA_TILE_BODY
#undef SA_LOADS8
#undef SA_LOADS14
#undef SA_ZEROS8
#undef SA_ZEROS14

}  // namespace
}  // namespace sa::cpu::vdpbf16
