// SPDX-License-Identifier: Apache-2.0
// AVX-512 key block of SAM ViT attention (cpu/kernels-avx512.h): cpu/attention-block.h with 16-lane
// vectors, two per row of 32 query lanes (the AVX-512 GEMM tile width).
#include "cpu/attention-block.h"
#include "cpu/isa/simd-avx512.h"
#include "cpu/kernels-avx512.h"

namespace sa::cpu::avx512 {

void attention_vit_key_block(const attn::KeyBlock & a) {
    attn::key_block<Lanes, 2>(a);
}

}  // namespace sa::cpu::avx512
