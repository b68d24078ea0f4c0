// SPDX-License-Identifier: Apache-2.0
// TrainableVit: the SAM ViT encoder (see vit.cpp for the forward pass) with its backward pass.
// Parameters live in one flat device buffer (and their gradients in another) in checkpoint order.
// Forward for training stores the input of every block (depth x B*T*E floats) and the neck's
// activations; backward walks the blocks from last to first, recomputing each block's internals from
// its stored input into one shared workspace, then running the block's backward:
//   x1 = x + unwin(proj(attn(qkv(win(LN1(x))))))      x2 = x1 + lin2(GELU(lin1(LN2(x1))))
//   dx1 = dx2 + LN2'(lin1'(GELU'(lin2'(dx2))))          dx = dx1 + LN1'(unwin(qkv'(attn'(proj'(win(dx1))))))
// (win: zero-padded window partition, whose adjoint is unpartition, and conversely). Window padding
// tokens enter attention as keys and values (their qkv rows are the bias), as in SAM.
#include "sa/trainable-vit.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "core/device-buffers.h"
#include "model/lora-adapters.h"
#include "model/vit-config.h"
#include "sa/status.h"

namespace sa {

namespace {

constexpr float kEps = 1e-6f;

struct BlockParams {
    int64_t n1w, n1b, qkvw, qkvb = -1, projw, projb, relh, relw, n2w, n2b, l1w, l1b, l2w, l2b;
    int64_t rel_len = 0;
    bool global = false;
    LoraAdapter qkv, proj, lin1, lin2;
};

}  // namespace

class TrainableVitImpl {
  public:
    TrainableVitImpl(Backend & be_, WeightMap & w, const std::string & prefix, const TrainableVitOptions & o)
        : be(be_), opt(o), lora(be_, o.lora), bufs(be_), ws(be_) {
        SA_CHECK(be.kind() == DeviceKind::CPU, SA_ERR_UNSUPPORTED,
                 "image-encoder training (encoder backward, LoRA) runs on the CPU backend only; the " + be.name() +
                     " backend has no kernels for it yet");
        c = infer_vit_config(w, prefix);
        const int64_t E = c.embed_dim, O = c.out_chans;
        patch_w = add(w, prefix, "patch_embed.proj.weight", {E, c.in_chans, c.patch, c.patch});
        patch_b = add(w, prefix, "patch_embed.proj.bias", {E});
        pos = add(w, prefix, "pos_embed", {1, c.grid, c.grid, E});
        for (int64_t i = 0; i < c.depth; ++i) {
            const std::string b = "blocks." + std::to_string(i) + ".";
            BlockParams bp;
            bp.global = c.is_global(i);
            bp.rel_len = 2 * (bp.global ? c.grid : c.window) - 1;
            bp.n1w = add(w, prefix, b + "norm1.weight", {E});
            bp.n1b = add(w, prefix, b + "norm1.bias", {E});
            bp.qkvw = add(w, prefix, b + "attn.qkv.weight", {3 * E, E});
            if (c.qkv_bias) bp.qkvb = add(w, prefix, b + "attn.qkv.bias", {3 * E});
            bp.projw = add(w, prefix, b + "attn.proj.weight", {E, E});
            bp.projb = add(w, prefix, b + "attn.proj.bias", {E});
            bp.relh = add(w, prefix, b + "attn.rel_pos_h", {bp.rel_len, c.head_dim});
            bp.relw = add(w, prefix, b + "attn.rel_pos_w", {bp.rel_len, c.head_dim});
            bp.n2w = add(w, prefix, b + "norm2.weight", {E});
            bp.n2b = add(w, prefix, b + "norm2.bias", {E});
            bp.l1w = add(w, prefix, b + "mlp.lin1.weight", {c.mlp_dim, E});
            bp.l1b = add(w, prefix, b + "mlp.lin1.bias", {c.mlp_dim});
            bp.l2w = add(w, prefix, b + "mlp.lin2.weight", {E, c.mlp_dim});
            bp.l2b = add(w, prefix, b + "mlp.lin2.bias", {E});
            blocks.push_back(bp);
        }
        neck0 = add(w, prefix, "neck.0.weight", {O, E, 1, 1});
        neck1w = add(w, prefix, "neck.1.weight", {O});
        neck1b = add(w, prefix, "neck.1.bias", {O});
        neck2 = add(w, prefix, "neck.2.weight", {O, O, 3, 3});
        neck3w = add(w, prefix, "neck.3.weight", {O});
        neck3b = add(w, prefix, "neck.3.bias", {O});
        w.check(prefix, "image encoder");
        add_adapters();
        P = bufs.alloc(total);
        if (opt.base_grads) G = bufs.alloc(total);  // without base gradients: no buffer for them
        // the caller's weights are uploaded straight from its buffers (no host copy)
        for (const FlatParam & p : params) {
            const float * src = host_src[p.name];
            if (src) be.upload(P + p.offset, src, (size_t) p.numel);
            else be.fill(P + p.offset, 0.0f, (size_t) p.numel);
        }
        be.synchronize();
        host_src.clear();
        if (G) be.fill(G, 0.0f, (size_t) total);
    }

