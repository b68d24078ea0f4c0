// SPDX-License-Identifier: Apache-2.0
// The SAM ViT image encoder (segment-anything modeling/image_encoder.py, ImageEncoderViT), written
// against sa::Backend only:
//   patch_embed: conv PxP stride P -> [B, G, G, E]; + pos_embed
//   blocks:      x += proj(attn(norm1(x)))  (windowed blocks: zero-padded window partition around attn)
//                x += lin2(gelu(lin1(norm2(x))))
//   neck:        conv1x1 (no bias) -> LayerNorm2d -> conv3x3 pad 1 (no bias) -> LayerNorm2d
// LayerNorm eps is 1e-6 everywhere, as in SAM.
#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/device-buffers.h"
#include "model/vit-config.h"
#include "sa/image-encoder.h"
#include "sa/status.h"

namespace sa {

// ---- configuration -----------------------------------------------------------------------------

bool VitConfig::is_global(int64_t block) const {
    return std::find(global_blocks.begin(), global_blocks.end(), block) != global_blocks.end();
}

std::string VitConfig::preset() const {
    struct Preset {
        const char * name;
        int64_t dim, depth, heads;
        std::vector<int64_t> global;
    };
    static const Preset presets[] = {{"vit_b", 768, 12, 12, {2, 5, 8, 11}},
                                     {"vit_l", 1024, 24, 16, {5, 11, 17, 23}},
                                     {"vit_h", 1280, 32, 16, {7, 15, 23, 31}}};
    for (const auto & p : presets) {
        if (embed_dim == p.dim && depth == p.depth && num_heads == p.heads && global_blocks == p.global &&
            window == 14 && mlp_dim == 4 * p.dim && patch == 16 && out_chans == 256)
            return p.name;
    }
    return "custom";
}

std::string VitConfig::describe() const {
    std::string g;
    for (size_t i = 0; i < global_blocks.size(); ++i) g += (i ? "," : "") + std::to_string(global_blocks[i]);
    char buf[400];
    std::snprintf(buf, sizeof buf,
                  "SAM ViT (%s): img %lld, patch %lld, embed %lld, depth %lld, heads %lld (head dim %lld), mlp %lld, "
                  "window %lld, global blocks [%s], neck %lld",
                  preset().c_str(), (long long) img_size, (long long) patch, (long long) embed_dim, (long long) depth,
                  (long long) num_heads, (long long) head_dim, (long long) mlp_dim, (long long) window, g.c_str(),
                  (long long) out_chans);
    return buf;
}

double VitConfig::flops_per_image() const {
    const double E = (double) embed_dim, T = (double) (grid * grid);
    double macs = T * E * (double) (in_chans * patch * patch);  // patch embedding
    for (int64_t i = 0; i < depth; ++i) {
        double seqs = 1, side = (double) grid;
        if (!is_global(i)) {
            const double nw = (double) ((grid + window - 1) / window);
            seqs = nw * nw;
            side = (double) window;
        }
        const double L = side * side, tokens = seqs * L;
        macs += tokens * E * 3 * E + tokens * E * E;                           // qkv, proj
        macs += seqs * (double) num_heads * 2 * L * L * (double) head_dim;     // q k^T, p v
        macs += seqs * (double) num_heads * L * 2 * side * (double) head_dim;  // rel-pos terms
        macs += 2 * T * E * (double) mlp_dim;                                  // MLP
    }
    macs += T * E * (double) out_chans + T * (double) out_chans * (double) out_chans * 9;  // neck
    return 2 * macs;
}

namespace {

const WeightView * find(const WeightMap & w, const std::string & name) {
    auto it = w.all().find(name);
    return it == w.all().end() ? nullptr : &it->second;
}

// First present weight among `names` whose rank is `rank`.
const WeightView * find_any(const WeightMap & w, const std::vector<std::string> & names, size_t rank) {
    for (const auto & n : names) {
        const WeightView * v = find(w, n);
        if (v && v->shape.size() == rank) return v;
    }
    return nullptr;
}

[[noreturn]] void cannot_infer(const std::string & what, const std::vector<std::string> & keys) {
    std::string k;
    for (size_t i = 0; i < keys.size(); ++i) k += (i ? ", " : "") + keys[i];
    fail(SA_ERR_WEIGHTS, "image encoder: cannot infer the " + what + ": missing keys: " + k);
}

}  // namespace

VitConfig infer_vit_config(const WeightMap & w, const std::string & prefix) {
    VitConfig c;
    const std::string pe = prefix + "patch_embed.proj.weight", pos = prefix + "pos_embed";
    const std::string bp = prefix + "blocks.";

    // depth: blocks.<i>. must be numbered 0..depth-1
    std::vector<bool> seen;
    for (const auto & kv : w.all()) {
        const std::string & k = kv.first;
        if (k.compare(0, bp.size(), bp) != 0) continue;
        size_t j = bp.size();
        int64_t idx = 0;
        bool digits = false;
        while (j < k.size() && k[j] >= '0' && k[j] <= '9' && idx < 100000) {
            idx = idx * 10 + (k[j] - '0');
            ++j;
            digits = true;
        }
        if (!digits || j >= k.size() || k[j] != '.') continue;
        if ((size_t) idx >= seen.size()) seen.resize((size_t) idx + 1, false);
        seen[(size_t) idx] = true;
    }
    c.depth = (int64_t) seen.size();
    if (c.depth == 0) cannot_infer("depth (no blocks)", {bp + "0.*"});

    // embed dim, patch size, input channels
    if (const WeightView * v = find(w, pe); v && v->shape.size() == 4) {
        c.embed_dim = v->shape[0];
        c.in_chans = v->shape[1];
        c.patch = v->shape[2];
        SA_CHECK(v->shape[2] == v->shape[3], SA_ERR_SHAPE,
                 "image encoder: " + pe + " must have a square kernel, got " + shape_str(v->shape));
    } else {
        if (const WeightView * p = find(w, pos); p && p->shape.size() == 4) c.embed_dim = p->shape[3];
        c.in_chans = 3;
        c.patch = 16;
        if (c.embed_dim == 0) cannot_infer("embedding dim", {pe, pos});
    }
    // token grid from the absolute position embedding [1, G, G, E]
    if (const WeightView * v = find(w, pos); v && v->shape.size() == 4) {
        SA_CHECK(v->shape[0] == 1 && v->shape[1] == v->shape[2] && v->shape[3] == c.embed_dim, SA_ERR_SHAPE,
                 "image encoder: " + pos + " must be [1, G, G, " + std::to_string(c.embed_dim) + "], got " +
                     shape_str(v->shape));
        c.grid = v->shape[1];
    } else {
        cannot_infer("token grid (the absolute position embedding)", {pos});
    }
    SA_CHECK(c.patch > 0 && c.grid > 0, SA_ERR_SHAPE, "image encoder: empty patch embedding or position grid");
    c.img_size = c.grid * c.patch;

    // head dim from the relative-position tables [L, head_dim]
    const WeightView * rel0 = find_any(w, {bp + "0.attn.rel_pos_h", bp + "0.attn.rel_pos_w"}, 2);
    if (!rel0) cannot_infer("number of heads (relative-position tables)", {bp + "0.attn.rel_pos_h"});
    c.head_dim = rel0->shape[1];
    SA_CHECK(c.head_dim > 0 && c.embed_dim % c.head_dim == 0, SA_ERR_SHAPE,
             "image encoder: relative-position head dim " + std::to_string(c.head_dim) +
                 " does not divide the embedding dim " + std::to_string(c.embed_dim));
    c.num_heads = c.embed_dim / c.head_dim;

    // global blocks and the window size
    const int64_t global_len = 2 * c.grid - 1;
    for (int64_t i = 0; i < c.depth; ++i) {
        const std::string b = bp + std::to_string(i) + ".attn.";
        const WeightView * r = find_any(w, {b + "rel_pos_h", b + "rel_pos_w"}, 2);
        if (!r) continue;  // reported as missing by the weight lookup
        const int64_t L = r->shape[0];
        if (L == global_len) {
            c.global_blocks.push_back(i);
            continue;
        }
        SA_CHECK(L > 0 && L % 2 == 1, SA_ERR_SHAPE,
                 "image encoder: " + b + "rel_pos_h has length " + std::to_string(L) +
                     ", expected 2*window-1 or 2*grid-1 = " + std::to_string(global_len));
        const int64_t win = (L + 1) / 2;
        SA_CHECK(c.window == 0 || c.window == win, SA_ERR_SHAPE,
                 "image encoder: windowed blocks disagree on the window size (" + std::to_string(c.window) + " vs " +
                     std::to_string(win) + " in block " + std::to_string(i) + ")");
        c.window = win;
    }

    // MLP width [mlp, E] from lin1 (or lin2 [E, mlp])
    if (const WeightView * v = find(w, bp + "0.mlp.lin1.weight"); v && v->shape.size() == 2) {
        c.mlp_dim = v->shape[0];
    } else if (const WeightView * v2 = find(w, bp + "0.mlp.lin2.weight"); v2 && v2->shape.size() == 2) {
        c.mlp_dim = v2->shape[1];
    } else {
        cannot_infer("MLP width", {bp + "0.mlp.lin1.weight"});
    }
    // neck output channels
    if (const WeightView * v = find(w, prefix + "neck.0.weight"); v && !v->shape.empty()) {
        c.out_chans = v->shape[0];
    } else if (const WeightView * v2 = find(w, prefix + "neck.1.weight"); v2 && v2->shape.size() == 1) {
        c.out_chans = v2->shape[0];
    } else {
        cannot_infer("neck width", {prefix + "neck.0.weight"});
    }
    c.qkv_bias = find(w, bp + "0.attn.qkv.bias") != nullptr;
    return c;
}

// ---- the encoder -----------------------------------------------------------------------------

namespace {

// qkv_w, proj_w, lin1_w and lin2_w are prepared by Backend::prepare_linear.
struct BlockWeights {
    const float *norm1_w, *norm1_b, *qkv_w, *qkv_b, *proj_w, *proj_b, *rel_h, *rel_w;
    const float *norm2_w, *norm2_b, *lin1_w, *lin1_b, *lin2_w, *lin2_b;
    int64_t rel_len_h = 0, rel_len_w = 0;
    bool global = false;
};

class VitEncoder final : public ImageEncoder {
  public:
    VitEncoder(Backend & be, WeightMap & w, const std::string & prefix) : be_(be), weights_(be), ws_owned_(be) {
        cfg_ = infer_vit_config(w, prefix);
        const VitConfig & c = cfg_;
        const int64_t E = c.embed_dim;
        patch_w_ = load(w, prefix + "patch_embed.proj.weight", {E, c.in_chans, c.patch, c.patch});
        patch_b_ = load(w, prefix + "patch_embed.proj.bias", {E});
        pos_ = load(w, prefix + "pos_embed", {1, c.grid, c.grid, E});
        blocks_.resize((size_t) c.depth);
        for (int64_t i = 0; i < c.depth; ++i) {
            const std::string b = prefix + "blocks." + std::to_string(i) + ".";
            BlockWeights & bw = blocks_[(size_t) i];
            bw.global = c.is_global(i);
            const int64_t side = bw.global ? c.grid : c.window;
            bw.rel_len_h = bw.rel_len_w = 2 * side - 1;
            bw.norm1_w = load(w, b + "norm1.weight", {E});
            bw.norm1_b = load(w, b + "norm1.bias", {E});
            bw.qkv_w = load_linear(w, b + "attn.qkv.weight", 3 * E, E);
            bw.qkv_b = c.qkv_bias ? load(w, b + "attn.qkv.bias", {3 * E}) : nullptr;
            bw.proj_w = load_linear(w, b + "attn.proj.weight", E, E);
            bw.proj_b = load(w, b + "attn.proj.bias", {E});
            bw.rel_h = load(w, b + "attn.rel_pos_h", {bw.rel_len_h, c.head_dim});
            bw.rel_w = load(w, b + "attn.rel_pos_w", {bw.rel_len_w, c.head_dim});
            bw.norm2_w = load(w, b + "norm2.weight", {E});
            bw.norm2_b = load(w, b + "norm2.bias", {E});
            bw.lin1_w = load_linear(w, b + "mlp.lin1.weight", c.mlp_dim, E);
            bw.lin1_b = load(w, b + "mlp.lin1.bias", {c.mlp_dim});
            bw.lin2_w = load_linear(w, b + "mlp.lin2.weight", E, c.mlp_dim);
            bw.lin2_b = load(w, b + "mlp.lin2.bias", {E});
        }
        const int64_t O = c.out_chans;
        neck0_w_ = load(w, prefix + "neck.0.weight", {O, E, 1, 1});
        neck1_w_ = load(w, prefix + "neck.1.weight", {O});
        neck1_b_ = load(w, prefix + "neck.1.bias", {O});
        neck2_w_ = load(w, prefix + "neck.2.weight", {O, O, 3, 3});
        neck3_w_ = load(w, prefix + "neck.3.weight", {O});
        neck3_b_ = load(w, prefix + "neck.3.bias", {O});
        w.check(prefix, "image encoder");
    }

