// SPDX-License-Identifier: Apache-2.0
// The bf16 GEMM kernel of the training products at level amx (cpu/gemm-kernel.h; compiled with the
// AMX flags, called only at level amx). It plugs into sgemm's blocked driver like the fp32 kernels:
// the driver's packing calls round both operands to bf16 (round to nearest even, VCVTNE2PS2BF16) into
// the tile layouts below, and each 32 x 32 micro-tile of C is four fp32 accumulator tiles (tmm0-3)
// fed by two A tiles (tmm4-5) and two B tiles (tmm6-7) per 32 k; K panels are zero-padded to a
// multiple of 32. The order of the sums is fixed by the blocking alone, so results do not depend on
// the thread count.
// Packed layouts, in 32-bit words, each holding the bf16 pair of two consecutive k (low half first):
//   A sliver (32 rows):   [k-step of 32][row][16 pairs]  -> one 16 x 64-byte tile per 16 rows
//   B sliver (32 columns): [pair][32 columns]              -> two 16 x 64-byte tiles at stride 128
// Like every file under src/cpu/isa/, it defines nothing that another file could share.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "cpu/gemm-kernel.h"
#include "cpu/isa/amx-tiles.h"
#include "cpu/isa/bf16-pairs.h"

namespace sa::cpu {

namespace {

using bf16::first_lanes;
using bf16::row_pair_words;
using bf16::row_words;
using bf16::transpose_words;

constexpr int64_t MR = 32;
constexpr int64_t NR = 32;
constexpr int64_t KC = 256;   // A and B slivers 16 KiB each
constexpr int64_t MC = 192;   // packed A block 96 KiB in L2
constexpr int64_t NC = 3072;  // packed B panel 1.5 MiB

inline int64_t min64(int64_t a, int64_t b) {
    return a < b ? a : b;
}

// Packed A (see the top): op(A) rows [0, mc), k [0, kc); rows and k past them zero.
void pack_a(bool ta, int64_t mc, int64_t kc, const float * A, int64_t lda, float * Apf) {
    uint32_t * Ap = reinterpret_cast<uint32_t *>(Apf);
    const int64_t kb_n = (kc + 31) / 32, ks = kb_n * 16;
    for (int64_t i0 = 0; i0 < mc; i0 += MR) {
        uint32_t * s = Ap + i0 * ks;
        const int64_t rows = min64(MR, mc - i0);
        for (int64_t kb = 0; kb < kb_n; ++kb) {
            const int64_t k0 = kb * 32;
            if (!ta) {
                for (int64_t r = 0; r < MR; ++r) {
                    const __m512i w = r < rows ? row_words(A + (i0 + r) * lda + k0, kc - k0) : _mm512_setzero_si512();
                    _mm512_store_si512((void *) (s + (kb * 32 + r) * 16), w);
                }
                continue;
            }
            // op(A)[r, k] = A[k * lda + r]: one word vector per pair across 16 rows, then transposed.
            for (int64_t g = 0; g < MR; g += 16) {
                const __mmask16 m = first_lanes(rows - g);
                __m512i w[16];
                for (int64_t p = 0; p < 16; ++p) w[p] = row_pair_words(A + i0 + g, lda, k0 + 2 * p, kc, m);
                transpose_words(w);
                for (int64_t r = 0; r < 16; ++r) _mm512_store_si512((void *) (s + (kb * 32 + g + r) * 16), w[r]);
            }
        }
    }
}

// Packed B (see the top): op(B) k [0, kc), columns [0, nc); columns and k past them zero.
void pack_b(bool tb, int64_t kc, int64_t nc, const float * B, int64_t ldb, float * Bpf) {
    uint32_t * Bp = reinterpret_cast<uint32_t *>(Bpf);
    const int64_t kb_n = (kc + 31) / 32, ks = kb_n * 16;
    for (int64_t j0 = 0; j0 < nc; j0 += NR) {
        uint32_t * s = Bp + j0 * ks;
        const int64_t cols = min64(NR, nc - j0);
        if (!tb) {
            // op(B)[k, c] = B[k * ldb + c]: rows 2p and 2p + 1 interleaved.
            for (int64_t p = 0; p < ks; ++p)
                for (int64_t g = 0; g < NR; g += 16)
                    _mm512_store_si512((void *) (s + p * NR + g),
                                       row_pair_words(B + j0 + g, ldb, 2 * p, kc, first_lanes(cols - g)));
            continue;
        }
        // op(B)[k, c] = B[c * ldb + k]: one word vector per column (16 pairs), then transposed.
        for (int64_t kb = 0; kb < kb_n; ++kb) {
            const int64_t k0 = kb * 32;
            for (int64_t g = 0; g < NR; g += 16) {
                __m512i w[16];
                for (int64_t c = 0; c < 16; ++c)
                    w[c] = g + c < cols ? row_words(B + (j0 + g + c) * ldb + k0, kc - k0) : _mm512_setzero_si512();
                transpose_words(w);
                for (int64_t p = 0; p < 16; ++p) _mm512_store_si512((void *) (s + (kb * 16 + p) * NR + g), w[p]);
            }
        }
    }
}

// C[0:32, 0:32] = alpha * Ap Bp + beta * C + bias (beta == 0: C not read; bias: 32 values or null).
void kernel(int64_t kc, const float * Apf, const float * Bpf, float * C, int64_t ldc, float alpha, float beta,
            const float * bias) {
    const uint32_t * a = reinterpret_cast<const uint32_t *>(Apf);
    const uint32_t * b = reinterpret_cast<const uint32_t *>(Bpf);
    const int64_t kb_n = (kc + 31) / 32;
    // alpha 1 without a bias (every product of the training graph): the tiles start at zero or at C and
    // are stored to C directly.
    const bool direct = alpha == 1.0f && !bias && (beta == 0.0f || beta == 1.0f);
    if (direct && beta == 1.0f) {
        amx::load_block(C, ldc);
    } else {
        amx::zero_block();
    }
    for (int64_t kb = 0; kb < kb_n; ++kb) amx::dot_block(a + kb * 32 * 16, b + kb * 16 * NR, NR);
    if (direct) {
        amx::store_block(C, ldc);
        return;
    }
    alignas(64) float acc[MR * NR];
    amx::store_block(acc, NR);
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    for (int64_t r = 0; r < MR; ++r) {
        float * c = C + r * ldc;
        for (int64_t h = 0; h < NR; h += 16) {
            __m512 add = bias ? _mm512_loadu_ps(bias + h) : _mm512_setzero_ps();
            if (beta != 0.0f)
                add =
                    bias ? _mm512_fmadd_ps(vb, _mm512_loadu_ps(c + h), add) : _mm512_mul_ps(vb, _mm512_loadu_ps(c + h));
            _mm512_storeu_ps(c + h, _mm512_fmadd_ps(va, _mm512_load_ps(acc + r * NR + h), add));
        }
    }
}

void begin() {
    amx::configure_tiles();
}

void end() {
    _tile_release();
}

}  // namespace

const GemmKernel & gemm_kernel_train_amx() {
    static const GemmKernel k{MR, NR, KC, MC, NC, 256.0, kernel, pack_a, pack_b, 32, 2, begin, end};
    return k;
}

}  // namespace sa::cpu