    // A parameter by name with its value and gradient buffers (encoder or adapter).
    struct Found {
        const FlatParam * p;
        float *value, *grad;
    };
    Found find(const std::string & name) const {
        if (auto it = index.find(name); it != index.end())
            return {&params[it->second], P + params[it->second].offset, G ? G + params[it->second].offset : nullptr};
        if (const FlatParam * a = lora.find(name)) return {a, lora.value(*a), lora.grad(*a)};
        fail(SA_ERR_INVALID_ARG, "image encoder: no parameter named '" + name + "'");
    }

    // W + s B A for a layer's weight (host), or W when the layer has no adapter.
    void merged_weight(const std::string & name, float * host) const {
        const Found f = find(name);
        SA_CHECK_ARG(index.count(name), "image encoder: '" + name + "' is not an encoder weight");
        const LoraAdapter * ad = nullptr;
        for (const BlockParams & bp : blocks) {
            if (f.p->offset == bp.qkvw) ad = &bp.qkv;
            if (f.p->offset == bp.projw) ad = &bp.proj;
            if (f.p->offset == bp.l1w) ad = &bp.lin1;
            if (f.p->offset == bp.l2w) ad = &bp.lin2;
        }
        if (!ad || !ad->on()) {
            be.synchronize();
            be.download(host, f.value, (size_t) f.p->numel);
            return;
        }
        TempBuffer m(be, f.p->numel);
        be.copy(m.get(), f.value, (size_t) f.p->numel);
        lora.merge_into(*ad, m.get());
        be.synchronize();
        be.download(host, m.get(), (size_t) f.p->numel);
    }

    // ---- forward ------------------------------------------------------------------------------
    void forward(const float * images, int64_t B, float * out) {
        SA_CHECK_ARG(B > 0, "image encoder: batch size must be positive, got " + std::to_string(B));
        SA_CHECK_ARG(images && out, "image encoder: null image or output buffer");
        ensure(B);
        const int64_t E = c.embed_dim, Gd = c.grid, T = Gd * Gd, S = c.img_size, O = c.out_chans;
        be.upload(image, images, (size_t) (B * c.in_chans * S * S));
        be.conv2d({image, P + patch_w, P + patch_b, xcf, B, c.in_chans, S, S, E, c.patch, c.patch, c.patch, 0, 1});
        be.transpose_last2(xcf, block_in[0], B, E, T);
        be.add_bias(block_in[0], P + pos, block_in[0], B, T * E);
        for (int64_t i = 0; i < c.depth; ++i) block_forward(i, block_in[(size_t) i], block_in[(size_t) i + 1]);
        // neck, channels first
        be.transpose_last2(block_in[(size_t) c.depth], xcf, B, T, E);
        be.conv2d({xcf, P + neck0, nullptr, n0, B, E, Gd, Gd, O, 1, 1, 1, 0, 1});
        be.layernorm2d({n0, P + neck1w, P + neck1b, n1, n1m, n1r, B, O, T, kEps});
        be.conv2d({n1, P + neck2, nullptr, n2, B, O, Gd, Gd, O, 3, 3, 1, 1, 1});
        be.layernorm2d({n2, P + neck3w, P + neck3b, n3, n3m, n3r, B, O, T, kEps});
        be.synchronize();
        be.download(out, n3, (size_t) (B * O * T));
        fwd_batch = B;
    }