    std::string arch() const override { return "vit"; }
    int64_t img_size() const override { return cfg_.img_size; }
    int64_t embed_dim() const override { return cfg_.out_chans; }
    int64_t embed_size() const override { return cfg_.grid; }
    std::string describe() const override { return cfg_.describe(); }
    double flops_per_image() const override { return cfg_.flops_per_image(); }

    void encode(const float * images, int64_t B, float * out, Taps * taps) override {
        SA_CHECK_ARG(B > 0, "image encoder: batch size must be positive, got " + std::to_string(B));
        SA_CHECK_ARG(images && out, "image encoder: null image or output buffer");
        ensure_workspace(B);
        const VitConfig & c = cfg_;
        const int64_t E = c.embed_dim, G = c.grid, T = G * G, S = c.img_size, O = c.out_chans;
        const int64_t rows = B * T;

        be_.upload(ws_.image, images, (size_t) (B * c.in_chans * S * S));
        // patch embedding: [B, E, G, G] -> tokens [B, T, E], then + pos_embed
        be_.conv2d({ws_.image, patch_w_, patch_b_, ws_.mlp, B, c.in_chans, S, S, E, c.patch, c.patch, c.patch, 0, 1});
        be_.transpose_last2(ws_.mlp, ws_.x, B, E, T);
        if (taps) tap(*taps, "patch_embed", ws_.x, rows * E);
        be_.add_bias(ws_.x, pos_, ws_.x, B, T * E);

        for (int64_t i = 0; i < c.depth; ++i) {
            run_block(blocks_[(size_t) i], B);
            if (taps) tap(*taps, "block" + std::to_string(i), ws_.x, rows * E);
        }

        // neck, channels-first
        be_.transpose_last2(ws_.x, ws_.mlp, B, T, E);
        be_.conv2d({ws_.mlp, neck0_w_, nullptr, ws_.neck_a, B, E, G, G, O, 1, 1, 1, 0, 1});
        be_.layernorm2d({ws_.neck_a, neck1_w_, neck1_b_, ws_.neck_b, nullptr, nullptr, B, O, T, kEps});
        be_.conv2d({ws_.neck_b, neck2_w_, nullptr, ws_.neck_a, B, O, G, G, O, 3, 3, 1, 1, 1});
        be_.layernorm2d({ws_.neck_a, neck3_w_, neck3_b_, ws_.neck_b, nullptr, nullptr, B, O, T, kEps});
        be_.synchronize();
        be_.download(out, ws_.neck_b, (size_t) (B * O * T));
        if (taps) (*taps)["image_embedding"].assign(out, out + B * O * T);
    }

