// SPDX-License-Identifier: Apache-2.0
// The base-class compositions of ops with a parameter struct (what Backend::<op>_impl runs on a backend
// without a dedicated kernel), callable on any backend so tests can compare them with its kernels.
// Arguments as checked by the op's entry point.
#pragma once

#include "sa/backend.h"

namespace sa::compose {

// attention_backward into scratch (2 B Nk nh d floats), then dkv += dk + dv.
void attention_backward_kv_acc(Backend & be, const AttentionKvAccArgs & a);
// gelu, gemm and transpose_last2 per sample (decoder-fallbacks.cpp).
void mask_head(Backend & be, const MaskHeadArgs & a);
void mask_head_backward(Backend & be, const MaskHeadBackwardArgs & a);

}  // namespace sa::compose
