// SPDX-License-Identifier: Apache-2.0
// The TinyViT image encoder in MobileSAM's layout (MobileSAM tiny_vit_sam.py, BatchNorm folded into
// each Conv2d_BN), written against sa::Backend only. Per image:
//   patch_embed: conv3x3/2 -> GELU -> conv3x3/2                  (NCHW, Backend::tinyvit_patch_embed)
//   stage 0:     MBConv: x = GELU(x + conv1x1(GELU(dwconv3x3(GELU(conv1x1(x))))))  (Backend::tinyvit_mbconv)
//   merge:       conv1x1 -> GELU -> dwconv3x3 (stride 2, or 1 for the last merge) -> GELU -> conv1x1
//                on tokens                                            (Backend::tinyvit_merge)
//   stages 1..:  tokens x [H*W, C]:
//                x += proj(window_attention(qkv(LayerNorm(x))) + learned biases)   windows padded
//                x = dwconv3x3(x)                    (the local conv, Backend::depthwise3x3_nhwc)
//                x += fc2(GELU(fc1(LayerNorm(x))))                       (Backend::tinyvit_mlp)
//   neck:        conv1x1 (no bias) -> LayerNorm2d -> conv3x3 (no bias) -> LayerNorm2d
// TinyViT pads a window's grid with zeros before the attention's LayerNorm, so its padding tokens
// carry qkv = W_qkv * beta + b_qkv (LayerNorm of zeros is beta); that row is precomputed, and the
// LayerNorm and qkv projection run on the grid's own tokens only. LayerNorm eps: 1e-5 (nn.LayerNorm)
// in the blocks, 1e-6 in the neck's LayerNorm2d.
#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/device-buffers.h"
#include "model/tinyvit.h"
#include "sa/image-encoder.h"
#include "sa/status.h"

