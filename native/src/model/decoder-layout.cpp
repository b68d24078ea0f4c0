// SPDX-License-Identifier: Apache-2.0
#include "model/decoder-layout.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "sa/status.h"

namespace sa::decoder {

namespace {

const std::string kPE = "prompt_encoder.";
const std::string kMD = "mask_decoder.";

// Dimension `axis` of a weight's shape, or `fallback` when the key is absent or has too few dims (the
// missing key is then reported by WeightMap::check).
int64_t dim_of(const WeightMap & w, const std::string & name, size_t axis, int64_t fallback) {
    auto it = w.all().find(name);
    if (it == w.all().end() || it->second.shape.size() <= axis) return fallback;
    return it->second.shape[axis];
}

// Number of consecutive indices i with "<prefix><i>.<suffix>" present.
int64_t count_indexed(const WeightMap & w, const std::string & prefix, const std::string & suffix) {
    int64_t n = 0;
    while (w.has(prefix + std::to_string(n) + "." + suffix)) ++n;
    return n;
}

class Builder {
  public:
    Builder(WeightMap & w, Layout & L, std::vector<float> & flat) : w_(w), L_(L), flat_(flat) {}

    int64_t add(const std::string & name, const std::vector<int64_t> & shape) {
        ParamEntry e;
        e.name = name;
        e.shape = shape;
        e.numel = 1;
        for (int64_t d : shape) e.numel *= d;
        e.offset = L_.total;
        L_.total += e.numel;
        L_.index[name] = L_.entries.size();
        L_.entries.push_back(e);
        sources_.push_back(w_.get(name, shape));
        return e.offset;
    }

    void linear(const std::string & name, int64_t out, int64_t in, int64_t & wo, int64_t & bo) {
        wo = add(name + ".weight", {out, in});
        bo = add(name + ".bias", {out});
    }

    AttnLayout attention(const std::string & name, int64_t C, int64_t internal) {
        AttnLayout a{};
        a.internal = internal;
        linear(name + ".q_proj", internal, C, a.qw, a.qb);
        linear(name + ".k_proj", internal, C, a.kw, a.kb);
        linear(name + ".v_proj", internal, C, a.vw, a.vb);
        linear(name + ".out_proj", C, internal, a.ow, a.ob);
        return a;
    }

    NormLayout norm(const std::string & name, int64_t C) {
        NormLayout n{};
        n.w = add(name + ".weight", {C});
        n.b = add(name + ".bias", {C});
        return n;
    }

    MlpLayout mlp(const std::string & name, int64_t in, int64_t out) {
        MlpLayout m;
        m.begin = L_.total;
        const int64_t layers = std::max<int64_t>(1, count_indexed(w_, name + ".layers.", "weight"));
        m.dims.push_back(in);
        for (int64_t i = 0; i < layers; ++i) {
            const std::string ln = name + ".layers." + std::to_string(i);
            const int64_t o = i + 1 == layers ? out : dim_of(w_, ln + ".weight", 0, in);
            int64_t wo, bo;
            linear(ln, o, m.dims.back(), wo, bo);
            m.w.push_back(wo);
            m.b.push_back(bo);
            m.dims.push_back(o);
        }
        m.end = L_.total;
        return m;
    }

    void finish() {
        // Bad shapes and missing keys are recorded across both prefixes; each check names the keys.
        w_.check(kPE, "SAM prompt encoder / mask decoder");
        w_.check(kMD, "SAM prompt encoder / mask decoder");
        flat_.assign((size_t) L_.total, 0.0f);
        for (size_t i = 0; i < L_.entries.size(); ++i) {
            const WeightView * v = sources_[i];
            SA_CHECK(v && v->data, SA_ERR_WEIGHTS, "decoder weights: no data for " + L_.entries[i].name);
            std::memcpy(flat_.data() + L_.entries[i].offset, v->data, (size_t) L_.entries[i].numel * sizeof(float));
        }
    }