    // ---- backward -----------------------------------------------------------------------------
    void backward(const float * dout, float * dimages) {
        SA_CHECK_ARG(fwd_batch > 0, "image encoder: backward needs a forward pass first");
        SA_CHECK_ARG(dout != nullptr, "image encoder: null output gradient");
        const int64_t B = fwd_batch, E = c.embed_dim, Gd = c.grid, T = Gd * Gd, S = c.img_size, O = c.out_chans;
        be.upload(dn_a, dout, (size_t) (B * O * T));
        be.layernorm2d_backward({n2, P + neck3w, n3m, n3r, dn_a, dn_b, g(neck3w), g(neck3b), B, O, T});
        be.conv2d_backward({n1, P + neck2, dn_b, dn_a, g(neck2), nullptr, B, O, Gd, Gd, O, 3, 3, 1, 1});
        be.layernorm2d_backward({n0, P + neck1w, n1m, n1r, dn_a, dn_b, g(neck1w), g(neck1b), B, O, T});
        be.conv2d_backward({xcf, P + neck0, dn_b, dxcf, g(neck0), nullptr, B, E, Gd, Gd, O, 1, 1, 1, 0});
        be.transpose_last2(dxcf, dx, B, E, T);
        for (int64_t i = c.depth - 1; i >= 0; --i) {
            block_forward(i, block_in[(size_t) i], x2);  // recompute the block's internals
            block_backward(i, block_in[(size_t) i]);
        }
        // + pos_embed (broadcast over the batch), patch embedding
        if (opt.base_grads)
            for (int64_t b = 0; b < B; ++b) be.add(G + pos, dx + b * T * E, G + pos, T * E);
        if (opt.base_grads || dimages) {
            be.transpose_last2(dx, dxcf, B, T, E);
            be.conv2d_backward({image, P + patch_w, dxcf, dimages ? dimage : nullptr, g(patch_w), g(patch_b), B,
                                c.in_chans, S, S, E, c.patch, c.patch, c.patch, 0});
        }
        be.synchronize();
        if (dimages) be.download(dimages, dimage, (size_t) (B * c.in_chans * S * S));
    }

    Backend & be;
    TrainableVitOptions opt;
    VitConfig c;
    LoraAdapters lora;
    std::vector<FlatParam> params;
    std::map<std::string, size_t> index;
    int64_t total = 0;
    float *P = nullptr, *G = nullptr;

  private:
    int64_t add(WeightMap & w, const std::string & prefix, const std::string & name,
                const std::vector<int64_t> & shape) {
        const WeightView * v = w.get(prefix + name, shape);
        host_src[name] = v ? v->data : nullptr;  // a missing weight is reported by w.check()
        return append_flat_param(params, index, total, name, shape);
    }

    float * g(int64_t offset) const { return opt.base_grads ? G + offset : nullptr; }
    const float * bias_or_null(int64_t offset) const { return offset >= 0 ? P + offset : nullptr; }

    void add_adapters() {
        if (opt.lora.rank == 0) return;
        const LoraTargets t = parse_lora_targets(opt.lora);
        const int64_t E = c.embed_dim, M = c.mlp_dim;
        for (int64_t i = 0; i < c.depth; ++i) {
            BlockParams & bp = blocks[(size_t) i];
            const std::string b = "blocks." + std::to_string(i) + ".";
            if (t.any_qkv()) {
                std::vector<std::pair<int64_t, int64_t>> frozen;  // rows of q, k, v: [0, E), [E, 2E), [2E, 3E)
                for (int k = 0; k < 3; ++k)
                    if (!t.qkv[k]) frozen.emplace_back(k * E, E);
                bp.qkv = lora.add(b + "attn.qkv", E, 3 * E, frozen);
            }
            if (t.proj) bp.proj = lora.add(b + "attn.proj", E, E);
            if (t.mlp1) bp.lin1 = lora.add(b + "mlp.lin1", E, M);
            if (t.mlp2) bp.lin2 = lora.add(b + "mlp.lin2", M, E);
        }
        lora.allocate();
    }