namespace sa {

namespace {

struct Conv {
    const float *w = nullptr, *b = nullptr;
};
struct Linear {
    const float *w = nullptr, *b = nullptr;  // w prepared by Backend::prepare_linear
};
struct Norm {
    const float *g = nullptr, *b = nullptr;
};
struct MBConv {
    Conv conv1, conv2, conv3;
};
struct Merge {
    Linear conv1;  // 1x1 convolutions as channels-last linear layers (prepared)
    Conv conv2;
    Linear conv3;
};
struct AttnBlock {
    Norm attn_norm, mlp_norm;
    Linear qkv, proj, fc1, fc2;
    Conv local_conv;
    const float * bias_table = nullptr;  // [heads, N, N], N = window^2
    const float * pad_qkv = nullptr;     // [3 * C]
};

constexpr float kBlockEps = 1e-5f;

// Weights of the attention blocks' linear layers (qkv, proj, fc1, fc2) and of the patch merging 1x1
// convolutions (run as linear layers on tokens), kept prepared.
bool is_linear_weight(const std::string & name) {
    for (const char * suffix : {".attn.qkv.weight", ".attn.proj.weight", ".mlp.fc1.weight", ".mlp.fc2.weight",
                                ".downsample.conv1.c.weight", ".downsample.conv3.c.weight"}) {
        const std::string s = suffix;
        if (name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) return true;
    }
    return false;
}
constexpr float kNeckEps = 1e-6f;

class TinyVitEncoder final : public ImageEncoder {
  public:
    TinyVitEncoder(Backend & be, WeightMap & w, const std::string & prefix) : be_(be), params_(be), ws_owned_(be) {
        cfg_ = infer_tinyvit_config(w, prefix);
        const TinyVitConfig & c = cfg_;
        // Look every weight up (shape-checked), then copy them into one device buffer, except the
        // linear layers' weights, which the backend keeps prepared (prepare_linear).
        std::map<std::string, const WeightView *> found, linear_weights;
        int64_t total = 0;
        for (const auto & [name, shape] : tinyvit_weight_shapes(c, prefix)) {
            const WeightView * v = w.get(name, shape);
            if (v && v->data) {
                found[name] = v;
                if (is_linear_weight(name)) {
                    linear_weights[name] = v;
                } else {
                    total += v->numel();
                }
            }
        }
        // Tolerated extras of MobileSAM state dicts: the classification head and the attention-bias
        // index buffers (recomputed here).
        for (const char * k : {"norm_head.weight", "norm_head.bias", "head.weight", "head.bias"})
            w.get_optional(prefix + k, {});
        for (int64_t s = 1; s < c.num_stages(); ++s) {
            for (int64_t j = 0; j < c.depths[(size_t) s]; ++j) {
                w.get_optional(prefix + "layers." + std::to_string(s) + ".blocks." + std::to_string(j) +
                                   ".attn.attention_bias_idxs",
                               {});
            }
        }
        w.check(prefix, "TinyViT image encoder");

        // Derived tensors: the expanded bias tables and the padding tokens' qkv rows.
        std::vector<std::vector<float>> derived;
        for (int64_t s = 1; s < c.num_stages(); ++s) {
            const int64_t C = c.dims[(size_t) s], nh = c.heads[(size_t) s], win = c.windows[(size_t) s], N = win * win;
            for (int64_t j = 0; j < c.depths[(size_t) s]; ++j) {
                const std::string p = prefix + "layers." + std::to_string(s) + ".blocks." + std::to_string(j) + ".";
                const float * ab = found.at(p + "attn.attention_biases")->data;
                std::vector<float> table((size_t) (nh * N * N));
                for (int64_t h = 0; h < nh; ++h)
                    for (int64_t q = 0; q < N; ++q)
                        for (int64_t k = 0; k < N; ++k) {
                            const int64_t dy = std::abs(q / win - k / win), dx = std::abs(q % win - k % win);
                            table[(size_t) ((h * N + q) * N + k)] = ab[h * N + dy * win + dx];
                        }
                derived.push_back(std::move(table));
                const float * wq = found.at(p + "attn.qkv.weight")->data;
                const float * bq = found.at(p + "attn.qkv.bias")->data;
                const float * beta = found.at(p + "attn.norm.bias")->data;
                std::vector<float> pad((size_t) (3 * C));
                for (int64_t o = 0; o < 3 * C; ++o) {
                    double acc = bq[o];
                    for (int64_t i = 0; i < C; ++i) acc += (double) wq[o * C + i] * (double) beta[i];
                    pad[(size_t) o] = (float) acc;
                }
                derived.push_back(std::move(pad));
            }
        }
        for (const auto & d : derived) total += (int64_t) d.size();

        float * base = params_.alloc(total);
        int64_t off = 0;
        std::map<std::string, const float *> dev;
        for (const auto & [name, v] : found) {
            if (linear_weights.count(name)) continue;
            be_.upload(base + off, v->data, (size_t) v->numel());
            dev[name] = base + off;
            off += v->numel();
        }
        {
            DeviceBuffers staging(be_);
            for (const auto & [name, v] : linear_weights) {
                dev[name] = params_.add_prepared_linear(staging, v->data, v->shape[0], v->shape[1]);
            }
            be_.synchronize();
        }
        auto P = [&](const std::string & k) { return dev.at(prefix + k); };
        auto conv = [&](const std::string & p) { return Conv{P(p + ".c.weight"), P(p + ".c.bias")}; };
        auto linear = [&](const std::string & p) { return Linear{P(p + ".weight"), P(p + ".bias")}; };
        auto norm = [&](const std::string & p) { return Norm{P(p + ".weight"), P(p + ".bias")}; };

        pe0_ = conv("patch_embed.seq.0");
        pe2_ = conv("patch_embed.seq.2");
        size_t next_derived = 0;
        stages_mb_.resize(1);
        attn_.resize((size_t) c.num_stages());
        for (int64_t s = 0; s < c.num_stages(); ++s) {
            for (int64_t j = 0; j < c.depths[(size_t) s]; ++j) {
                const std::string p = "layers." + std::to_string(s) + ".blocks." + std::to_string(j);
                if (s == 0) {
                    stages_mb_[0].push_back(MBConv{conv(p + ".conv1"), conv(p + ".conv2"), conv(p + ".conv3")});
                    continue;
                }
                AttnBlock b;
                b.attn_norm = norm(p + ".attn.norm");
                b.qkv = linear(p + ".attn.qkv");
                b.proj = linear(p + ".attn.proj");
                b.local_conv = conv(p + ".local_conv");
                b.mlp_norm = norm(p + ".mlp.norm");
                b.fc1 = linear(p + ".mlp.fc1");
                b.fc2 = linear(p + ".mlp.fc2");
                for (const float ** slot : {&b.bias_table, &b.pad_qkv}) {
                    const std::vector<float> & d = derived[next_derived++];
                    be_.upload(base + off, d.data(), d.size());
                    *slot = base + off;
                    off += (int64_t) d.size();
                }
                attn_[(size_t) s].push_back(b);
            }
            if (s + 1 < c.num_stages()) {
                const std::string p = "layers." + std::to_string(s) + ".downsample";
                merges_.push_back(Merge{linear(p + ".conv1.c"), conv(p + ".conv2"), linear(p + ".conv3.c")});
            }
        }
        neck0_ = P("neck.0.weight");
        neck1_ = norm("neck.1");
        neck2_ = P("neck.2.weight");
        neck3_ = norm("neck.3");
    }

