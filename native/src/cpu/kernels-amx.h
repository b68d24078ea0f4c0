// SPDX-License-Identifier: Apache-2.0
// The AMX (BF16 tile) kernels of the CPU backend's attention (src/cpu/isa/<op>-amx.cpp, compiled with
// the amx level's flags), used by a bf16 backend when sa::cpu_isa() is amx. The op file keeps the
// chunking over threads, the online softmax and the relative-position terms; these kernels do the two
// products of each key block on tiles with operands rounded to bf16 and fp32 accumulation.
// Declarations only: this header is shared by baseline and AMX translation units.
#pragma once

#include <cstdint>

namespace sa::cpu {
namespace attn {
struct KeyBlock;
}
}  // namespace sa::cpu

namespace sa::cpu::amx {

// Lanes of queries every kernel below works on (two 16-column tiles; the AVX-512 key block's width).
constexpr int64_t kAttnLanes = 32;

static inline int64_t round_up16(int64_t x) {
    return (x + 15) / 16 * 16;
}
static inline int64_t round_up32(int64_t x) {
    return (x + 31) / 32 * 32;
}

#if defined(SA_HAVE_AMX)
// attention-vit-amx.cpp. Layouts (hd32 = hd rounded up to 32; padding is zero):
//   keys   kb  [round_up16(N)][hd32] bf16, row n = k[n]
//   values vt  [round_up16(hd)][ldv] bf16, ldv = round_up32(N), vt[c][n] = v[n][c]
//   queries qt [hd32 / 2][32] words, word (p, lane) = (scale q[lane][2p], scale q[lane][2p + 1])
//   scores  st [round_up16(kn)][32] fp32, st[j][lane] = key j . scaled query lane
//   output  o  [round_up16(hd)][32] fp32, O^T for the 32 query lanes
void attention_vit_pack_keys(const float * k, int64_t ld, int64_t N, int64_t hd, uint16_t * kb);
void attention_vit_pack_values(const float * v, int64_t ld, int64_t N, int64_t hd, uint16_t * vt);
void attention_vit_pack_queries(const float * q, int64_t ld, int64_t nq, int64_t hd, float scale, uint32_t * qt);
// st = K[0, kn) Q^T (kb at the block's first key).
void attention_vit_scores(const uint16_t * kb, int64_t hd, int64_t kn, const uint32_t * qt, float * st);
// The block's online softmax (cpu/attention-block.h on the scores st, running maximum, sum and output
// rescaled) with the probabilities written as bf16 pairs of consecutive keys, the B layout of the
// values product: pp [round_up32(kn) / 2][32] words, zero past kn.
void attention_vit_probabilities(const attn::KeyBlock & a, uint32_t * pp);
// o = (first ? 0 : o) + V^T[:, 0, kn) P^T (vt at the block's first key column, pp as above).
void attention_vit_values(const uint16_t * vt, int64_t ldv, int64_t hd, int64_t kn, const uint32_t * pp, float * o,
                          bool first);
#endif

}  // namespace sa::cpu::amx