    void lora_forward(const LoraAdapter & ad, const float * x, float * y, float * u, int64_t rows) {
        lora.forward(ad, x, y, u, rows);
    }
    void lora_backward(const LoraAdapter & ad, const float * x, const float * dy, const float * u, float * dx,
                       int64_t rows) {
        lora.backward(ad, x, dy, u, dx, du, rows);
    }

    int64_t window_rows(int64_t B) const {
        if (c.window == 0) return 0;
        const int64_t nw = (c.grid + c.window - 1) / c.window;
        return B * nw * nw * c.window * c.window;
    }

    void ensure(int64_t B) {
        if (ws_batch == B) return;
        ws.release();
        block_in.clear();
        const int64_t E = c.embed_dim, T = c.grid * c.grid, O = c.out_chans, S = c.img_size;
        const int64_t rows = B * T, arows = std::max(rows, window_rows(B)), M = c.mlp_dim;
        auto get = [&](int64_t n) { return ws.alloc(std::max<int64_t>(n, 1)); };
        image = get(B * c.in_chans * S * S);
        dimage = get(B * c.in_chans * S * S);
        for (int64_t i = 0; i <= c.depth; ++i) block_in.push_back(get(rows * E));
        h1 = get(arows * E);
        win = get(arows * E);
        qkv = get(arows * 3 * E);
        attn = get(arows * E);
        proj = get(arows * E);
        x1 = get(rows * E);
        x2 = get(rows * E);
        h2 = get(rows * E);
        mlp_a = get(rows * M);
        mlp_g = get(rows * M);
        ln1m = get(rows);
        ln1r = get(rows);
        ln2m = get(rows);
        ln2r = get(rows);
        xcf = get(rows * std::max(E, O));
        n0 = get(rows * O);
        n1 = get(rows * O);
        n2 = get(rows * O);
        n3 = get(rows * O);
        n1m = get(rows);
        n1r = get(rows);
        n3m = get(rows);
        n3r = get(rows);
        dn_a = get(rows * O);
        dn_b = get(rows * O);
        dxcf = get(rows * std::max(E, O));
        dx = get(rows * E);
        dt = get(rows * E);
        dh = get(rows * E);
        dwin = get(arows * E);
        dqkv = get(arows * 3 * E);
        dattn = get(arows * E);
        dmlp = get(rows * M);
        const int64_t r = std::max<int64_t>(opt.lora.rank, 1);
        u_qkv = get(arows * r);
        u_proj = get(arows * r);
        u_l1 = get(rows * r);
        u_l2 = get(rows * r);
        du = get(arows * r);
        ws_batch = B;
        fwd_batch = 0;
    }

    // Attention layout of block i: sequences, side, rows (windowed: padded windows).
    void attn_layout(const BlockParams & bp, int64_t B, int64_t & seqs, int64_t & side, int64_t & arows) const {
        if (bp.global) {
            seqs = B;
            side = c.grid;
            arows = B * c.grid * c.grid;
        } else {
            const int64_t nw = (c.grid + c.window - 1) / c.window;
            seqs = B * nw * nw;
            side = c.window;
            arows = window_rows(B);
        }
    }

    // x_out = block(x_in); the block's internals stay in the workspace (h1/win, qkv, attn, x1, h2,
    // mlp_a, mlp_g and the LayerNorm statistics).
    void block_forward(int64_t i, const float * x_in, float * x_out) {
        const BlockParams & bp = blocks[(size_t) i];
        const int64_t B = ws_batch, E = c.embed_dim, Gd = c.grid, rows = B * Gd * Gd, M = c.mlp_dim;
        int64_t seqs, side, arows;
        attn_layout(bp, B, seqs, side, arows);
        be.layernorm({x_in, P + bp.n1w, P + bp.n1b, h1, ln1m, ln1r, rows, E, kEps});
        const float * a_in = h1;
        if (!bp.global) {
            be.window_partition({h1, win, B, Gd, Gd, E, c.window});
            a_in = win;
        }
        be.linear(a_in, P + bp.qkvw, bias_or_null(bp.qkvb), qkv, arows, E, 3 * E);
        lora_forward(bp.qkv, a_in, qkv, u_qkv, arows);
        be.attention_vit(
            {qkv, attn, seqs, side, side, c.num_heads, c.head_dim, P + bp.relh, bp.rel_len, P + bp.relw, bp.rel_len});
        be.linear(attn, P + bp.projw, P + bp.projb, proj, arows, E, E);
        lora_forward(bp.proj, attn, proj, u_proj, arows);
        if (!bp.global) {
            be.window_unpartition({proj, x1, B, Gd, Gd, E, c.window});
            be.add(x_in, x1, x1, rows * E);
        } else {
            be.add(x_in, proj, x1, rows * E);
        }
        be.layernorm({x1, P + bp.n2w, P + bp.n2b, h2, ln2m, ln2r, rows, E, kEps});
        be.linear(h2, P + bp.l1w, P + bp.l1b, mlp_a, rows, E, M);
        lora_forward(bp.lin1, h2, mlp_a, u_l1, rows);
        be.gelu(mlp_a, mlp_g, rows * M);
        be.linear(mlp_g, P + bp.l2w, P + bp.l2b, x_out, rows, M, E);
        lora_forward(bp.lin2, mlp_g, x_out, u_l2, rows);
        be.add(x1, x_out, x_out, rows * E);
    }