    std::string arch() const override { return "tinyvit"; }
    int64_t img_size() const override { return cfg_.img_size; }
    int64_t embed_dim() const override { return cfg_.neck_dim; }
    int64_t embed_size() const override { return cfg_.embed_size(); }
    std::string describe() const override { return cfg_.describe(); }
    double flops_per_image() const override { return cfg_.flops_per_image(); }

    // Taps: "patch_embed" and "layers.<i>" (each stage's output after its PatchMerging), [B, H, W, C].
    void encode(const float * images, int64_t B, float * out, Taps * taps) override {
        SA_CHECK_ARG(B > 0, "TinyViT image encoder: batch size must be positive, got " + std::to_string(B));
        SA_CHECK_ARG(images && out, "TinyViT image encoder: null image or output buffer");
        ensure_workspace();
        const TinyVitConfig & c = cfg_;
        const int64_t S = c.img_size, E = c.embed_size(), O = c.neck_dim;
        for (int64_t b = 0; b < B; ++b) {
            be_.upload(ws_.image, images + b * c.in_chans * S * S, (size_t) (c.in_chans * S * S));
            const float * emb = encode_one(b, B, taps);
            be_.synchronize();
            be_.download(out + b * O * E * E, emb, (size_t) (O * E * E));
        }
    }

  private:
    struct Workspace {
        float *image = nullptr, *x = nullptr, *y = nullptr, *z = nullptr;
    };

    // Largest activation of the forward pass (floats), for the three rotating buffers.
    int64_t max_activation() const {
        const TinyVitConfig & c = cfg_;
        const int64_t g1 = (c.img_size + 1) / 2;
        int64_t m = g1 * g1 * (c.dims[0] / 2);
        for (int64_t s = 0; s < c.num_stages(); ++s) {
            const int64_t G = c.grid(s), T = G * G;
            m = std::max(m, T * std::max(c.hidden[(size_t) s], 3 * c.dims[(size_t) s]));
            if (s + 1 < c.num_stages()) m = std::max(m, T * c.dims[(size_t) s + 1]);
        }
        const int64_t E = c.embed_size();
        return std::max(m, E * E * c.neck_dim);
    }

    void ensure_workspace() {
        if (ws_.image) return;
        ws_.image = ws_owned_.alloc(cfg_.in_chans * cfg_.img_size * cfg_.img_size);
        const int64_t n = max_activation();
        ws_.x = ws_owned_.alloc(n);
        ws_.y = ws_owned_.alloc(n);
        ws_.z = ws_owned_.alloc(n);
    }

    // Downloads an activation as [1, G, G, C] into taps (from NCHW when channels_first).
    void tap(Taps & taps, const std::string & name, int64_t b, int64_t B, const float * src, int64_t C, int64_t G,
             bool channels_first) {
        const int64_t n = C * G * G;
        std::vector<float> host((size_t) n);
        be_.synchronize();
        be_.download(host.data(), src, (size_t) n);
        std::vector<float> & v = taps[name];
        v.resize((size_t) (B * n));
        float * dst = v.data() + b * n;
        if (!channels_first) {
            std::copy(host.begin(), host.end(), dst);
            return;
        }
        for (int64_t ch = 0; ch < C; ++ch)
            for (int64_t p = 0; p < G * G; ++p) dst[p * C + ch] = host[(size_t) (ch * G * G + p)];
    }

