// SPDX-License-Identifier: Apache-2.0
// Parameter layout of SAM's prompt encoder + mask decoder: configuration inferred from the weights and
// one flat buffer holding every parameter at a fixed offset (gradients and optimiser moments use the
// same layout). Order: the prompt encoder's learned embeddings (point_embeddings.0-3 then
// not_a_point_embed, contiguous so that they form one [5, C] table, then no_mask_embed), the mask
// decoder, then the frozen prompt-encoder tensors (positional-encoding matrix, mask downscaling).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "sa/weights.h"

namespace sa::decoder {

constexpr int64_t kHeads = 8;

struct ParamEntry {
    std::string name;  // official key, e.g. "mask_decoder.iou_token.weight"
    std::vector<int64_t> shape;
    int64_t offset = 0;
    int64_t numel = 0;
};

struct AttnLayout {
    int64_t qw, qb, kw, kb, vw, vb, ow, ob;
    int64_t internal;  // projection dim (C / downsample rate)
};
struct NormLayout {
    int64_t w, b;
};
struct BlockLayout {
    AttnLayout self_attn, t2i, i2t;
    NormLayout norm1, norm2, norm3, norm4;
    int64_t lin1w, lin1b, lin2w, lin2b;
};
struct MlpLayout {
    std::vector<int64_t> w, b;   // per layer
    std::vector<int64_t> dims;   // dims[0] input ... dims[L] output
    int64_t begin = 0, end = 0;  // parameter range [begin, end) in the flat buffer
};

struct Layout {
    // configuration
    int64_t C = 256;  // transformer dim
    int64_t T = 4;    // mask tokens (num_multimask_outputs + 1)
    int64_t depth = 2;
    int64_t mlp = 2048;
    int64_t self_internal = 256, cross_internal = 128;
    int64_t up1 = 64, up2 = 32;  // output upscaling channels (C/4, C/8)
    int64_t mask_in_chans = 16;

    // prompt encoder
    int64_t point_table = 0;  // [5, C]: point_embeddings.0..3, not_a_point_embed
    int64_t no_mask = 0;      // [1, C]
    int64_t pe_gauss = 0;     // [2, C/2]
    int64_t md0w, md0b, md1w, md1b, md3w, md3b, md4w, md4b, md6w, md6b;
    // mask decoder
    int64_t iou_token = 0, mask_tokens = 0;  // adjacent: [1 + T, C]
    std::vector<BlockLayout> blocks;
    AttnLayout final_attn;
    NormLayout norm_final;
    int64_t up0w, up0b, up1w, up1b, up3w, up3b;
    std::vector<MlpLayout> hyper;  // T hypernetwork MLPs
    MlpLayout iou_head;

    std::vector<ParamEntry> entries;
    std::map<std::string, size_t> index;
    int64_t total = 0;
    int64_t prompt_begin = 0, prompt_end = 0;    // learned prompt embeddings
    int64_t decoder_begin = 0, decoder_end = 0;  // mask decoder parameters

    const ParamEntry & entry(const std::string & name) const;  // throws SA_ERR_INVALID_ARG naming the key
    std::string describe() const;
};

// Infers the configuration from the weights, builds the layout and copies every weight into `flat`
// (resized to layout.total). Throws SA_ERR_WEIGHTS / SA_ERR_SHAPE listing every problem.
Layout load_layout(WeightMap & w, std::vector<float> & flat);

}  // namespace sa::decoder
