// SPDX-License-Identifier: Apache-2.0
// AVX-512 window-head task of TinyViT window attention (cpu/kernels-avx512.h). A window holds few
// tokens (49 or 196 in MobileSAM) and a head 32 dimensions, so the products are too small for the
// packed GEMM to pay for its packing; both run here on register tiles of at most 24 accumulators. The
// queries are copied to a contiguous block and the keys transposed (16 x 16 blocks) once per task;
// S = scale q k^T accumulates over the head's kd dimensions, each query element broadcast; for windows
// of at most 64 tokens the tile holds whole rows and the softmax (+ bias) runs on its registers. O = P v
// accumulates over the window's keys, each value row read in place from its token. Every output
// element is one chain of fused multiply-adds in k order, as the packed GEMM's micro-kernel computes a
// product whose K fits one block, and the softmax follows biased_exp_row's order: MobileSAM's encoder
// gives the same bits as through the GEMM path.
#include <algorithm>

#include "cpu/isa/simd-avx512.h"
#include "cpu/isa/transpose16x16.h"
#include "cpu/kernels-avx512.h"

namespace sa::cpu::avx512 {

namespace {

// acc[r][z] = sum_k a[r lda + k] * brow(k)[16 z .. 16 z + 15] over k < K, for R rows and NZ vectors.
// (Inlined into its caller, so the accumulators stay in registers.)
template <int R, int NZ, typename BRow>
[[gnu::always_inline]] inline void tile(const float * a, int64_t lda, BRow && brow, int64_t K, __m512 acc[R][NZ]) {
    for (int r = 0; r < R; ++r)
        for (int z = 0; z < NZ; ++z) acc[r][z] = _mm512_setzero_ps();
    for (int64_t k = 0; k < K; ++k) {
        const float * bk = brow(k);
        __m512 bv[NZ];
        for (int z = 0; z < NZ; ++z) bv[z] = _mm512_loadu_ps(bk + 16 * z);
        for (int r = 0; r < R; ++r) {
            const __m512 av = _mm512_set1_ps(a[r * lda + k]);
            for (int z = 0; z < NZ; ++z) acc[r][z] = _mm512_fmadd_ps(av, bv[z], acc[r][z]);
        }
    }
}

// S rows [r0, r0 + R), columns [c0, c0 + 16 NZ): scale q k^T from the gathered queries and the
// transposed keys.
template <int R, int NZ>
void scores_tile(const WindowHeadTask & a, int64_t lds, int64_t c0, int64_t r0) {
    __m512 acc[R][NZ];
    const float * kt = a.kt + c0;
    tile<R, NZ>(
        a.q + r0 * a.kd, a.kd, [&](int64_t k) { return kt + k * lds; }, a.kd, acc);
    const __m512 vs = _mm512_set1_ps(a.scale);
    for (int r = 0; r < R; ++r)
        for (int z = 0; z < NZ; ++z) _mm512_storeu_ps(a.s + (r0 + r) * lds + c0 + 16 * z, _mm512_mul_ps(acc[r][z], vs));
}

// For windows of at most 64 tokens (one tile holds whole rows): S rows [r0, r0 + R) as scores_tile,
// then in registers the unnormalised softmax of each row with the bias, and 1 / its sum, in the
// order of biased_exp_row (same bits): P rows zero past n.
template <int R, int NZ>
void scores_softmax_tile(const WindowHeadTask & a, int64_t lds, int64_t r0) {
    __m512 acc[R][NZ];
    tile<R, NZ>(
        a.q + r0 * a.kd, a.kd, [&](int64_t k) { return a.kt + k * lds; }, a.kd, acc);
    const __m512 vs = _mm512_set1_ps(a.scale);
    const int64_t n = a.n;
    __mmask16 m[NZ];
    for (int z = 0; z < NZ; ++z) m[z] = n - 16 * z >= 16 ? (__mmask16) 0xFFFF : tail_mask(n - 16 * z);
    // Phases across the R rows, so their chains (maximum, exps, sums) overlap.
    __m512 mx[R], s0[R], s1[R];
    for (int r = 0; r < R; ++r) {
        const float * bias = a.bias ? a.bias + (r0 + r) * n : nullptr;
        mx[r] = _mm512_set1_ps(-__builtin_inff());
        for (int z = 0; z < NZ; ++z) {
            acc[r][z] = _mm512_maskz_mov_ps(m[z], _mm512_mul_ps(acc[r][z], vs));
            if (bias) acc[r][z] = _mm512_add_ps(acc[r][z], _mm512_maskz_loadu_ps(m[z], bias + 16 * z));
            mx[r] = _mm512_mask_max_ps(mx[r], m[z], mx[r], acc[r][z]);
        }
    }
    for (int r = 0; r < R; ++r) mx[r] = _mm512_set1_ps(_mm512_reduce_max_ps(mx[r]));
    for (int r = 0; r < R; ++r) {
        s0[r] = _mm512_setzero_ps();
        s1[r] = _mm512_setzero_ps();
        float * p = a.s + (r0 + r) * lds;
        int z = 0;
        for (; z + 1 < NZ && 16 * (z + 2) <= n; z += 2) {
            const __m512 e0 = exp512(_mm512_sub_ps(acc[r][z], mx[r]));
            const __m512 e1 = exp512(_mm512_sub_ps(acc[r][z + 1], mx[r]));
            _mm512_storeu_ps(p + 16 * z, e0);
            _mm512_storeu_ps(p + 16 * z + 16, e1);
            s0[r] = _mm512_add_ps(s0[r], e0);
            s1[r] = _mm512_add_ps(s1[r], e1);
        }
        for (; z < NZ; ++z) {
            const __m512 e = _mm512_maskz_mov_ps(m[z], exp512(_mm512_sub_ps(acc[r][z], mx[r])));
            _mm512_storeu_ps(p + 16 * z, e);
            s0[r] = _mm512_mask_add_ps(s0[r], m[z], s0[r], e);
        }
    }
    for (int r = 0; r < R; ++r) a.inv_sum[r0 + r] = 1.0f / _mm512_reduce_add_ps(_mm512_add_ps(s0[r], s1[r]));
}

// Output rows [r0, r0 + R), columns [c0, c0 + 16 NZ): (P v) / rowsum, written to dst[r] (null: a
// padding query, skipped), the values read from their tokens.
template <int R, int NZ>
void values_tile(const WindowHeadTask & a, int64_t lds, int64_t c0, int64_t r0) {
    __m512 acc[R][NZ];
    const int64_t v_off = 2 * a.kd + c0;
    tile<R, NZ>(
        a.s + r0 * lds, lds, [&](int64_t j) { return a.tok[j] + v_off; }, a.n, acc);
    for (int r = 0; r < R; ++r) {
        if (!a.dst[r0 + r]) continue;
        float * d = a.dst[r0 + r] + c0;
        const __m512 inv = _mm512_set1_ps(a.inv_sum[r0 + r]);
        for (int z = 0; z < NZ; ++z) _mm512_storeu_ps(d + 16 * z, _mm512_mul_ps(acc[r][z], inv));
    }
}

// Runs f.template operator()<R>(r0) over rows [0, rows) in blocks of RMax rows, then one block of
// the rest.
template <int R, typename F>
void rest_block(int64_t rest, int64_t r0, F & f) {
    if constexpr (R >= 1) {
        if (rest == R) {
            f.template operator()<R>(r0);
        } else {
            rest_block<R - 1>(rest, r0, f);
        }
    }
}
template <int RMax, typename F>
void row_blocks(int64_t rows, F && f) {
    int64_t r0 = 0;
    for (; r0 + RMax <= rows; r0 += RMax) f.template operator()<RMax>(r0);
    rest_block<RMax - 1>(rows - r0, r0, f);
}

// Register tiles: R rows of NZ 16-lane vectors, at most 24 accumulators.
template <int NZ>
constexpr int kRows = NZ == 4   ? 6
                      : NZ == 3 ? 8
                                : 12;

// f.template operator()<NZ>(c0) for each chunk [c0, c0 + 16 NZ) of a width w cut into chunks of 64
// (NZ = 1 to 4 vectors).
template <typename F>
void column_chunks(int64_t w, F && f) {
    for (int64_t c0 = 0; c0 < w; c0 += 64) {
        const int64_t nz = std::min<int64_t>(4, (w - c0) / 16);
        if (nz == 4) {
            f.template operator()<4>(c0);
        } else if (nz == 3) {
            f.template operator()<3>(c0);
        } else if (nz == 2) {
            f.template operator()<2>(c0);
        } else {
            f.template operator()<1>(c0);
        }
    }
}

}  // namespace

void attention_tinyvit_window(const WindowHeadTask & a) {
    const int64_t n = a.n, kd = a.kd, vd = a.vd, lds = (n + 15) / 16 * 16;
    // The values' cache lines are requested first (the product that reads them comes last); the
    // queries are copied to q [nq][kd] and the keys transposed to kt [kd][lds], zero past n.
    for (int64_t j = 0; j < n; ++j)
        for (int64_t c = 0; c < vd; c += 16) _mm_prefetch((const char *) (a.tok[j] + 2 * kd + c), _MM_HINT_T0);
    for (int64_t j0 = 0; j0 < lds; j0 += 16)
        for (int64_t k0 = 0; k0 < kd; k0 += 16) {
            __m512 r[16];
            for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(a.tok[j0 + i] + kd + k0);
            transpose16x16(r);
            for (int i = 0; i < 16; ++i) _mm512_storeu_ps(a.kt + (k0 + i) * lds + j0, r[i]);
        }
    for (int64_t r = 0; r < a.nq; ++r)
        for (int64_t k0 = 0; k0 < kd; k0 += 16) _mm512_storeu_ps(a.q + r * kd + k0, _mm512_loadu_ps(a.tok[r] + k0));
    if (lds <= 64) {
        // Whole rows in one tile: the softmax runs on the tile's registers.
        column_chunks(lds, [&]<int NZ>(int64_t) {
            row_blocks<kRows<NZ>>(a.nq, [&]<int Q>(int64_t r0) { scores_softmax_tile<Q, NZ>(a, lds, r0); });
        });
    } else {
        column_chunks(lds, [&]<int NZ>(int64_t c0) {
            row_blocks<kRows<NZ>>(a.nq, [&]<int Q>(int64_t r0) { scores_tile<Q, NZ>(a, lds, c0, r0); });
        });
        // Unnormalised softmax rows of the real queries (+ bias); the padding queries' rows are left
        // as scores (their outputs are not written).
        for (int64_t r = 0; r < a.nq; ++r)
            if (a.dst[r]) a.inv_sum[r] = biased_exp_row(a.s + r * lds, a.bias ? a.bias + r * n : nullptr, n);
    }
    column_chunks(vd, [&]<int NZ>(int64_t c0) {
        row_blocks<kRows<NZ>>(a.nq, [&]<int Q>(int64_t r0) { values_tile<Q, NZ>(a, lds, c0, r0); });
    });
}

}  // namespace sa::cpu::avx512