  private:
    WeightMap & w_;
    Layout & L_;
    std::vector<float> & flat_;
    std::vector<const WeightView *> sources_;
};

}  // namespace

const ParamEntry & Layout::entry(const std::string & name) const {
    auto it = index.find(name);
    SA_CHECK_ARG(it != index.end(), "unknown decoder parameter '" + name + "'");
    return entries[it->second];
}

std::string Layout::describe() const {
    return "SAM prompt encoder + mask decoder: dim " + std::to_string(C) + ", two-way transformer depth " +
           std::to_string(depth) + ", " + std::to_string(kHeads) + " heads, mlp " + std::to_string(mlp) +
           ", cross-attention dim " + std::to_string(cross_internal) + ", " + std::to_string(T) +
           " mask tokens, IoU head depth " + std::to_string(iou_head.w.size()) + ", " + std::to_string(total) +
           " parameters";
}

Layout load_layout(WeightMap & w, std::vector<float> & flat) {
    Layout L;
    L.C = dim_of(w, kMD + "iou_token.weight", 1, 256);
    L.T = dim_of(w, kMD + "mask_tokens.weight", 0, 4);
    L.depth = count_indexed(w, kMD + "transformer.layers.", "norm1.weight");
    L.mlp = dim_of(w, kMD + "transformer.layers.0.mlp.lin1.weight", 0, 2048);
    L.self_internal = dim_of(w, kMD + "transformer.layers.0.self_attn.q_proj.weight", 0, L.C);
    L.cross_internal = dim_of(w, kMD + "transformer.final_attn_token_to_image.q_proj.weight", 0, L.C / 2);
    L.up1 = dim_of(w, kMD + "output_upscaling.0.weight", 1, L.C / 4);
    L.up2 = dim_of(w, kMD + "output_upscaling.3.weight", 1, L.C / 8);
    L.mask_in_chans = dim_of(w, kPE + "mask_downscaling.3.weight", 0, 16);
    const int64_t C = L.C;
    SA_CHECK(C > 0 && C % 2 == 0 && L.T >= 1, SA_ERR_SHAPE,
             "mask decoder: iou_token / mask_tokens shapes do not describe a SAM decoder");
    SA_CHECK(L.depth >= 1, SA_ERR_WEIGHTS, "mask decoder: missing keys: " + kMD + "transformer.layers.0.*");
    SA_CHECK(L.self_internal % kHeads == 0 && L.cross_internal % kHeads == 0, SA_ERR_SHAPE,
             "mask decoder: attention dims must be divisible by " + std::to_string(kHeads) + " heads");
    SA_CHECK(L.mask_in_chans % 4 == 0 && L.mask_in_chans > 0, SA_ERR_SHAPE,
             "prompt encoder: mask_downscaling.3.weight must have a multiple of 4 output channels");

    Builder b(w, L, flat);
    L.prompt_begin = L.total;
    L.point_table = b.add(kPE + "point_embeddings.0.weight", {1, C});
    for (int i = 1; i < 4; ++i) b.add(kPE + "point_embeddings." + std::to_string(i) + ".weight", {1, C});
    b.add(kPE + "not_a_point_embed.weight", {1, C});
    L.no_mask = b.add(kPE + "no_mask_embed.weight", {1, C});
    L.prompt_end = L.total;

    L.decoder_begin = L.total;
    L.iou_token = b.add(kMD + "iou_token.weight", {1, C});
    L.mask_tokens = b.add(kMD + "mask_tokens.weight", {L.T, C});
    for (int64_t i = 0; i < L.depth; ++i) {
        const std::string p = kMD + "transformer.layers." + std::to_string(i) + ".";
        BlockLayout bl{};
        bl.self_attn = b.attention(p + "self_attn", C, L.self_internal);
        bl.norm1 = b.norm(p + "norm1", C);
        bl.t2i = b.attention(p + "cross_attn_token_to_image", C, L.cross_internal);
        bl.norm2 = b.norm(p + "norm2", C);
        b.linear(p + "mlp.lin1", L.mlp, C, bl.lin1w, bl.lin1b);
        b.linear(p + "mlp.lin2", C, L.mlp, bl.lin2w, bl.lin2b);
        bl.norm3 = b.norm(p + "norm3", C);
        bl.norm4 = b.norm(p + "norm4", C);
        bl.i2t = b.attention(p + "cross_attn_image_to_token", C, L.cross_internal);
        L.blocks.push_back(bl);
    }
    L.final_attn = b.attention(kMD + "transformer.final_attn_token_to_image", C, L.cross_internal);
    L.norm_final = b.norm(kMD + "transformer.norm_final_attn", C);
    L.up0w = b.add(kMD + "output_upscaling.0.weight", {C, L.up1, 2, 2});
    L.up0b = b.add(kMD + "output_upscaling.0.bias", {L.up1});
    L.up1w = b.add(kMD + "output_upscaling.1.weight", {L.up1});
    L.up1b = b.add(kMD + "output_upscaling.1.bias", {L.up1});
    L.up3w = b.add(kMD + "output_upscaling.3.weight", {L.up1, L.up2, 2, 2});
    L.up3b = b.add(kMD + "output_upscaling.3.bias", {L.up2});
    for (int64_t t = 0; t < L.T; ++t)
        L.hyper.push_back(b.mlp(kMD + "output_hypernetworks_mlps." + std::to_string(t), C, L.up2));
    L.iou_head = b.mlp(kMD + "iou_prediction_head", C, L.T);
    L.decoder_end = L.total;

    L.pe_gauss = b.add(kPE + "pe_layer.positional_encoding_gaussian_matrix", {2, C / 2});
    const int64_t m4 = L.mask_in_chans / 4, m = L.mask_in_chans;
    L.md0w = b.add(kPE + "mask_downscaling.0.weight", {m4, 1, 2, 2});
    L.md0b = b.add(kPE + "mask_downscaling.0.bias", {m4});
    L.md1w = b.add(kPE + "mask_downscaling.1.weight", {m4});
    L.md1b = b.add(kPE + "mask_downscaling.1.bias", {m4});
    L.md3w = b.add(kPE + "mask_downscaling.3.weight", {m, m4, 2, 2});
    L.md3b = b.add(kPE + "mask_downscaling.3.bias", {m});
    L.md4w = b.add(kPE + "mask_downscaling.4.weight", {m});
    L.md4b = b.add(kPE + "mask_downscaling.4.bias", {m});
    L.md6w = b.add(kPE + "mask_downscaling.6.weight", {C, m, 1, 1});
    L.md6b = b.add(kPE + "mask_downscaling.6.bias", {C});
    b.finish();
    return L;
}

}  // namespace sa::decoder
