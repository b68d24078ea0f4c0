// SPDX-License-Identifier: Apache-2.0
// SAM ViT attention with decomposed relative-position bias on the CUDA backend: a fused, flash-style
// kernel (online softmax over key tiles; the score matrix is never materialised).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace sa {
namespace cuda {

// Largest head dimension the fused kernel supports.
constexpr int64_t kVitMaxHeadDim = 128;

// Resamples a relative-position table [L, hd] to [out, hd] (linear, align_corners=False; SAM's get_rel_pos).
void launch_resample_rel_pos(const float * table, int64_t L, float * dst, int64_t out, int64_t hd, cudaStream_t stream);

// qkv [B, H*W, 3, nh, hd] -> out [B, H*W, nh*hd]. Rh [2H-1, hd] and Rw [2W-1, hd] (already at the grid's
// size) or both null. `max_smem` is the device's opt-in shared-memory limit per block.
void launch_attention_vit(const float * qkv, float * out, int64_t B, int64_t H, int64_t W, int64_t nh, int64_t hd,
                          const float * Rh, const float * Rw, size_t max_smem, cudaStream_t stream);

}  // namespace cuda
}  // namespace sa
