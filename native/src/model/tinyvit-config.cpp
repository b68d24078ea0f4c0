// SPDX-License-Identifier: Apache-2.0
// TinyViT (MobileSAM layout) configuration: inference from weight shapes, the weight list, FLOPs.
#include <cmath>
#include <cstdio>
#include <string>

#include "model/tinyvit.h"
#include "sa/status.h"

namespace sa {

int64_t TinyVitConfig::grid(int64_t stage) const {
    // The patch embedding's two 3x3 stride-2 convs with padding 1 give ceil(n / 2) each, as does a
    // stride-2 PatchMerging.
    int64_t g = (img_size + 1) / 2;
    g = (g + 1) / 2;
    for (int64_t i = 0; i < stage && i < (int64_t) merge_strides.size(); ++i) {
        if (merge_strides[(size_t) i] == 2) g = (g + 1) / 2;
    }
    return g;
}

std::string TinyVitConfig::describe() const {
    auto join = [](const std::vector<int64_t> & v, size_t from) {
        std::string s;
        for (size_t i = from; i < v.size(); ++i) s += (i > from ? "/" : "") + std::to_string(v[i]);
        return s;
    };
    char buf[400];
    std::snprintf(buf, sizeof buf,
                  "TinyViT (MobileSAM layout): img %lld, dims %s, depths %s, heads %s, windows %s, "
                  "merge strides %s, neck %lld, embedding %lldx%lld",
                  (long long) img_size, join(dims, 0).c_str(), join(depths, 0).c_str(), join(heads, 1).c_str(),
                  join(windows, 1).c_str(), join(merge_strides, 0).c_str(), (long long) neck_dim,
                  (long long) embed_size(), (long long) embed_size());
    return buf;
}

double TinyVitConfig::flops_per_image() const {
    const double e0 = (double) dims[0];
    const double g1 = (double) ((img_size + 1) / 2), g2 = (double) grid(0);
    double macs = g1 * g1 * (e0 / 2) * (double) in_chans * 9 + g2 * g2 * e0 * (e0 / 2) * 9;
    for (int64_t s = 0; s < num_stages(); ++s) {
        const double G = (double) grid(s), T = G * G, C = (double) dims[(size_t) s], Hd = (double) hidden[(size_t) s];
        for (int64_t j = 0; j < depths[(size_t) s]; ++j) {
            if (s == 0) {
                macs += T * (2 * Hd * C + 9 * Hd);  // 1x1 expand, 3x3 depthwise, 1x1 project
            } else {
                const double N = (double) (windows[(size_t) s] * windows[(size_t) s]);
                macs += T * C * 3 * C + T * N * 2 * C + T * C * C;  // qkv, q k^T and p v (real queries), proj
                macs += T * C * 9 + 2 * T * C * Hd;                 // local conv, MLP
            }
        }
        if (s + 1 < num_stages()) {
            const double O = (double) dims[(size_t) s + 1], G2 = (double) grid(s + 1);
            macs += T * C * O + G2 * G2 * (O * 9 + O * O);
        }
    }
    const double E = (double) embed_size();
    macs += E * E * ((double) dims.back() * (double) neck_dim + (double) neck_dim * (double) neck_dim * 9);
    return 2 * macs;
}

TinyVitConfig mobile_sam_tinyvit_config() {
    TinyVitConfig c;
    c.dims = {64, 128, 160, 320};
    c.depths = {2, 2, 6, 2};
    c.heads = {0, 4, 5, 10};
    c.windows = {0, 7, 14, 7};
    c.hidden = {256, 512, 640, 1280};
    c.merge_strides = {2, 2, 1};
    return c;
}

namespace {

const WeightView * find(const WeightMap & w, const std::string & name) {
    auto it = w.all().find(name);
    return it == w.all().end() ? nullptr : &it->second;
}

const WeightView & need(const WeightMap & w, const std::string & name, size_t rank) {
    const WeightView * v = find(w, name);
    if (!v) fail(SA_ERR_WEIGHTS, "TinyViT image encoder: cannot infer the configuration: missing key " + name);
    SA_CHECK(
        v->shape.size() == rank, SA_ERR_SHAPE,
        "TinyViT image encoder: " + name + " must have rank " + std::to_string(rank) + ", got " + shape_str(v->shape));
    return *v;
}

int64_t count_blocks(const WeightMap & w, const std::string & stage, const std::string & key) {
    int64_t n = 0;
    while (find(w, stage + "blocks." + std::to_string(n) + "." + key)) ++n;
    return n;
}

}  // namespace

TinyVitConfig infer_tinyvit_config(const WeightMap & w, const std::string & prefix) {
    if (find(w, prefix + "patch_embed.seq.0.bn.weight") || find(w, prefix + "patch_embed.seq.0.bn.running_var")) {
        fail(SA_ERR_WEIGHTS, "TinyViT image encoder: the BatchNorms are not folded into the convolutions (" + prefix +
                                 "patch_embed.seq.0.bn.*); fold them first (MobileSAM checkpoints are folded when "
                                 "loaded)");
    }
    TinyVitConfig c;
    const WeightView & pe0 = need(w, prefix + "patch_embed.seq.0.c.weight", 4);
    const WeightView & pe2 = need(w, prefix + "patch_embed.seq.2.c.weight", 4);
    c.in_chans = pe0.shape[1];
    int64_t dim = pe2.shape[0];
    int64_t stride = 4;
    for (int64_t s = 0;; ++s) {
        const std::string sp = prefix + "layers." + std::to_string(s) + ".";
        c.dims.push_back(dim);
        if (s == 0) {
            const int64_t depth = count_blocks(w, sp, "conv1.c.weight");
            SA_CHECK(depth > 0, SA_ERR_WEIGHTS,
                     "TinyViT image encoder: no MBConv blocks in stage 0 (" + sp + "blocks.0.conv1.c.weight)");
            c.depths.push_back(depth);
            c.heads.push_back(0);
            c.windows.push_back(0);
            c.hidden.push_back(need(w, sp + "blocks.0.conv1.c.weight", 4).shape[0]);
        } else {
            const int64_t depth = count_blocks(w, sp, "attn.qkv.weight");
            SA_CHECK(depth > 0, SA_ERR_WEIGHTS,
                     "TinyViT image encoder: no attention blocks in stage " + std::to_string(s) + " (" + sp +
                         "blocks.0.attn.qkv.weight)");
            const WeightView & ab = need(w, sp + "blocks.0.attn.attention_biases", 2);
            const int64_t win = (int64_t) std::llround(std::sqrt((double) ab.shape[1]));
            SA_CHECK(win > 0 && win * win == ab.shape[1] && ab.shape[0] > 0 && dim % ab.shape[0] == 0, SA_ERR_SHAPE,
                     "TinyViT image encoder: " + sp +
                         "blocks.0.attn.attention_biases must be [heads, window^2] with "
                         "heads dividing " +
                         std::to_string(dim) + ", got " + shape_str(ab.shape));
            c.depths.push_back(depth);
            c.heads.push_back(ab.shape[0]);
            c.windows.push_back(win);
            c.hidden.push_back(need(w, sp + "blocks.0.mlp.fc1.weight", 2).shape[0]);
        }
        const WeightView * down = find(w, sp + "downsample.conv1.c.weight");
        if (!down) break;
        SA_CHECK(down->shape.size() == 4, SA_ERR_SHAPE,
                 "TinyViT image encoder: " + sp + "downsample.conv1.c.weight must have rank 4, got " +
                     shape_str(down->shape));
        const int64_t ms = stride < 16 ? 2 : 1;
        c.merge_strides.push_back(ms);
        stride *= ms;
        dim = down->shape[0];
    }
    SA_CHECK(stride == 16, SA_ERR_SHAPE,
             "TinyViT image encoder: the stages downsample the image by " + std::to_string(stride) +
                 ", SAM's decoder needs 16 (" + std::to_string(c.num_stages()) + " stages found)");
    c.neck_dim = need(w, prefix + "neck.0.weight", 4).shape[0];
    return c;
}

std::vector<std::pair<std::string, std::vector<int64_t>>> tinyvit_weight_shapes(const TinyVitConfig & c,
                                                                                const std::string & prefix) {
    std::vector<std::pair<std::string, std::vector<int64_t>>> out;
    auto add = [&](const std::string & k, std::vector<int64_t> shape) {
        out.emplace_back(prefix + k, std::move(shape));
    };
    auto conv = [&](const std::string & p, int64_t o, int64_t i, int64_t k) {
        add(p + ".c.weight", {o, i, k, k});
        add(p + ".c.bias", {o});
    };
    auto vec = [&](const std::string & p, int64_t n) {
        add(p + ".weight", {n});
        add(p + ".bias", {n});
    };
    auto linear = [&](const std::string & p, int64_t o, int64_t i) {
        add(p + ".weight", {o, i});
        add(p + ".bias", {o});
    };
    const int64_t e0 = c.dims[0];
    conv("patch_embed.seq.0", e0 / 2, c.in_chans, 3);
    conv("patch_embed.seq.2", e0, e0 / 2, 3);
    for (int64_t s = 0; s < c.num_stages(); ++s) {
        const int64_t C = c.dims[(size_t) s], Hd = c.hidden[(size_t) s];
        for (int64_t j = 0; j < c.depths[(size_t) s]; ++j) {
            const std::string p = "layers." + std::to_string(s) + ".blocks." + std::to_string(j);
            if (s == 0) {
                conv(p + ".conv1", Hd, C, 1);
                conv(p + ".conv2", Hd, 1, 3);
                conv(p + ".conv3", C, Hd, 1);
            } else {
                const int64_t win = c.windows[(size_t) s];
                vec(p + ".attn.norm", C);
                linear(p + ".attn.qkv", 3 * C, C);
                add(p + ".attn.attention_biases", {c.heads[(size_t) s], win * win});
                linear(p + ".attn.proj", C, C);
                conv(p + ".local_conv", C, 1, 3);
                vec(p + ".mlp.norm", C);
                linear(p + ".mlp.fc1", Hd, C);
                linear(p + ".mlp.fc2", C, Hd);
            }
        }
        if (s + 1 < c.num_stages()) {
            const std::string p = "layers." + std::to_string(s) + ".downsample";
            const int64_t O = c.dims[(size_t) s + 1];
            conv(p + ".conv1", O, C, 1);
            conv(p + ".conv2", O, 1, 3);
            conv(p + ".conv3", O, O, 1);
        }
    }
    add("neck.0.weight", {c.neck_dim, c.dims.back(), 1, 1});
    vec("neck.1", c.neck_dim);
    add("neck.2.weight", {c.neck_dim, c.neck_dim, 3, 3});
    vec("neck.3", c.neck_dim);
    return out;
}

}  // namespace sa
