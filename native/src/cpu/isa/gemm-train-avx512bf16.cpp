// SPDX-License-Identifier: Apache-2.0
// The bf16 GEMM kernel of the training products at level avx512bf16 (cpu/gemm-kernel.h; compiled with
// the AVX-512-BF16 flags, called only at that level: level amx has isa/gemm-train-amx.cpp). It plugs
// into sgemm's blocked driver like the fp32 kernels: the driver's packing calls round both operands to
// bf16 (round to nearest even, VCVTNE2PS2BF16) into the layouts below, and the 14 x 32 micro-tile keeps
// 28 fp32 accumulators in ZMM registers, one VDPBF16PS per row and 16 columns per pair of k (the
// register tile of the fp32 AVX-512 kernel). K panels are zero-padded to a multiple of 8. The order
// of the sums is fixed by the blocking alone, so results do not depend on the thread count.
// Packed layouts, in 32-bit words, each holding the bf16 pair of two consecutive k (low half first):
//   A sliver (14 rows):    [pair][14 rows]
//   B sliver (32 columns): [pair][32 columns]
// Like every file under src/cpu/isa/, it defines nothing that another file could share.
#include <immintrin.h>

#include <cstdint>

#include "cpu/gemm-kernel.h"
#include "cpu/isa/bf16-pairs.h"
#include "cpu/isa/vdpbf16-tile.h"