    // One image from ws_.image; returns the device pointer of its embedding [O, E, E].
    const float * encode_one(int64_t b, int64_t B, Taps * taps) {
        const TinyVitConfig & c = cfg_;
        float *x = ws_.x, *y = ws_.y, *z = ws_.z;
        const int64_t e0 = c.dims[0];
        int64_t G = c.img_size;
        be_.tinyvit_patch_embed({ws_.image, pe0_.w, pe0_.b, pe2_.w, pe2_.b, x, 1, c.in_chans, G, G, e0 / 2, e0});
        G = c.grid(0);
        if (taps) tap(*taps, "patch_embed", b, B, x, e0, G, true);

        // Stage 0: MBConv blocks, NCHW.
        for (const MBConv & m : stages_mb_[0]) {
            be_.tinyvit_mbconv(
                {x, m.conv1.w, m.conv1.b, m.conv2.w, m.conv2.b, m.conv3.w, m.conv3.b, y, 1, e0, G, G, c.hidden[0]});
            std::swap(x, y);
        }
        bool channels_first = true;  // layout of x
        for (int64_t s = 0; s < c.num_stages(); ++s) {
            const int64_t C = c.dims[(size_t) s];
            if (s > 0) {
                for (const AttnBlock & blk : attn_[(size_t) s]) attention_block(blk, s, G, x, y, z);
            }
            if (s + 1 < c.num_stages()) {
                // PatchMerging on tokens (stage 0's NCHW output transposed first); tokens [H*W, C'] in x.
                const Merge & m = merges_[(size_t) s];
                const int64_t O = c.dims[(size_t) s + 1], stride = c.merge_strides[(size_t) s];
                const float * in = x;
                if (channels_first) {
                    be_.transpose_last2(x, y, 1, C, G * G);
                    in = y;
                }
                float * out = in == y ? x : y;
                be_.tinyvit_merge(
                    {in, m.conv1.w, m.conv1.b, m.conv2.w, m.conv2.b, m.conv3.w, m.conv3.b, out, 1, G, G, C, O, stride});
                if (out != x) std::swap(x, y);
                channels_first = false;
                G = (G - 1) / stride + 1;
            }
            if (taps) {
                const int64_t Cout = c.dims[(size_t) std::min(s + 1, c.num_stages() - 1)];
                tap(*taps, "layers." + std::to_string(s), b, B, x, Cout, G, channels_first);
            }
        }

        // Neck (NCHW).
        const int64_t Cl = c.dims.back(), O = c.neck_dim, T = G * G;
        if (!channels_first) {
            be_.transpose_last2(x, y, 1, T, Cl);
        } else {
            be_.copy(y, x, (size_t) (Cl * T));
        }
        be_.conv2d({y, neck0_, nullptr, z, 1, Cl, G, G, O, 1, 1, 1, 0, 1});
        be_.layernorm2d({z, neck1_.g, neck1_.b, y, nullptr, nullptr, 1, O, T, kNeckEps});
        be_.conv2d({y, neck2_, nullptr, z, 1, O, G, G, O, 3, 3, 1, 1, 1});
        be_.layernorm2d({z, neck3_.g, neck3_.b, y, nullptr, nullptr, 1, O, T, kNeckEps});
        return y;
    }

    // One TinyViT block on tokens x [G*G, C]; y, z are scratch. The result ends up in x (x and y are
    // swapped once).
    void attention_block(const AttnBlock & blk, int64_t s, int64_t G, float *& x, float *& y, float * z) {
        const TinyVitConfig & c = cfg_;
        const int64_t C = c.dims[(size_t) s], Hd = c.hidden[(size_t) s], T = G * G;
        const int64_t nh = c.heads[(size_t) s], hd = C / nh;
        be_.layernorm({x, blk.attn_norm.g, blk.attn_norm.b, y, nullptr, nullptr, T, C, kBlockEps});
        be_.linear_prepared(y, blk.qkv.w, blk.qkv.b, z, T, C, 3 * C);
        be_.attention_tinyvit({z, blk.pad_qkv, blk.bias_table, y, 1, G, G, c.windows[(size_t) s], nh, hd, hd});
        be_.linear_prepared(y, blk.proj.w, blk.proj.b, z, T, C, C);
        be_.add(x, z, x, T * C);
        // Local depthwise conv (no residual), on the tokens.
        be_.depthwise3x3_nhwc({x, blk.local_conv.w, blk.local_conv.b, y, 1, G, G, C});
        std::swap(x, y);
        // MLP (pre-norm, residual).
        be_.tinyvit_mlp(
            {x, blk.mlp_norm.g, blk.mlp_norm.b, kBlockEps, blk.fc1.w, blk.fc1.b, blk.fc2.w, blk.fc2.b, T, C, Hd});
    }

    Backend & be_;
    TinyVitConfig cfg_;
    DeviceBuffers params_;
    Conv pe0_, pe2_;
    std::vector<std::vector<MBConv>> stages_mb_;
    std::vector<std::vector<AttnBlock>> attn_;
    std::vector<Merge> merges_;
    const float *neck0_ = nullptr, *neck2_ = nullptr;
    Norm neck1_, neck3_;
    Workspace ws_;
    DeviceBuffers ws_owned_;
};

}  // namespace

std::unique_ptr<ImageEncoder> make_tinyvit_encoder(Backend & be, WeightMap & w, const std::string & prefix) {
    return std::make_unique<TinyVitEncoder>(be, w, prefix);
}

}  // namespace sa
