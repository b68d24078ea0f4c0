// SPDX-License-Identifier: Apache-2.0
// The SAM ViT image-encoder configuration and its inference from checkpoint weight shapes
// (segment-anything's ImageEncoderViT: vit_b / vit_l / vit_h, MedSAM, the tiny test model).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sa/weights.h"

namespace sa {

struct VitConfig {
    int64_t img_size = 0;   // input side (pos_embed grid * patch)
    int64_t patch = 0;      // patch-embedding kernel = stride
    int64_t in_chans = 0;   // 3
    int64_t embed_dim = 0;  // token width
    int64_t depth = 0;      // number of transformer blocks
    int64_t num_heads = 0;  // embed_dim / head_dim
    int64_t head_dim = 0;   // from the relative-position tables
    int64_t mlp_dim = 0;    // hidden width of the block MLP
    int64_t window = 0;     // window size of the windowed blocks (0: every block is global)
    int64_t out_chans = 0;  // neck output channels (256)
    int64_t grid = 0;       // token grid side (img_size / patch)
    bool qkv_bias = true;
    std::vector<int64_t> global_blocks;  // blocks with global attention

    bool is_global(int64_t block) const;
    // "vit_b", "vit_l", "vit_h" when the shape matches an official preset, else "custom".
    std::string preset() const;
    std::string describe() const;
    // Multiply-accumulates of one image's forward pass, times 2.
    double flops_per_image() const;
};

// Reads the configuration off the weight shapes under `prefix` ("image_encoder."): embed dim and
// patch from patch_embed.proj.weight, grid from pos_embed, depth from the block count, head dim from
// blocks.0.attn.rel_pos_h, window size from a windowed block's rel-pos length (2*window-1), global
// blocks as those whose rel-pos length is 2*grid-1, MLP width from blocks.0.mlp.lin1.weight.
// Does not record anything in `w`. Throws SA_ERR_WEIGHTS when a key needed for the inference is
// missing and SA_ERR_SHAPE when the shapes are inconsistent.
VitConfig infer_vit_config(const WeightMap & w, const std::string & prefix);

}  // namespace sa