namespace sa::cpu {

namespace {

using bf16::first_lanes;
using bf16::row_pair_words;
using bf16::row_words;
using bf16::transpose_words;

constexpr int64_t MR = 14;
constexpr int64_t NR = 32;
constexpr int64_t KC = 256;    // A sliver 7 KiB and B sliver 16 KiB in L1
constexpr int64_t MC = 168;    // packed A block (12 slivers, 84 KiB) in L2
constexpr int64_t NC = 3072;   // packed B panel 1.5 MiB
constexpr int64_t KALIGN = 8;  // pairs per sliver a multiple of 4 (the kernel's unrolling)

inline int64_t min64(int64_t a, int64_t b) {
    return a < b ? a : b;
}

inline int64_t padded(int64_t kc) {
    return (kc + KALIGN - 1) / KALIGN * KALIGN;
}

// The packing routines read their operand in long runs along its rows (whole K panel rows, or
// several slivers' columns at once): a first touch of the operand, usually from L3 or memory, then
// streams instead of hopping between rows 128 bytes at a time. Operands stored across the sliver
// (op(A) row-major, op(B) = B^T) go through a row buffer in L1, rounded to pair words, and leave it
// through 16 x 16 word transposes.
constexpr int64_t kMaxPairs = KC / 2;
// Slivers that share one pass over a k-major operand's rows (256 columns of B, 112 rows of A).
constexpr int64_t kGroupB = 8, kGroupA = 8;

// rows[r][0, P) = the pair words of x + r * ld over k [0, kc) (zero past kc), for r < n; zero rows up to
// 16.
inline void rows_to_words(const float * x, int64_t ld, int64_t n, int64_t kc, int64_t P, uint32_t (*rows)[kMaxPairs]) {
    for (int64_t r = 0; r < 16; ++r)
        for (int64_t p0 = 0; p0 < P; p0 += 16)
            _mm512_store_si512((void *) (rows[r] + p0),
                               r < n ? row_words(x + r * ld + 2 * p0, kc - 2 * p0) : _mm512_setzero_si512());
}

// Packed A (see the top): op(A) rows [0, mc), k [0, kc); rows and k past them zero.
void pack_a(bool ta, int64_t mc, int64_t kc, const float * A, int64_t lda, float * Apf) {
    uint32_t * Ap = reinterpret_cast<uint32_t *>(Apf);
    const int64_t P = padded(kc) / 2;
    constexpr __mmask16 kRows = (__mmask16) ((1u << MR) - 1u);
    if (ta) {
        // op(A)[r, k] = A[k * lda + r]: rows k and k + 1 interleaved across a sliver's rows, for a group of
        // slivers per pass over the rows of A.
        for (int64_t g0 = 0; g0 < mc; g0 += kGroupA * MR) {
            const int64_t g1 = min64(mc, g0 + kGroupA * MR);
            for (int64_t p = 0; p < P; ++p)
                for (int64_t i0 = g0; i0 < g1; i0 += MR)
                    _mm512_mask_storeu_epi32(Ap + i0 * P + p * MR, kRows,
                                             row_pair_words(A + i0, lda, 2 * p, kc, first_lanes(min64(MR, mc - i0))));
        }
        return;
    }
    // op(A)[r, k] = A[(i0 + r) * lda + k]: a sliver's rows rounded into the buffer, then 16 pairs of each
    // row transposed to 16 pair rows.
    alignas(64) uint32_t rows[16][kMaxPairs];
    for (int64_t i0 = 0; i0 < mc; i0 += MR) {
        uint32_t * s = Ap + i0 * P;
        rows_to_words(A + i0 * lda, lda, min64(MR, mc - i0), kc, P, rows);
        for (int64_t p0 = 0; p0 < P; p0 += 16) {
            __m512i w[16];
            for (int64_t r = 0; r < 16; ++r) w[r] = _mm512_load_si512((const void *) (rows[r] + p0));
            transpose_words(w);
            for (int64_t p = 0; p < 16 && p0 + p < P; ++p) _mm512_mask_storeu_epi32(s + (p0 + p) * MR, kRows, w[p]);
        }
    }
}

// Packed B (see the top): op(B) k [0, kc), columns [0, nc); columns and k past them zero.
void pack_b(bool tb, int64_t kc, int64_t nc, const float * B, int64_t ldb, float * Bpf) {
    uint32_t * Bp = reinterpret_cast<uint32_t *>(Bpf);
    const int64_t P = padded(kc) / 2;
    if (!tb) {
        // op(B)[k, c] = B[k * ldb + c]: rows 2p and 2p + 1 interleaved, for a group of slivers per pass
        // over the rows of B.
        for (int64_t g0 = 0; g0 < nc; g0 += kGroupB * NR) {
            const int64_t g1 = min64(nc, g0 + kGroupB * NR);
            for (int64_t p = 0; p < P; ++p)
                for (int64_t j0 = g0; j0 < g1; j0 += NR)
                    for (int64_t g = 0; g < NR; g += 16)
                        _mm512_store_si512((void *) (Bp + j0 * P + p * NR + g),
                                           row_pair_words(B + j0 + g, ldb, 2 * p, kc, first_lanes(nc - j0 - g)));
        }
        return;
    }
    // op(B)[k, c] = B[c * ldb + k]: the sliver's 32 columns rounded into the buffer, then transposed in
    // 16 x 16 blocks.
    alignas(64) uint32_t rows[16][kMaxPairs];
    for (int64_t j0 = 0; j0 < nc; j0 += NR) {
        uint32_t * s = Bp + j0 * P;
        for (int64_t g = 0; g < NR; g += 16) {
            rows_to_words(B + (j0 + g) * ldb, ldb, nc - j0 - g, kc, P, rows);
            for (int64_t p0 = 0; p0 < P; p0 += 16) {
                __m512i w[16];
                for (int64_t c = 0; c < 16; ++c) w[c] = _mm512_load_si512((const void *) (rows[c] + p0));
                transpose_words(w);
                for (int64_t p = 0; p < 16 && p0 + p < P; ++p)
                    _mm512_store_si512((void *) (s + (p0 + p) * NR + g), w[p]);
            }
        }
    }
}

// C[0:14, 0:32] = alpha * Ap Bp + beta * C + bias (beta == 0: C not read; bias: 32 values or null). With
// alpha 1 and beta 0 or 1 (no bias then) the tile starts from C or the bias row and adds the products.
void kernel(int64_t kc, const float * Apf, const float * Bpf, float * C, int64_t ldc, float alpha, float beta,
            const float * bias) {
    const uint32_t * Ap = reinterpret_cast<const uint32_t *>(Apf);
    const uint32_t * Bp = reinterpret_cast<const uint32_t *>(Bpf);
    if (alpha == 1.0f && (beta == 0.0f || (beta == 1.0f && !bias))) {
        // The tile starts from C (beta 1), the bias row or zero and is stored in place.
        vdpbf16::tile_14x32(padded(kc) / 2, Ap, Bp, C, ldc, beta != 0.0f ? C : bias, beta != 0.0f ? ldc : 0);
        return;
    }
    alignas(64) float acc[MR * NR];
    vdpbf16::tile_14x32(padded(kc) / 2, Ap, Bp, acc, NR);
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

// Edge tiles of at most 8 rows (thin products: 16 or 17 token rows are a 14-row tile and a 2- or
// 3-row edge): the first 8 rows of the tile only, the same arithmetic per row.
void kernel_short(int64_t kc, const float * Apf, const float * Bpf, float * C, int64_t ldc, const float * init,
                  int64_t ld_init) {
    vdpbf16::tile_8x32(padded(kc) / 2, reinterpret_cast<const uint32_t *>(Apf), reinterpret_cast<const uint32_t *>(Bpf),
                       C, ldc, init, ld_init);
}

}  // namespace

const GemmKernel & gemm_kernel_train_avx512bf16() {
    static const GemmKernel k{MR,     NR,     KC, MC,      NC,      64.0, kernel,      pack_a,
                              pack_b, KALIGN, 2,  nullptr, nullptr, 8,    kernel_short};
    return k;
}

}  // namespace sa::cpu