    // dx (d block output on entry) becomes d block input; the workspace holds block i's internals.
    void block_backward(int64_t i, const float * x_in) {
        const BlockParams & bp = blocks[(size_t) i];
        const int64_t B = ws_batch, E = c.embed_dim, Gd = c.grid, rows = B * Gd * Gd, M = c.mlp_dim;
        int64_t seqs, side, arows;
        attn_layout(bp, B, seqs, side, arows);
        // MLP branch
        be.linear_backward({mlp_g, P + bp.l2w, dx, dmlp, g(bp.l2w), g(bp.l2b), rows, M, E});
        lora_backward(bp.lin2, mlp_g, dx, u_l2, dmlp, rows);
        be.gelu_backward(mlp_a, dmlp, dmlp, rows * M);
        be.linear_backward({h2, P + bp.l1w, dmlp, dh, g(bp.l1w), g(bp.l1b), rows, E, M});
        lora_backward(bp.lin1, h2, dmlp, u_l1, dh, rows);
        be.layernorm_backward({x1, P + bp.n2w, ln2m, ln2r, dh, dt, g(bp.n2w), g(bp.n2b), rows, E});
        be.add(dx, dt, dx, rows * E);  // d x1
        // attention branch
        const float * dproj = dx;
        if (!bp.global) {
            be.window_partition({dx, dwin, B, Gd, Gd, E, c.window});
            dproj = dwin;
        }
        be.linear_backward({attn, P + bp.projw, dproj, dattn, g(bp.projw), g(bp.projb), arows, E, E});
        lora_backward(bp.proj, attn, dproj, u_proj, dattn, arows);
        be.attention_vit_backward({qkv, dattn, dqkv, seqs, side, side, c.num_heads, c.head_dim, P + bp.relh, bp.rel_len,
                                   P + bp.relw, bp.rel_len, g(bp.relh), g(bp.relw)});
        float * dqkv_bias = bp.qkvb >= 0 ? g(bp.qkvb) : nullptr;
        const float * a_in = bp.global ? h1 : win;
        float * da_in = bp.global ? dh : dwin;
        be.linear_backward({a_in, P + bp.qkvw, dqkv, da_in, g(bp.qkvw), dqkv_bias, arows, E, 3 * E});
        lora_backward(bp.qkv, a_in, dqkv, u_qkv, da_in, arows);
        if (!bp.global) be.window_unpartition({dwin, dh, B, Gd, Gd, E, c.window});
        be.layernorm_backward({x_in, P + bp.n1w, ln1m, ln1r, dh, dt, g(bp.n1w), g(bp.n1b), rows, E});
        be.add(dx, dt, dx, rows * E);  // d x_in
    }

