// SPDX-License-Identifier: Apache-2.0
// One key block of ViT attention's online softmax with the probabilities written as bf16 pairs, for the
// bf16 attentions of levels avx512bf16 (VDPBF16PS, ops/attention-vit.cpp) and amx (tiles,
// isa/attention-vit-amx.cpp); included only by files of those levels (internal linkage). The scores and
// the running maximum, sum and output are those of cpu/attention-block.h for 32 query lanes; the
// probabilities go out as pp[p][lane] = (P[2p][lane], P[2p + 1][lane]) in bf16, zero past the block's
// keys up to a multiple of 32, the packed right operand of the values product on both levels, and the
// sums add the rounded values, so l is the sum of the weights the values are multiplied with.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "cpu/attention-block.h"
#include "cpu/isa/bf16-pairs.h"
#include "cpu/isa/simd-avx512.h"

namespace sa::cpu::bf16attn {
namespace {

constexpr int64_t kLanes = 32;

// exp(x) for the softmax's x <= 0 (NaN stays NaN): 2^n 2^f, n = round(x log2(e)), |f| <= 1/2, 2^f by
// its degree-5 Taylor polynomial (relative error below 3e-6, far under bf16's 2^-9 rounding of the
// result).
inline __m512 exp_nonpositive(__m512 x) {
    x = _mm512_max_ps(_mm512_set1_ps(-87.0f), x);  // the second operand when it is NaN
    const __m512 t = _mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f));
    const __m512 n = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512 f = _mm512_sub_ps(t, n);
    __m512 p = _mm512_set1_ps(1.3333558146e-3f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.6181291076e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.5504108665e-2f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.4022650696e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.9314718056e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

// The key block a (32 lanes) with its probabilities as bf16 pairs in pp (see the top).
inline void probabilities(const attn::KeyBlock & a, uint32_t * pp) {
    using V = avx512::Lanes;
    constexpr int64_t L = kLanes;
    __m512 m0[2], mx[2];
    attn::block_max<V, 2>(a, m0, mx);
    __m512 sum[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
    const int64_t kn = a.kn, kn32 = (kn + 31) / 32 * 32;
    const __m512i high = _mm512_set1_epi32((int) 0xFFFF0000u);
    for (int64_t j = 0; j < kn32; j += 2)
        for (int i = 0; i < 2; ++i) {
            const float * s = a.s + j * L + i * 16;
            const __m512 e0 = j < kn ? exp_nonpositive(_mm512_sub_ps(_mm512_loadu_ps(s), mx[i])) : _mm512_setzero_ps();
            const __m512 e1 =
                j + 1 < kn ? exp_nonpositive(_mm512_sub_ps(_mm512_loadu_ps(s + L), mx[i])) : _mm512_setzero_ps();
            // Both rounded at once into pair words; the sums add the rounded values (bf16 bits << 16).
            const __m512i w = bf16::pair_words(e0, e1);
            sum[i] = _mm512_add_ps(sum[i], _mm512_castsi512_ps(_mm512_slli_epi32(w, 16)));
            sum[i] = _mm512_add_ps(sum[i], _mm512_castsi512_ps(_mm512_and_si512(w, high)));
            _mm512_storeu_si512((void *) (pp + j / 2 * L + i * 16), w);
        }
    attn::block_update<V, 2>(a, m0, mx, sum);
}

}  // namespace
}  // namespace sa::cpu::bf16attn
