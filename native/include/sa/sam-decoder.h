// SPDX-License-Identifier: Apache-2.0
// SAM's prompt encoder and mask decoder (the official PromptEncoder, MaskDecoder and TwoWayTransformer),
// numerically equal to the PyTorch implementation, on any Backend. Configuration (transformer dim and
// depth, MLP dim, attention downsample, number of mask tokens, head depths) is inferred from the
// weights; attention uses 8 heads as the official models.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sa/backend.h"
#include "sa/weights.h"

namespace sa {

// B prompts; each yields one set of masks. All host memory.
struct Prompts {
    int64_t B = 1;
    int64_t n_points = 0;            // points per prompt (pad with label -1 to batch different counts)
    const float * points = nullptr;  // [B, n_points, 2] x, y in the model input frame, pixels
    // [B, n_points]: 1 positive, 0 negative, -1 not-a-point (padding); 2 / 3 are box top-left /
    // bottom-right corners given as points (the ONNX export's convention).
    const float * labels = nullptr;
    const float * boxes = nullptr;       // [B, 4] x0, y0, x1, y1 in the input frame, or null
    const float * mask_input = nullptr;  // [B, 1, 4E, 4E] low-res mask logits, or null
};

class SamDecoderImpl;

class SamDecoder {
  public:
    // Reads every "prompt_encoder." and "mask_decoder." weight from w (official key names) and copies
    // them to the backend. Throws SA_ERR_WEIGHTS (missing / unexpected keys) or SA_ERR_SHAPE (shapes
    // that do not fit), naming the keys. img_size: the model input side S (1024 for SAM); embed_size:
    // the image embedding grid side E (64 for SAM).
    SamDecoder(Backend & be, WeightMap & w, int64_t img_size, int64_t embed_size);
    ~SamDecoder();
    SamDecoder(const SamDecoder &) = delete;
    SamDecoder & operator=(const SamDecoder &) = delete;

    int64_t img_size() const;
    int64_t embed_size() const;
    int64_t embed_dim() const;        // transformer dim (256)
    int64_t num_mask_tokens() const;  // 4: mask 0 (single-mask output) and 3 multimask outputs
    std::string describe() const;

    // The dense positional encoding of the embedding grid: host [embed_dim, E, E].
    void dense_pe(float * out);

    // Number of sparse tokens per prompt: n_points (+1 padding point when there is no box) + 2 per box.
    int64_t num_sparse(const Prompts & p) const;
    // Prompt embeddings on the host: sparse [B, num_sparse, embed_dim], dense [B, embed_dim, E, E].
    // Returns num_sparse.
    int64_t encode_prompts(const Prompts & p, float * sparse, float * dense);

    // Runs the prompt encoder and the mask decoder. embedding: host [embed_dim, E, E] (one image shared
    // by all prompts) or [B, embed_dim, E, E] when per_prompt_embeddings. Outputs on the host:
    // low_res [B, 4, 4E, 4E] (every mask token; multimask_output false selects token 0, true tokens
    // 1..3), iou [B, 4].
    void predict_all(const float * embedding, bool per_prompt_embeddings, const Prompts & p, float * low_res,
                     float * iou);
    // predict_all for the mask tokens [first_mask, first_mask + n_masks) only (0 <= first_mask,
    // 1 <= n_masks, first_mask + n_masks <= 4, else SA_ERR_INVALID_ARG): low_res [B, n_masks, 4E, 4E]
    // with the bits of predict_all's tokens (the work for the other tokens' masks is skipped: the
    // final attention's rows after them, their hypernetworks and mask products), iou [B, 4] all.
    // Evaluation with multimask_output false needs token 0 alone.
    void predict(const float * embedding, bool per_prompt_embeddings, const Prompts & p, int64_t first_mask,
                 int64_t n_masks, float * low_res, float * iou);

    // Named parameters (official key names, e.g. "mask_decoder.transformer.layers.0.norm1.weight",
    // "prompt_encoder.point_embeddings.0.weight") for saving, export and resume.
    std::vector<std::string> param_names() const;
    std::vector<int64_t> param_shape(const std::string & name) const;
    void get_param(const std::string & name, float * host) const;
    void set_param(const std::string & name, const float * host);

    SamDecoderImpl & impl() { return *impl_; }

  private:
    std::unique_ptr<SamDecoderImpl> impl_;
};

}  // namespace sa
