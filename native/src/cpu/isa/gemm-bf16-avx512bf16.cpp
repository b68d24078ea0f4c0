// SPDX-License-Identifier: Apache-2.0
// BF16 products with VDPBF16PS (compiled with AVX-512-BF16 flags; called only at level avx512bf16 or
// above). The 14 x 32 VDPBF16PS register tile of isa/vdpbf16-tile.h (the fp32 AVX-512 kernel's tile,
// one step per bf16 pair of k, fp32 accumulation). Layouts: cpu/gemm-bf16.h;
// packed A here: per 14-row sliver, (Kp / 2) x 14 dwords. Like every file under src/cpu/isa/, it
// defines nothing that another file could share (no inline project helpers, no library templates).
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "cpu/gemm-bf16.h"
#include "cpu/isa/vdpbf16-tile.h"

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
