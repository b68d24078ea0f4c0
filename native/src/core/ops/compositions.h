// SPDX-License-Identifier: Apache-2.0
// The base-class compositions of ops with a parameter struct (what Backend::<op>_impl runs on a backend
// without a dedicated kernel), callable on any backend so tests can compare them with its kernels.
// Arguments as checked by the op's entry point.
#pragma once

#include "sa/backend.h"

namespace sa::compose {

// attention_backward into scratch (2 B Nk nh d floats), then dkv += dk + dv.
void attention_backward_kv_acc(Backend & be, const AttentionKvAccArgs & a);
// layernorm then gelu through a.y; gelu_backward into a.dy_scratch, then layernorm_backward (layernorm.cpp).
void layernorm_gelu(Backend & be, const LayerNormGeluArgs & a);
void layernorm_gelu_backward(Backend & be, const LayerNormGeluBackwardArgs & a);
// layernorm then add per block of add_rows rows; transpose_last2, add_bias and add (layernorm.cpp).
void layernorm_add(Backend & be, const LayerNormAddArgs & a);
void keys_from_embedding(Backend & be, const KeysFromEmbeddingArgs & a);
// gelu, gemm and transpose_last2 per sample (decoder-fallbacks.cpp).
void mask_head(Backend & be, const MaskHeadArgs & a);
void mask_head_backward(Backend & be, const MaskHeadBackwardArgs & a);
// conv2d, gelu, add, layernorm, linear_prepared and transpose_last2 (tinyvit-fallbacks.cpp).
void tinyvit_mbconv(Backend & be, const TinyVitMbconvArgs & a);
void tinyvit_patch_embed(Backend & be, const TinyVitPatchEmbedArgs & a);
void tinyvit_mlp(Backend & be, const TinyVitMlpArgs & a);
void tinyvit_merge(Backend & be, const TinyVitMergeArgs & a);
void depthwise3x3_nhwc(Backend & be, const Depthwise3x3NhwcArgs & a);

}  // namespace sa::compose
