// SPDX-License-Identifier: Apache-2.0
// AVX-512 rows of SAM's mask head (cpu/kernels-avx512.h; the op and its layouts: ops/mask-head.cpp).
// One call is one row i of the E x E input grid of one sample: its E pixels, each 16 sub-pixel feature
// rows of Cf channels (Cf a multiple of 16), which are one 4 x 4 block of every 4E x 4E mask. The
// forward pass sums each feature row against the hypernetwork in 16 lanes and reduces 16 rows at once;
// the backward pass is the AVX2 path's per-element arithmetic at 16 lanes (the same bits for dfeat
// and dhyper).
#include "cpu/isa/simd-avx512.h"
#include "cpu/kernels-avx512.h"

namespace sa::cpu::avx512 {

namespace {

constexpr int kSub = 16;

// Sums of 16 vectors, [sum(a[0]), ..., sum(a[15])] in a lane order fixed by the folds below (the same
// tree for every row): a 256-bit fold, a 128-bit fold, then pairs and single lanes within 128 bits.
// Row r ends in lane kLaneOfRow[r].
constexpr int kLaneOfRow[16] = {0, 2, 1, 3, 8, 10, 9, 11, 4, 6, 5, 7, 12, 14, 13, 15};

inline __m512 fold16(const __m512 a[16]) {
    __m512 b[8];  // 128-bit lanes: row k (two of them), row k + 8 (two)
    for (int k = 0; k < 8; ++k)
        b[k] = _mm512_add_ps(_mm512_shuffle_f32x4(a[k], a[k + 8], 0x44), _mm512_shuffle_f32x4(a[k], a[k + 8], 0xEE));
    __m512 c[4];  // 128-bit lanes: rows k, k + 8, k + 4, k + 12
    for (int k = 0; k < 4; ++k)
        c[k] = _mm512_add_ps(_mm512_shuffle_f32x4(b[k], b[k + 4], 0x88), _mm512_shuffle_f32x4(b[k], b[k + 4], 0xDD));
    __m512 d[2];  // per 128-bit lane: two partials of a row of c[k], two of the row of c[k + 2]
    for (int k = 0; k < 2; ++k)
        d[k] = _mm512_add_ps(_mm512_shuffle_ps(c[k], c[k + 2], 0x44), _mm512_shuffle_ps(c[k], c[k + 2], 0xEE));
    return _mm512_add_ps(_mm512_shuffle_ps(d[0], d[1], 0x88), _mm512_shuffle_ps(d[0], d[1], 0xDD));
}

// Sub-pixel row r = 4 s1 + s2 of a pixel lands at (dy, dx) = (2 (s1 >> 1) + (s2 >> 1), 2 (s1 & 1) +
// (s2 & 1)) of its 4 x 4 block of the mask.
inline int64_t block_offset(int r, int64_t W) {
    const int s1 = r >> 2, s2 = r & 3;
    return (2 * (s1 >> 1) + (s2 >> 1)) * W + 2 * (s1 & 1) + (s2 & 1);
}

// The fold's lanes in block order (row q = 4 dy + dx of the 4 x 4 block).
inline __m512i fold_to_block() {
    alignas(64) int idx[16];
    for (int r = 0; r < kSub; ++r) {
        const int s1 = r >> 2, s2 = r & 3;
        idx[4 * (2 * (s1 >> 1) + (s2 >> 1)) + 2 * (s1 & 1) + (s2 & 1)] = kLaneOfRow[r];
    }
    return _mm512_load_si512(idx);
}

}  // namespace

void mask_head_row(const float * feat, const float * hyper, int64_t hyper_stride, int64_t M, float * masks,
                   int64_t mask_stride, int64_t i, int64_t E, int64_t Cf) {
    const int64_t W = 4 * E;
    const __m512i to_block = fold_to_block();
    alignas(64) float g[kSub * kMaskHeadMaxCf];
    for (int64_t j = 0; j < E; ++j) {
        const float * x = feat + (i * E + j) * kSub * Cf;
        for (int64_t n = 0; n < kSub * Cf; n += 16) _mm512_store_ps(g + n, gelu512(_mm512_loadu_ps(x + n)));
        for (int64_t m = 0; m < M; ++m) {
            const float * h = hyper + m * hyper_stride;
            __m512 acc[kSub];
            for (int r = 0; r < kSub; ++r) acc[r] = _mm512_setzero_ps();
            for (int64_t c = 0; c < Cf; c += 16) {
                const __m512 hc = _mm512_loadu_ps(h + c);
                for (int r = 0; r < kSub; ++r) acc[r] = _mm512_fmadd_ps(_mm512_load_ps(g + r * Cf + c), hc, acc[r]);
            }
            const __m512 v = _mm512_permutexvar_ps(to_block, fold16(acc));
            float * out = masks + m * mask_stride + 4 * i * W + 4 * j;
            _mm_storeu_ps(out, _mm512_castps512_ps128(v));
            _mm_storeu_ps(out + W, _mm512_extractf32x4_ps(v, 1));
            _mm_storeu_ps(out + 2 * W, _mm512_extractf32x4_ps(v, 2));
            _mm_storeu_ps(out + 3 * W, _mm512_extractf32x4_ps(v, 3));
        }
    }
}

void mask_head_backward_row(const float * feat, const float * hyper, int64_t hyper_stride, int64_t M,
                            const float * dmasks, int64_t mask_stride, float * dfeat, float * dh, int64_t i, int64_t E,
                            int64_t Cf) {
    const int64_t W = 4 * E;
    for (int64_t j = 0; j < E; ++j) {
        for (int r = 0; r < kSub; ++r) {
            const int64_t pix = 4 * i * W + 4 * j + block_offset(r, W);
            const int64_t row = (i * E + j) * kSub + r;
            const float * x = feat + row * Cf;
            float * dx = dfeat ? dfeat + row * Cf : nullptr;
            for (int64_t c = 0; c < Cf; c += 16) {
                const __m512 xv = _mm512_loadu_ps(x + c);
                const __m512 e = vmath::gelu_erf<Lanes>(xv);
                if (dx) {
                    __m512 gs = _mm512_setzero_ps();
                    for (int64_t m = 0; m < M; ++m)
                        gs = _mm512_fmadd_ps(_mm512_set1_ps(dmasks[m * mask_stride + pix]),
                                             _mm512_loadu_ps(hyper + m * hyper_stride + c), gs);
                    _mm512_storeu_ps(dx + c, _mm512_mul_ps(gs, vmath::gelu_grad_from_erf<Lanes>(xv, e)));
                }
                if (dh) {
                    const __m512 gel = vmath::gelu_from_erf<Lanes>(xv, e);
                    for (int64_t m = 0; m < M; ++m) {
                        float * d = dh + m * Cf + c;
                        _mm512_storeu_ps(
                            d, _mm512_fmadd_ps(_mm512_set1_ps(dmasks[m * mask_stride + pix]), gel, _mm512_loadu_ps(d)));
                    }
                }
            }
        }
    }
}

}  // namespace sa::cpu::avx512
