// SPDX-License-Identifier: Apache-2.0
// One key block of ViT attention's online softmax, written once for every vector width (the AVX2
// file ops/attention-vit.cpp and isa/attention-vit-avx512.cpp instantiate it with their own lane
// operations, cpu/vec-math.h). The scores are held transposed: s[j * nr + q] is key j of the block
// against query lane q, nr = NV vectors wide, so the softmax runs down the keys lane by lane (no
// horizontal reduction) and the probabilities stay in the layout the P V product packs its right
// operand in. Per lane:
//   s += rel_h[kh] + rel_w[kw];  m' = max(m, max_j s);  s = exp(s - m');
//   l' = l exp(m - m') + sum_j s;  o = o exp(m - m')  (o: the unnormalised output, rows x nr)
// The order of every sum is fixed by the block, so the bits depend on the key block and the lane
// width, never on the thread count.
#pragma once

#include <cstdint>

#include "cpu/vec-math.h"

namespace sa::cpu::attn {

struct KeyBlock {
    float * s;         // [kn, nr] scores in, exp(s - m') out
    int64_t kn;        // keys in the block
    int64_t kh, kw;    // grid row and column of the block's first key
    int64_t W;         // key grid width
    const float * rh;  // rel_h: nr values per key grid row at rh + kh * ldr (null: no relative positions)
    const float * rw;  // rel_w: nr values per key grid column at rw + kw * ldr
    int64_t ldr;
    float * m;  // running maximum per lane (nr), updated
    float * l;  // running sum per lane (nr), updated
    float * o;  // unnormalised output [o_rows, nr], rescaled (not read when first)
    int64_t o_rows;
    bool first;  // the first key block: m, l and o hold nothing yet
};

// Pass 1: the relative-position terms added to the scores (when given) and the new running maximum
// per lane: m0 the old one (-inf for the first block), mx the new one.
template <class V, int NV>
inline void block_max(const KeyBlock & a, typename V::v * m0, typename V::v * mx) {
    using v = typename V::v;
    constexpr int64_t L = (int64_t) (sizeof(v) / sizeof(float)), nr = NV * L;
    for (int i = 0; i < NV; ++i) m0[i] = mx[i] = a.first ? V::set1(-__builtin_inff()) : V::load(a.m + i * L);
    float * s = a.s;
    if (a.rh) {
        int64_t kh = a.kh, kw = a.kw;
        for (int64_t j = 0; j < a.kn; ++j) {
            const float * rh = a.rh + kh * a.ldr;
            const float * rw = a.rw + kw * a.ldr;
            for (int i = 0; i < NV; ++i) {
                const v x = V::add(V::load(s + j * nr + i * L), V::add(V::load(rh + i * L), V::load(rw + i * L)));
                V::store(s + j * nr + i * L, x);
                mx[i] = V::max(mx[i], x);
            }
            if (++kw == a.W) {
                kw = 0;
                ++kh;
            }
        }
    } else {
        for (int64_t j = 0; j < a.kn; ++j)
            for (int i = 0; i < NV; ++i) mx[i] = V::max(mx[i], V::load(s + j * nr + i * L));
    }
}

// Last pass: the running maximum and sum updated (sum: this block's exponentials per lane) and the
// output rescaled by exp(m0 - mx).
template <class V, int NV>
inline void block_update(const KeyBlock & a, const typename V::v * m0, const typename V::v * mx,
                         const typename V::v * sum) {
    using v = typename V::v;
    constexpr int64_t L = (int64_t) (sizeof(v) / sizeof(float)), nr = NV * L;
    for (int i = 0; i < NV; ++i) {
        V::store(a.m + i * L, mx[i]);
        if (a.first) {
            V::store(a.l + i * L, sum[i]);
            continue;
        }
        const v c = vmath::exp<V>(V::sub(m0[i], mx[i]));
        V::store(a.l + i * L, V::fmadd(V::load(a.l + i * L), c, sum[i]));
        for (int64_t r = 0; r < a.o_rows; ++r) V::store(a.o + r * nr + i * L, V::mul(V::load(a.o + r * nr + i * L), c));
    }
}

template <class V, int NV>
inline void key_block(const KeyBlock & a) {
    using v = typename V::v;
    constexpr int64_t L = (int64_t) (sizeof(v) / sizeof(float)), nr = NV * L;
    v mx[NV], m0[NV];
    block_max<V, NV>(a, m0, mx);
    float * s = a.s;
    v sum[NV];
    for (int i = 0; i < NV; ++i) sum[i] = V::set1(0.0f);
    for (int64_t j = 0; j < a.kn; ++j)
        for (int i = 0; i < NV; ++i) {
            const v e = vmath::exp<V>(V::sub(V::load(s + j * nr + i * L), mx[i]));
            V::store(s + j * nr + i * L, e);
            sum[i] = V::add(sum[i], e);
        }
    block_update<V, NV>(a, m0, mx, sum);
}

}  // namespace sa::cpu::attn
