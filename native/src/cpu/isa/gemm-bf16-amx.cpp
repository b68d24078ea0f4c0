// SPDX-License-Identifier: Apache-2.0
// BF16 products on AMX tiles (compiled with AMX-TILE/AMX-BF16 flags; called only at level amx, after
// sa::cpu_isa() obtained the tile-data permission from the OS). Per 32 x 32 block of C, four fp32
// accumulator tiles (tmm0-3) stay live over all of K; each step of 32 k loads two A tiles (16 rows x
// 32 bf16, tmm4-5) and two B tiles (16 k-pairs x 16 columns, tmm6-7) and issues four TDPBF16PS.
// Whole 32 x 32 blocks of C start in the accumulators (zero, the bias row broadcast by a stride-0 tile
// load, or C itself for beta 1) and are stored back directly; edge blocks and other betas go through
// a local block.
// Layouts: cpu/gemm-bf16.h; packed A here: per 32-row block, (Kp / 32) tiles of [32 rows][32 bf16].
// Like every file under src/cpu/isa/, it defines nothing that another file could share.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "cpu/gemm-bf16.h"
#include "cpu/isa/amx-tiles.h"

namespace sa::cpu {

namespace {

constexpr int64_t MB = 32;  // rows of a C block (two tiles)
constexpr int64_t NB = 32;  // columns of a C block (two tiles) = kBf16Nr

inline int64_t min64(int64_t a, int64_t b) {
    return a < b ? a : b;
}

}  // namespace

void gemm_bf16_amx(int64_t M, int64_t N, int64_t K, const float * A, int64_t lda, const uint32_t * Bp, float beta,
                   float * C, int64_t ldc, const float * bias, uint32_t * scratch) {
    const int64_t Kp = bf16_padded_k(K), KB = Kp / 32;
    const int64_t Np = (N + NB - 1) / NB * NB;
    // Packed A: block ib, k-step kb, row r at ((ib * KB + kb) * 32 + r) * 16 dwords (32 bf16).
    for (int64_t i0 = 0; i0 < M; i0 += MB) {
        uint32_t * blk = scratch + i0 / MB * KB * 32 * 16;
        for (int64_t r = 0; r < MB; ++r) {
            const float * a = A + (i0 + r) * lda;
            for (int64_t kb = 0; kb < KB; ++kb) {
                uint32_t * d = blk + (kb * 32 + r) * 16;
                const int64_t n = i0 + r < M ? K - kb * 32 : 0;
                const __mmask16 m0 = (__mmask16) (n >= 16 ? 0xFFFFu : n <= 0 ? 0u : (1u << n) - 1u);
                const __mmask16 m1 = (__mmask16) (n >= 32 ? 0xFFFFu : n <= 16 ? 0u : (1u << (n - 16)) - 1u);
                const __m512 lo = _mm512_maskz_loadu_ps(m0, a + kb * 32);
                const __m512 hi = _mm512_maskz_loadu_ps(m1, a + kb * 32 + 16);
                _mm512_store_si512((void *) d, (__m512i) _mm512_cvtne2ps_pbh(hi, lo));
            }
        }
    }
    amx::configure_tiles();
    alignas(64) float acc[MB * NB];
    for (int64_t j0 = 0; j0 < N; j0 += NB) {
        const int64_t nr = min64(NB, N - j0);
        for (int64_t i0 = 0; i0 < M; i0 += MB) {
            const int64_t mr = min64(MB, M - i0);
            const uint32_t * blk = scratch + i0 / MB * KB * 32 * 16;
            // Whole blocks with beta 0 (the accumulators start at the bias rows, or zero) or with beta 1
            // and no bias accumulate in C itself; the others go through acc.
            const bool direct = mr == MB && nr == NB && (beta == 0.0f || (beta == 1.0f && !bias));
            float * c0 = C + i0 * ldc + j0;
            if (direct && beta == 0.0f && bias) {
                _tile_loadd(0, bias + j0, 0);  // stride 0: the bias row in all 16 rows
                _tile_loadd(1, bias + j0 + 16, 0);
                _tile_loadd(2, bias + j0, 0);
                _tile_loadd(3, bias + j0 + 16, 0);
            } else if (direct && beta == 1.0f) {
                amx::load_block(c0, ldc);
            } else {
                amx::zero_block();
            }
            for (int64_t pc = 0; pc < Kp; pc += kBf16Kc) {
                const int64_t pairs = min64(kBf16Kc, Kp - pc) / 2;
                const uint32_t * bs = Bp + pc / 2 * Np + j0 * pairs;
                for (int64_t q = 0; q < pairs; q += 16) {
                    const uint32_t * a = blk + ((pc + 2 * q) / 32) * 32 * 16;
                    amx::dot_block(a, bs + q * NB, NB);
                }
            }
            if (direct) {
                amx::store_block(c0, ldc);
                continue;
            }
            amx::store_block(acc, NB);
            for (int64_t r = 0; r < mr; ++r) {
                float * c = C + (i0 + r) * ldc + j0;
                const float * t = acc + r * NB;
                if (beta == 0.0f) {
                    for (int64_t j = 0; j < nr; ++j) c[j] = t[j];
                } else {
                    for (int64_t j = 0; j < nr; ++j) c[j] = t[j] + beta * c[j];
                }
                if (bias)
                    for (int64_t j = 0; j < nr; ++j) c[j] += bias[j0 + j];
            }
        }
    }
    _tile_release();
}

}  // namespace sa::cpu
