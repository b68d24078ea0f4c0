// SPDX-License-Identifier: Apache-2.0
// BF16 products with VDPBF16PS (compiled with AVX-512-BF16 flags; called only at level avx512bf16 or
// above). The 14 x 32 VDPBF16PS register tile of isa/vdpbf16-tile.h (the fp32 AVX-512 kernel's tile,
// one step per bf16 pair of k, fp32 accumulation). Layouts: cpu/gemm-bf16.h;
// packed A here: per 14-row sliver, (Kp / 2) x 14 dwords. Like every file under src/cpu/isa/, it
// defines nothing that another file could share (no inline project helpers, no library templates).
#include <immintrin.h>

#include <cstdint>

#include "cpu/gemm-bf16.h"
#include "cpu/isa/bf16-pairs.h"
#include "cpu/isa/vdpbf16-tile.h"

namespace sa::cpu {

namespace {

constexpr int64_t MR = 14;
constexpr int64_t NR = 32;

inline int64_t min64(int64_t a, int64_t b) {
    return a < b ? a : b;
}

}  // namespace

void gemm_bf16_avx512bf16(int64_t M, int64_t N, int64_t K, const float * A, int64_t lda, const uint32_t * Bp,
                          float beta, float * C, int64_t ldc, const float * bias, uint32_t * scratch) {
    const int64_t Kp = bf16_padded_k(K), P = Kp / 2;
    const int64_t Np = (N + NR - 1) / NR * NR;
    // Packed A: sliver s holds rows 14s.. as [Kp / 2][14] pairs, rows past M and k past K zero. 16
    // pairs of the 14 rows at a time: each row's 32 k rounded into one register of pair words, the
    // 16 x 16 words transposed, and each pair's 14 words stored at once (Kp / 2 is a multiple of 16).
    for (int64_t i0 = 0; i0 < M; i0 += MR) {
        uint32_t * dst = scratch + i0 * P;
        const int64_t rows = min64(MR, M - i0);
        for (int64_t q = 0; q < P; q += 16) {
            __m512i w[16];
            for (int64_t r = 0; r < 16; ++r)
                w[r] = r < rows ? bf16::row_words(A + (i0 + r) * lda + 2 * q, K - 2 * q) : _mm512_setzero_si512();
            bf16::transpose_words(w);
            for (int64_t p = 0; p < 16; ++p) _mm512_mask_storeu_epi32(dst + (q + p) * MR, (__mmask16) 0x3FFF, w[p]);
        }
    }
    // Every tile starts from what C holds so far (from the first panel on: zero, the bias row, or beta C +
    // bias written into C first) and adds its pairs in k order; an edge tile runs the same on a copy of
    // its part of C, so the bits do not depend on where a tile falls.
    // Column slivers outside the K panels, so a sliver's column of C tiles (M x 32) stays in L1 from one
    // panel to the next while the panel's B sliver serves every row tile.
    alignas(64) float edge[MR * NR];
    for (int64_t j0 = 0; j0 < N; j0 += NR) {
        const int64_t nr = min64(NR, N - j0);
        const float * brow = bias ? bias + j0 : nullptr;
        for (int64_t pc = 0; pc < Kp; pc += kBf16Kc) {
            const int64_t pairs = min64(kBf16Kc, Kp - pc) / 2;
            const uint32_t * bs = Bp + pc / 2 * Np + j0 * pairs;
            const bool first = pc == 0;
            for (int64_t i0 = 0; i0 < M; i0 += MR) {
                const int64_t mr = min64(MR, M - i0);
                const uint32_t * as = scratch + i0 * P + pc / 2 * MR;
                float * c = C + i0 * ldc + j0;
                if (first && beta != 0.0f)  // C = beta C + bias, then the products on top
                    for (int64_t r = 0; r < mr; ++r)
                        for (int64_t j = 0; j < nr; ++j)
                            c[r * ldc + j] = beta * c[r * ldc + j] + (brow ? brow[j] : 0.0f);
                const bool from_c = !first || beta != 0.0f;  // else from the bias row or zero
                if (mr == MR && nr == NR) {
                    vdpbf16::tile_14x32(pairs, as, bs, c, ldc, from_c ? c : brow, from_c ? ldc : 0);
                    continue;
                }
                for (int64_t r = 0; r < MR; ++r)
                    for (int64_t j = 0; j < NR; ++j)
                        edge[r * NR + j] = r < mr && j < nr ? (from_c ? c[r * ldc + j] : brow ? brow[j] : 0.0f) : 0.0f;
                vdpbf16::tile_14x32(pairs, as, bs, edge, NR, edge, NR);
                for (int64_t r = 0; r < mr; ++r)
                    for (int64_t j = 0; j < nr; ++j) c[r * ldc + j] = edge[r * NR + j];
            }
        }
    }
}

}  // namespace sa::cpu
