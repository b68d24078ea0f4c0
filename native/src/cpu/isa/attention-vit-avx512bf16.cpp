// SPDX-License-Identifier: Apache-2.0
// The bf16 ViT attention's key-block softmax at level avx512bf16 (cpu/kernels-avx512.h): the
// probabilities go out as bf16 pairs of consecutive keys, the packed right operand of the VDPBF16PS
// values product in ops/attention-vit.cpp (isa/attention-probabilities-bf16.h, shared with level amx).
#include "cpu/isa/attention-probabilities-bf16.h"
#include "cpu/isa/vdpbf16-tile.h"
#include "cpu/kernels-avx512.h"

namespace sa::cpu::avx512bf16 {

void attention_vit_probabilities(const attn::KeyBlock & a, uint32_t * pp) {
    bf16attn::probabilities(a, pp);
}

void attention_vit_values(const uint32_t * vt, int64_t kvw, int64_t hd, int64_t kn, const uint32_t * pp, float * o,
                          bool first) {
    constexpr int64_t MR = 14, NR = 32;
    const int64_t pairs = (kn + 7) / 8 * 4;  // kvw: the training kernel's K padded to a multiple of 8
    for (int64_t c = 0; c < hd; c += MR) {
        float * oc = o + c * NR;
        if (hd - c <= 8) {
            vdpbf16::tile_8x32(pairs, vt + c * kvw, pp, oc, NR, first ? nullptr : oc, NR);
        } else {
            vdpbf16::tile_14x32(pairs, vt + c * kvw, pp, oc, NR, first ? nullptr : oc, NR);
        }
    }
}

}  // namespace sa::cpu::avx512bf16
