// SPDX-License-Identifier: Apache-2.0
// SAM ViT attention on bf16 tensor cores (the BF16 math mode's path of attention_vit): a flash-style
// kernel with mma.sync m16n8k16 (bf16 operands, fp32 accumulation), an online softmax and SAM's
// decomposed relative-position bias computed per query block on the fly.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace sa {
namespace cuda {

// True when the tensor-core kernel handles this problem: head dim 64, 80 or 128, an even grid width
// when the relative-position bias is used, fewer than 2^21 tokens, 16-byte aligned qkv / out, and the
// kernel's shared memory within the device's opt-in limit `max_smem`. Otherwise callers use the fp32
// kernel (attention-vit.cuh).
bool attention_vit_bf16_supported(const float * qkv, const float * out, int64_t H, int64_t W, int64_t hd, bool use_rel,
                                  size_t max_smem);

// Bytes of device scratch launch_attention_vit_bf16 needs (q, k and v as bf16, head-major).
size_t attention_vit_bf16_scratch_bytes(int64_t B, int64_t H, int64_t W, int64_t nh, int64_t hd);

// qkv [B, H*W, 3, nh, hd] (fp32) -> out [B, H*W, nh*hd] (fp32). Rh [2H-1, hd] and Rw [2W-1, hd] (fp32,
// already at the grid's size) or both null. `scratch` holds attention_vit_bf16_scratch_bytes bytes
// (16-byte aligned). Requires attention_vit_bf16_supported.
void launch_attention_vit_bf16(const float * qkv, float * out, int64_t B, int64_t H, int64_t W, int64_t nh, int64_t hd,
                               const float * Rh, const float * Rw, void * scratch, cudaStream_t stream);

}  // namespace cuda
}  // namespace sa
