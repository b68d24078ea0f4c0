// SPDX-License-Identifier: Apache-2.0
// TinyViT window attention with learned biases on the CUDA backend (one block per window and head).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace sa {
namespace cuda {

// See Backend::attention_tinyvit. `max_smem`: the device's opt-in shared-memory limit per block.
void launch_attention_tinyvit(const float * qkv, const float * pad_qkv, const float * bias, float * out, int64_t B,
                              int64_t H, int64_t W, int64_t win, int64_t nh, int64_t kd, int64_t vd, size_t max_smem,
                              cudaStream_t stream);

}  // namespace cuda
}  // namespace sa