  private:
    static constexpr float kEps = 1e-6f;

    struct Workspace {
        int64_t batch = 0;
        float *image = nullptr, *x = nullptr, *h = nullptr, *win = nullptr, *qkv = nullptr, *attn = nullptr,
              *proj = nullptr, *mlp = nullptr, *neck_a = nullptr, *neck_b = nullptr;
    };

    const float * load(WeightMap & w, const std::string & name, const std::vector<int64_t> & shape) {
        const WeightView * v = w.get(name, shape);
        if (!v || !v->data) return nullptr;  // reported by w.check()
        float * d = weights_.alloc(v->numel());
        be_.upload(d, v->data, (size_t) v->numel());
        return d;
    }

    // A linear layer's weight W [N, K], stored prepared for the backend's linear_prepared.
    const float * load_linear(WeightMap & w, const std::string & name, int64_t N, int64_t K) {
        const WeightView * v = w.get(name, {N, K});
        if (!v || !v->data) return nullptr;  // reported by w.check()
        DeviceBuffers staging(be_);
        float * d = weights_.add_prepared_linear(staging, v->data, N, K);
        be_.synchronize();
        return d;
    }

    // Tokens of the windowed layout: B * nW * win * win (padded) vs B * G * G.
    int64_t window_tokens(int64_t B) const {
        if (cfg_.window == 0) return 0;
        const int64_t nw = (cfg_.grid + cfg_.window - 1) / cfg_.window;
        return B * nw * nw * cfg_.window * cfg_.window;
    }

