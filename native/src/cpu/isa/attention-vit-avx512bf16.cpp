// SPDX-License-Identifier: Apache-2.0
// The bf16 ViT attention's key-block softmax at level avx512bf16 (cpu/kernels-avx512.h): the
// probabilities go out as bf16 pairs of consecutive keys, the packed right operand of the VDPBF16PS
// values product in ops/attention-vit.cpp (isa/attention-probabilities-bf16.h, shared with level amx).
#include "cpu/isa/attention-probabilities-bf16.h"
#include "cpu/kernels-avx512.h"

namespace sa::cpu::avx512bf16 {

void attention_vit_probabilities(const attn::KeyBlock & a, uint32_t * pp) {
    bf16attn::probabilities(a, pp);
}

}  // namespace sa::cpu::avx512bf16