    DeviceBuffers bufs, ws;
    std::map<std::string, const float *> host_src;
    int64_t patch_w = 0, patch_b = 0, pos = 0, neck0 = 0, neck1w = 0, neck1b = 0, neck2 = 0, neck3w = 0, neck3b = 0;
    std::vector<BlockParams> blocks;
    int64_t ws_batch = 0, fwd_batch = 0;
    std::vector<float *> block_in;
    float *image = nullptr, *dimage = nullptr, *h1 = nullptr, *win = nullptr, *qkv = nullptr, *attn = nullptr,
          *proj = nullptr, *x1 = nullptr, *x2 = nullptr, *h2 = nullptr, *mlp_a = nullptr, *mlp_g = nullptr;
    float *ln1m = nullptr, *ln1r = nullptr, *ln2m = nullptr, *ln2r = nullptr;
    float *xcf = nullptr, *n0 = nullptr, *n1 = nullptr, *n2 = nullptr, *n3 = nullptr, *n1m = nullptr, *n1r = nullptr,
          *n3m = nullptr, *n3r = nullptr;
    float *dn_a = nullptr, *dn_b = nullptr, *dxcf = nullptr, *dx = nullptr, *dt = nullptr, *dh = nullptr,
          *dwin = nullptr, *dqkv = nullptr, *dattn = nullptr, *dmlp = nullptr;
    float *u_qkv = nullptr, *u_proj = nullptr, *u_l1 = nullptr, *u_l2 = nullptr, *du = nullptr;
};

TrainableVit::TrainableVit(Backend & be, WeightMap & w, const std::string & prefix, TrainableVitOptions opt)
    : impl_(std::make_unique<TrainableVitImpl>(be, w, prefix, opt)) {}
TrainableVit::~TrainableVit() = default;

int64_t TrainableVit::img_size() const {
    return impl_->c.img_size;
}
int64_t TrainableVit::embed_dim() const {
    return impl_->c.out_chans;
}
int64_t TrainableVit::embed_size() const {
    return impl_->c.grid;
}
std::string TrainableVit::describe() const {
    return impl_->c.describe();
}
void TrainableVit::forward(const float * images, int64_t B, float * out) {
    impl_->forward(images, B, out);
}
void TrainableVit::backward(const float * dout, float * dimages) {
    impl_->backward(dout, dimages);
}
void TrainableVit::zero_grad() {
    if (impl_->G) impl_->be.fill(impl_->G, 0.0f, (size_t) impl_->total);
    impl_->lora.zero_grad();
}

std::vector<std::string> TrainableVit::param_names() const {
    std::vector<std::string> out;
    for (const auto & p : impl_->params) out.push_back(p.name);
    return out;
}
std::vector<int64_t> TrainableVit::param_shape(const std::string & name) const {
    return impl_->find(name).p->shape;
}
void TrainableVit::get_param(const std::string & name, float * host) const {
    const auto f = impl_->find(name);
    impl_->be.synchronize();
    impl_->be.download(host, f.value, (size_t) f.p->numel);
}
void TrainableVit::set_param(const std::string & name, const float * host) {
    const auto f = impl_->find(name);
    impl_->be.upload(f.value, host, (size_t) f.p->numel);
    impl_->be.synchronize();
}
void TrainableVit::get_grad(const std::string & name, float * host) const {
    const auto f = impl_->find(name);
    SA_CHECK_ARG(impl_->opt.base_grads || impl_->lora.find(name),
                 "image encoder: '" + name + "' has no gradient (encoder made without base_grads)");
    impl_->be.synchronize();
    impl_->be.download(host, f.grad, (size_t) f.p->numel);
}
std::vector<std::string> TrainableVit::lora_names() const {
    std::vector<std::string> out;
    for (const auto & p : impl_->lora.params()) out.push_back(p.name);
    return out;
}
float TrainableVit::lora_scale() const {
    return impl_->lora.scale();
}
void TrainableVit::lora_adam_step(float lr, float beta1, float beta2, float eps, float weight_decay, bool decoupled) {
    impl_->lora.adam_step(lr, beta1, beta2, eps, weight_decay, decoupled);
}
void TrainableVit::merged_weight(const std::string & name, float * host) const {
    impl_->merged_weight(name, host);
}
int64_t TrainableVit::lora_step_count() const {
    return impl_->lora.step_count();
}
void TrainableVit::set_lora_step_count(int64_t t) {
    impl_->lora.set_step_count(t);
}
void TrainableVit::get_lora_state(const std::string & name, float * m_host, float * v_host) const {
    impl_->lora.get_state(name, m_host, v_host);
}
void TrainableVit::set_lora_state(const std::string & name, const float * m_host, const float * v_host) {
    impl_->lora.set_state(name, m_host, v_host);
}

}  // namespace sa