    void ensure_workspace(int64_t B) {
        if (ws_.batch == B) return;
        release_workspace();
        const VitConfig & c = cfg_;
        const int64_t E = c.embed_dim, T = c.grid * c.grid, O = c.out_chans;
        const int64_t rows = B * T, attn_rows = std::max(rows, window_tokens(B));
        auto get = [&](int64_t n) { return ws_owned_.alloc(n); };
        ws_.image = get(B * c.in_chans * c.img_size * c.img_size);
        ws_.x = get(rows * E);
        ws_.h = get(rows * E);
        ws_.win = window_tokens(B) > 0 ? get(window_tokens(B) * E) : nullptr;
        ws_.qkv = get(attn_rows * 3 * E);
        ws_.attn = get(attn_rows * E);
        ws_.proj = get(attn_rows * E);
        ws_.mlp = get(rows * std::max(c.mlp_dim, E));
        ws_.neck_a = get(rows * O);
        ws_.neck_b = get(rows * O);
        ws_.batch = B;
    }

    void release_workspace() {
        ws_owned_.release();
        ws_ = Workspace{};
    }

    void run_block(const BlockWeights & bw, int64_t B) {
        const VitConfig & c = cfg_;
        const int64_t E = c.embed_dim, G = c.grid, rows = B * G * G;
        be_.layernorm({ws_.x, bw.norm1_w, bw.norm1_b, ws_.h, nullptr, nullptr, rows, E, kEps});
        const float * attn_in = ws_.h;
        int64_t seqs = B, side = G, attn_rows = rows;
        if (!bw.global) {
            be_.window_partition({ws_.h, ws_.win, B, G, G, E, c.window});
            const int64_t nw = (G + c.window - 1) / c.window;
            attn_in = ws_.win;
            seqs = B * nw * nw;
            side = c.window;
            attn_rows = window_tokens(B);
        }
        be_.linear_prepared(attn_in, bw.qkv_w, bw.qkv_b, ws_.qkv, attn_rows, E, 3 * E);
        be_.attention_vit({ws_.qkv, ws_.attn, seqs, side, side, c.num_heads, c.head_dim, bw.rel_h, bw.rel_len_h,
                           bw.rel_w, bw.rel_len_w});
        be_.linear_prepared(ws_.attn, bw.proj_w, bw.proj_b, ws_.proj, attn_rows, E, E);
        if (!bw.global) {
            be_.window_unpartition({ws_.proj, ws_.h, B, G, G, E, c.window});
            be_.add(ws_.x, ws_.h, ws_.x, rows * E);
        } else {
            be_.add(ws_.x, ws_.proj, ws_.x, rows * E);
        }
        be_.layernorm({ws_.x, bw.norm2_w, bw.norm2_b, ws_.h, nullptr, nullptr, rows, E, kEps});
        be_.linear_prepared(ws_.h, bw.lin1_w, bw.lin1_b, ws_.mlp, rows, E, c.mlp_dim);
        be_.gelu(ws_.mlp, ws_.mlp, rows * c.mlp_dim);
        be_.linear_prepared(ws_.mlp, bw.lin2_w, bw.lin2_b, ws_.h, rows, c.mlp_dim, E);
        be_.add(ws_.x, ws_.h, ws_.x, rows * E);
    }

    void tap(Taps & taps, const std::string & name, const float * src, int64_t n) {
        std::vector<float> & v = taps[name];
        v.resize((size_t) n);
        be_.synchronize();
        be_.download(v.data(), src, (size_t) n);
    }

    Backend & be_;
    VitConfig cfg_;
    DeviceBuffers weights_;
    const float *patch_w_ = nullptr, *patch_b_ = nullptr, *pos_ = nullptr;
    const float *neck0_w_ = nullptr, *neck1_w_ = nullptr, *neck1_b_ = nullptr, *neck2_w_ = nullptr, *neck3_w_ = nullptr,
                *neck3_b_ = nullptr;
    std::vector<BlockWeights> blocks_;
    Workspace ws_;
    DeviceBuffers ws_owned_;
};

}  // namespace

std::unique_ptr<ImageEncoder> make_vit_encoder(Backend & be, WeightMap & w, const std::string & prefix) {
    return std::make_unique<VitEncoder>(be, w, prefix);
}

}  // namespace sa
