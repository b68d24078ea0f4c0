// SPDX-License-Identifier: Apache-2.0
// The TinyViT image encoder in MobileSAM's layout (tiny_vit_sam.TinyViT, BatchNorm folded): its
// configuration, inferred from the weights, and the weights it loads.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "sa/weights.h"

namespace sa {

struct TinyVitConfig {
    int64_t img_size = 1024;  // input side (MobileSAM: 1024)
    int64_t in_chans = 3;
    // Per stage. Stage 0 is convolutional (MBConv blocks); stages 1.. are attention stages.
    std::vector<int64_t> dims;           // channels
    std::vector<int64_t> depths;         // blocks
    std::vector<int64_t> heads;          // attention heads (0 for stage 0)
    std::vector<int64_t> windows;        // attention window side (0 for stage 0)
    std::vector<int64_t> hidden;         // MBConv / MLP hidden channels
    std::vector<int64_t> merge_strides;  // stride of the PatchMerging after stage i (all but the last)
    int64_t neck_dim = 256;              // image-embedding channels

    int64_t num_stages() const { return (int64_t) dims.size(); }
    // Grid side at the input of stage i (stage 0: img_size / 4 after the patch embedding).
    int64_t grid(int64_t stage) const;
    // Image-embedding grid side (img_size / 16).
    int64_t embed_size() const { return grid(num_stages() - 1); }
    std::string describe() const;
    // Multiply-accumulates of one image's forward pass as computed here, times 2.
    double flops_per_image() const;
};

// MobileSAM's TinyViT-5M: dims 64/128/160/320, depths 2/2/6/2, heads -/4/5/10, windows -/7/14/7.
TinyVitConfig mobile_sam_tinyvit_config();

// Reads the configuration off the weight shapes under `prefix`: dims from the patch embedding and
// each PatchMerging's conv1, depths from the block count, heads and window from each attention
// block's attention_biases [heads, window^2], hidden widths from MBConv conv1 / MLP fc1. A
// PatchMerging halves the grid until the total stride reaches 16 (the embedding grid SAM's decoder
// expects) and keeps it after that, as MobileSAM's stride-1 last merge. Does not record anything in
// `w`. Throws SA_ERR_WEIGHTS when a key is missing or the BatchNorms are not folded, SA_ERR_SHAPE for
// inconsistent shapes.
TinyVitConfig infer_tinyvit_config(const WeightMap & w, const std::string & prefix);

// Every weight the encoder loads, with its shape, in forward order (BatchNorm folded: each
// Conv2d_BN as `<p>.c.weight` + `<p>.c.bias`; attention biases [heads, window^2]).
std::vector<std::pair<std::string, std::vector<int64_t>>> tinyvit_weight_shapes(const TinyVitConfig & c,
                                                                                const std::string & prefix);

}  // namespace sa
