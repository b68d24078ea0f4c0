// SPDX-License-Identifier: Apache-2.0
// The trainable TinyViT: the TinyViT encoder (see tinyvit.cpp for the inference pass, whose ops the forward
// pass here uses too) with its backward pass. Parameters live in one flat backend buffer (gradients in
// another) in checkpoint order. The forward pass stores the input of every unit: the PatchMergings and
// the attention blocks; the backward pass walks the units from last to first, recomputing each one from
// its stored input into a shared workspace, then running its backward:
//   attention block, tokens x [B*T, C]:
//     x1 = x + proj(attn(qkv(LN1(x)), pad, bias))     x2 = dwconv3x3(x1)     y = x2 + fc2(GELU(fc1(LN2(x2))))
//     dx2 = dy + LN2'(fc1'(GELU'(fc2'(dy))))    dx1 = dwconv'(dx2)    dx = dx1 + LN1'(qkv'(attn'(proj'(dx1))))
//   PatchMerging, NCHW: y = conv1x1(GELU(dwconv3x3/s(GELU(conv1x1(x))))), then tokens.
// Window padding tokens take pad = qkv(beta1) (LayerNorm of zeros is its bias), computed each forward
// pass from the current weights and adapters; its gradient (summed over the padding tokens) flows to
// the qkv weight, bias and adapter and to beta1. The attention-bias table [heads, N, N] is expanded
// from attention_biases [heads, N] (N = window^2; the bias of a key depends on |dy|, |dx|) and its
// gradient folded back on the host.
#include "sa/trainable-tinyvit.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "core/device-buffers.h"
#include "model/lora-adapters.h"
#include "model/tinyvit.h"
#include "sa/status.h"

namespace sa {

namespace {

constexpr float kBlockEps = 1e-5f, kNeckEps = 1e-6f;

struct ConvP {
    int64_t w = -1, b = -1;
};

struct MergeP {
    ConvP c1, c2, c3;
    int64_t C = 0, O = 0, G = 0, G2 = 0, stride = 1;
    bool tokens_in = true;  // input as tokens [B, G*G, C] (else NCHW)
};

struct BlockP {
    std::string name;  // "layers.<s>.blocks.<j>"
    int64_t n1w, n1b, qkvw, qkvb, ab, projw, projb, n2w, n2b, f1w, f1b, f2w, f2b;
    ConvP local;
    int64_t C = 0, Hd = 0, G = 0, nh = 0, win = 0;
    float * table = nullptr;  // [nh, N, N] expanded attention biases (backend)
    LoraAdapter qkv, proj, fc1, fc2;
    bool adapted() const { return qkv.on() || proj.on() || fc1.on() || fc2.on(); }
};

// One step of the forward pass after stage 0: a PatchMerging or an attention block.
struct Unit {
    int merge = -1, block = -1;
};

}  // namespace

class TrainableTinyVit final : public TrainableEncoder {
  public:
    TrainableTinyVit(Backend & be_, WeightMap & w, const std::string & prefix, const TrainableTinyVitOptions & o)
        : be(be_), opt(o), lora(be_, o.lora), bufs(be_), ws(be_) {
        SA_CHECK(be.kind() == DeviceKind::CPU, SA_ERR_UNSUPPORTED,
                 "TinyViT image-encoder training (encoder backward, LoRA) runs on the CPU backend only; the " +
                     be.name() + " backend has no kernels for it yet");
        c = infer_tinyvit_config(w, prefix);
        SA_CHECK_ARG(o.img_size >= 16 && o.img_size <= 8192,
                     "TinyViT image encoder: img_size must be in 16..8192, got " + std::to_string(o.img_size));
        c.img_size = o.img_size;
        for (const auto & [key, shape] : tinyvit_weight_shapes(c, prefix))
            add(w, key.substr(prefix.size()), key, shape);
        // Tolerated extras of MobileSAM state dicts, as the inference encoder: the classification head
        // and the attention-bias index buffers (recomputed here).
        for (const char * k : {"norm_head.weight", "norm_head.bias", "head.weight", "head.bias"})
            w.get_optional(prefix + k, {});
        for (int64_t s = 1; s < c.num_stages(); ++s)
            for (int64_t j = 0; j < c.depths[(size_t) s]; ++j)
                w.get_optional(prefix + "layers." + std::to_string(s) + ".blocks." + std::to_string(j) +
                                   ".attn.attention_bias_idxs",
                               {});
        w.check(prefix, "TinyViT image encoder");
        layout();
        if (opt.lora.rank != 0) add_adapters();
        set_first_unit();
        lora.allocate();
        P = bufs.alloc(total);
        if (opt.base_grads) G = bufs.alloc(total);
        for (const FlatParam & p : params) be.upload(P + p.offset, host_src.at(p.name), (size_t) p.numel);
        be.synchronize();
        host_src.clear();
        if (G) be.fill(G, 0.0f, (size_t) total);
        for (BlockP & b : blocks) {
            b.table = bufs.alloc(b.nh * b.win * b.win * b.win * b.win);
            refresh_table(b);
        }
    }

    const FlatParam & param(const std::string & name) const {
        auto it = index.find(name);
        if (it == index.end()) fail(SA_ERR_INVALID_ARG, "TinyViT image encoder: no parameter named '" + name + "'");
        return params[it->second];
    }
    // A parameter's value and gradient buffers (encoder or adapter); grad null where none is kept.
    struct Found {
        const FlatParam * p;
        float *value, *grad;
    };
    Found find(const std::string & name) const {
        if (const FlatParam * a = lora.find(name)) return {a, lora.value(*a), lora.grad(*a)};
        const FlatParam & p = param(name);
        return {&p, P + p.offset, G ? G + p.offset : nullptr};
    }

    void set_param(const std::string & name, const float * host) override {
        const Found f = find(name);
        be.upload(f.value, host, (size_t) f.p->numel);
        be.synchronize();
        for (BlockP & b : blocks)
            if (f.value == P + b.ab) refresh_table(b);
    }

    // W + s B A for a layer's weight (host), or W when the layer has no adapter.
    void merged_weight(const std::string & name, float * host) const override {
        const FlatParam & p = param(name);
        const LoraAdapter * ad = nullptr;
        for (const BlockP & b : blocks) {
            if (p.offset == b.qkvw) ad = &b.qkv;
            if (p.offset == b.projw) ad = &b.proj;
            if (p.offset == b.f1w) ad = &b.fc1;
            if (p.offset == b.f2w) ad = &b.fc2;
        }
        TempBuffer m(be, p.numel);
        be.copy(m.get(), P + p.offset, (size_t) p.numel);
        if (ad && ad->on()) lora.merge_into(*ad, m.get());
        be.synchronize();
        be.download(host, m.get(), (size_t) p.numel);
    }

    // ---- TrainableEncoder ---------------------------------------------------------------------
    std::string arch() const override { return "tinyvit"; }
    int64_t img_size() const override { return c.img_size; }
    int64_t embed_dim() const override { return c.neck_dim; }
    int64_t embed_size() const override { return c.embed_size(); }
    std::string describe() const override { return c.describe(); }
    void zero_grad() override {
        if (G) be.fill(G, 0.0f, (size_t) total);
        lora.zero_grad();
    }
    std::vector<std::string> param_names() const override {
        std::vector<std::string> out;
        for (const auto & p : params) out.push_back(p.name);
        return out;
    }
    std::vector<int64_t> param_shape(const std::string & name) const override { return find(name).p->shape; }
    void get_param(const std::string & name, float * host) const override {
        const Found f = find(name);
        be.synchronize();
        be.download(host, f.value, (size_t) f.p->numel);
    }
    void get_grad(const std::string & name, float * host) const override {
        const Found f = find(name);
        const bool adapter = lora.find(name) != nullptr;
        SA_CHECK_ARG(adapter || opt.base_grads,
                     "TinyViT image encoder: '" + name + "' has no gradient (encoder made without base_grads)");
        SA_CHECK(adapter || f.p->offset >= first_trained, SA_ERR_UNSUPPORTED,
                 "TinyViT image encoder: '" + name +
                     "' has no gradient (the backward pass stops at layers.0.downsample: the patch embedding and "
                     "stage 0 are not trained)");
        be.synchronize();
        be.download(host, f.grad, (size_t) f.p->numel);
    }
    std::vector<std::string> lora_names() const override {
        std::vector<std::string> out;
        for (const auto & p : lora.params()) out.push_back(p.name);
        return out;
    }
    float lora_scale() const override { return lora.scale(); }
    void lora_adam_step(float lr, float beta1, float beta2, float eps, float weight_decay, bool decoupled) override {
        lora.adam_step(lr, beta1, beta2, eps, weight_decay, decoupled);
    }
    int64_t lora_step_count() const override { return lora.step_count(); }
    void set_lora_step_count(int64_t t) override { lora.set_step_count(t); }
    void get_lora_state(const std::string & name, float * m_host, float * v_host) const override {
        lora.get_state(name, m_host, v_host);
    }
    void set_lora_state(const std::string & name, const float * m_host, const float * v_host) override {
        lora.set_state(name, m_host, v_host);
    }

    // ---- forward ------------------------------------------------------------------------------
    void forward(const float * images, int64_t B, float * out) override {
        SA_CHECK_ARG(B > 0, "TinyViT image encoder: batch size must be positive, got " + std::to_string(B));
        SA_CHECK_ARG(images && out, "TinyViT image encoder: null image or output buffer");
        ensure(B);
        const int64_t S = c.img_size, e0 = c.dims[0], g0 = c.grid(0);
        be.upload(image, images, (size_t) (B * c.in_chans * S * S));
        // patch embedding and stage 0 (no backward pass), NCHW, ending in acts[0]
        float * x = stage0_a;
        float * y = stage0_b;
        be.tinyvit_patch_embed({image, P + pw("patch_embed.seq.0.c.weight"), P + pw("patch_embed.seq.0.c.bias"),
                                P + pw("patch_embed.seq.2.c.weight"), P + pw("patch_embed.seq.2.c.bias"), x, B,
                                c.in_chans, S, S, e0 / 2, e0});
        for (int64_t j = 0; j < c.depths[0]; ++j) {
            const std::string p = "layers.0.blocks." + std::to_string(j);
            float * dst = j + 1 == c.depths[0] ? acts[0] : y;
            be.tinyvit_mbconv({x, P + pw(p + ".conv1.c.weight"), P + pw(p + ".conv1.c.bias"),
                               P + pw(p + ".conv2.c.weight"), P + pw(p + ".conv2.c.bias"),
                               P + pw(p + ".conv3.c.weight"), P + pw(p + ".conv3.c.bias"), dst, B, e0, g0, g0,
                               c.hidden[0]});
            std::swap(x, y);
        }
        for (size_t u = 0; u < units.size(); ++u) unit_forward(u, acts[u], acts[u + 1]);
        // neck, channels first
        const int64_t Cl = c.dims.back(), O = c.neck_dim, Ge = c.embed_size(), T = Ge * Ge;
        be.transpose_last2(acts[units.size()], neck_in, B, T, Cl);
        be.conv2d({neck_in, P + pw("neck.0.weight"), nullptr, n0, B, Cl, Ge, Ge, O, 1, 1, 1, 0, 1});
        be.layernorm2d({n0, P + pw("neck.1.weight"), P + pw("neck.1.bias"), n1, n1m, n1r, B, O, T, kNeckEps});
        be.conv2d({n1, P + pw("neck.2.weight"), nullptr, n2, B, O, Ge, Ge, O, 3, 3, 1, 1, 1});
        be.layernorm2d({n2, P + pw("neck.3.weight"), P + pw("neck.3.bias"), n3, n3m, n3r, B, O, T, kNeckEps});
        be.synchronize();
        be.download(out, n3, (size_t) (B * O * T));
        fwd_batch = B;
    }

    // ---- backward -----------------------------------------------------------------------------
    void backward(const float * dout, float * dimages) override {
        SA_CHECK_ARG(fwd_batch > 0, "TinyViT image encoder: backward needs a forward pass first");
        SA_CHECK_ARG(dout != nullptr, "TinyViT image encoder: null output gradient");
        SA_CHECK(dimages == nullptr, SA_ERR_UNSUPPORTED,
                 "TinyViT image encoder: no input-image gradient (the backward pass stops at layers.0.downsample; "
                 "the patch embedding and stage 0 have none)");
        const int64_t B = fwd_batch, Cl = c.dims.back(), O = c.neck_dim, Ge = c.embed_size(), T = Ge * Ge;
        be.upload(dn_a, dout, (size_t) (B * O * T));
        be.layernorm2d_backward(
            {n2, P + pw("neck.3.weight"), n3m, n3r, dn_a, dn_b, g("neck.3.weight"), g("neck.3.bias"), B, O, T});
        be.conv2d_backward(
            {n1, P + pw("neck.2.weight"), dn_b, dn_a, g("neck.2.weight"), nullptr, B, O, Ge, Ge, O, 3, 3, 1, 1});
        be.layernorm2d_backward(
            {n0, P + pw("neck.1.weight"), n1m, n1r, dn_a, dn_b, g("neck.1.weight"), g("neck.1.bias"), B, O, T});
        be.conv2d_backward(
            {neck_in, P + pw("neck.0.weight"), dn_b, dn_a, g("neck.0.weight"), nullptr, B, Cl, Ge, Ge, O, 1, 1, 1, 0});
        be.transpose_last2(dn_a, dx, B, Cl, T);  // d tokens of the last unit's output
        for (int64_t u = (int64_t) units.size() - 1; u >= first_unit; --u) {
            unit_forward((size_t) u, acts[(size_t) u], ytmp);  // recompute the unit's internals
            unit_backward((size_t) u);
        }
        be.synchronize();
    }

  private:
    Backend & be;
    TrainableTinyVitOptions opt;
    TinyVitConfig c;
    // encoder parameters (P) and their gradients (G, with base_grads) in checkpoint order; those before
    // first_trained (patch embedding, stage 0) get none
    std::vector<FlatParam> params;
    std::map<std::string, size_t> index;
    int64_t total = 0, first_trained = 0;
    float *P = nullptr, *G = nullptr;
    LoraAdapters lora;

    void add(WeightMap & w, const std::string & name, const std::string & key, const std::vector<int64_t> & shape) {
        const WeightView * v = w.get(key, shape);
        host_src[name] = v ? v->data : nullptr;  // a missing weight is reported by w.check()
        append_flat_param(params, index, total, name, shape);
    }
    int64_t pw(const std::string & name) const { return param(name).offset; }
    float * g(const std::string & name) const { return G ? G + pw(name) : nullptr; }
    float * g(int64_t offset) const { return G ? G + offset : nullptr; }

    // Units, their parameters and sizes, in forward order.
    void layout() {
        auto conv = [&](const std::string & p) { return ConvP{pw(p + ".c.weight"), pw(p + ".c.bias")}; };
        for (int64_t s = 0; s < c.num_stages(); ++s) {
            const int64_t C = c.dims[(size_t) s], Gs = c.grid(s);
            for (int64_t j = 0; s > 0 && j < c.depths[(size_t) s]; ++j) {
                BlockP b;
                b.name = "layers." + std::to_string(s) + ".blocks." + std::to_string(j);
                const std::string & p = b.name;
                b.n1w = pw(p + ".attn.norm.weight");
                b.n1b = pw(p + ".attn.norm.bias");
                b.qkvw = pw(p + ".attn.qkv.weight");
                b.qkvb = pw(p + ".attn.qkv.bias");
                b.ab = pw(p + ".attn.attention_biases");
                b.projw = pw(p + ".attn.proj.weight");
                b.projb = pw(p + ".attn.proj.bias");
                b.local = conv(p + ".local_conv");
                b.n2w = pw(p + ".mlp.norm.weight");
                b.n2b = pw(p + ".mlp.norm.bias");
                b.f1w = pw(p + ".mlp.fc1.weight");
                b.f1b = pw(p + ".mlp.fc1.bias");
                b.f2w = pw(p + ".mlp.fc2.weight");
                b.f2b = pw(p + ".mlp.fc2.bias");
                b.C = C;
                b.Hd = c.hidden[(size_t) s];
                b.G = Gs;
                b.nh = c.heads[(size_t) s];
                b.win = c.windows[(size_t) s];
                units.push_back(Unit{-1, (int) blocks.size()});
                blocks.push_back(b);
            }
            if (s + 1 < c.num_stages()) {
                const std::string p = "layers." + std::to_string(s) + ".downsample";
                MergeP m;
                m.c1 = conv(p + ".conv1");
                m.c2 = conv(p + ".conv2");
                m.c3 = conv(p + ".conv3");
                m.C = C;
                m.O = c.dims[(size_t) s + 1];
                m.G = Gs;
                m.G2 = c.grid(s + 1);
                m.stride = c.merge_strides[(size_t) s];
                m.tokens_in = s > 0;
                units.push_back(Unit{(int) merges.size(), -1});
                merges.push_back(m);
            }
        }
        first_trained = merges.front().c1.w;  // layers.0.downsample.conv1 and everything after it
    }

    void add_adapters() {
        const LoraTargets t = parse_lora_targets(opt.lora);
        for (BlockP & b : blocks) {
            if (t.any_qkv()) {
                // per head h: rows h*3d + [0, d) q, [d, 2d) k, [2d, 3d) v
                const int64_t d = b.C / b.nh;
                std::vector<std::pair<int64_t, int64_t>> frozen;
                for (int64_t h = 0; h < b.nh; ++h)
                    for (int k = 0; k < 3; ++k)
                        if (!t.qkv[k]) frozen.emplace_back(h * 3 * d + k * d, d);
                b.qkv = lora.add(b.name + ".attn.qkv", b.C, 3 * b.C, frozen);
            }
            if (t.proj) b.proj = lora.add(b.name + ".attn.proj", b.C, b.C);
            if (t.mlp1) b.fc1 = lora.add(b.name + ".mlp.fc1", b.C, b.Hd);
            if (t.mlp2) b.fc2 = lora.add(b.name + ".mlp.fc2", b.Hd, b.C);
        }
    }

    // The first unit whose backward pass runs: layers.0.downsample with base gradients, else the first
    // block with an adapter (none: no backward pass at all).
    void set_first_unit() {
        first_unit = 0;
        if (opt.base_grads) return;
        first_unit = (int64_t) units.size();
        for (size_t u = 0; u < units.size(); ++u)
            if (units[u].block >= 0 && blocks[(size_t) units[u].block].adapted()) {
                first_unit = (int64_t) u;
                break;
            }
    }

    // The expanded bias table of block b from its attention_biases [nh, win^2].
    void refresh_table(BlockP & b) {
        const int64_t win = b.win, N = win * win;
        std::vector<float> ab((size_t) (b.nh * N)), table((size_t) (b.nh * N * N));
        be.synchronize();
        be.download(ab.data(), P + b.ab, ab.size());
        for (int64_t h = 0; h < b.nh; ++h)
            for (int64_t q = 0; q < N; ++q)
                for (int64_t k = 0; k < N; ++k)
                    table[(size_t) ((h * N + q) * N + k)] = ab[(size_t) (h * N + bias_index(q, k, win))];
        be.upload(b.table, table.data(), table.size());
        be.synchronize();
    }
    static int64_t bias_index(int64_t q, int64_t k, int64_t win) {
        return std::abs(q / win - k / win) * win + std::abs(q % win - k % win);
    }

    // ---- workspace ----------------------------------------------------------------------------
    void ensure(int64_t B) {
        if (ws_batch == B) return;
        ws.release();
        acts.clear();
        auto get = [&](int64_t n) { return ws.alloc(std::max<int64_t>(n, 1)); };
        const int64_t S = c.img_size, e0 = c.dims[0], g0 = c.grid(0);
        image = get(B * c.in_chans * S * S);
        acts.push_back(get(B * e0 * g0 * g0));
        int64_t tok = 0, hid = 0, mbig = 0, msmall = 0, min = 0, tab = 0, maxrows = 0, maxc = 0;
        for (const Unit & u : units) {
            if (u.block >= 0) {
                const BlockP & b = blocks[(size_t) u.block];
                const int64_t T = b.G * b.G;
                tok = std::max(tok, B * T * b.C);
                maxrows = std::max(maxrows, B * T);
                maxc = std::max(maxc, b.C);
                hid = std::max(hid, B * T * b.Hd);
                tab = std::max(tab, b.nh * b.win * b.win * b.win * b.win);
                acts.push_back(get(B * T * b.C));
            } else {
                const MergeP & m = merges[(size_t) u.merge];
                mbig = std::max(mbig, B * m.O * m.G * m.G);
                msmall = std::max(msmall, B * m.O * m.G2 * m.G2);
                min = std::max(min, B * m.C * m.G * m.G);
                acts.push_back(get(B * m.O * m.G2 * m.G2));
            }
        }
        const int64_t Ge = c.embed_size(), T = Ge * Ge, O = c.neck_dim, rows = maxrows;
        ytmp = get(std::max(tok, msmall));
        h1 = get(tok);
        qkv = get(3 * tok);
        att = get(tok);
        prj = get(tok);
        x1 = get(tok);
        x2 = m_g2 = get(std::max(tok, msmall));
        // A unit's internals are live only while it runs, so a block's and a merge's share buffers
        // (and stage 0 uses them before any unit).
        const int64_t big = std::max({hid, mbig, B * e0 * g0 * g0});
        mlp_a = m_a1 = stage0_a = get(big);
        mlp_g = m_g1 = stage0_b = get(big);
        dmlp = m_dg = get(big);
        h2 = m_a2 = get(std::max(tok, msmall));
        ln1m = get(rows);
        ln1r = get(rows);
        ln2m = get(rows);
        ln2r = get(rows);
        pad = get(3 * maxc);
        dpad = get(3 * maxc);
        dbeta = get(maxc);
        dtable = get(tab);
        dx = get(std::max(tok, min));
        dt = get(std::max({tok, min, msmall}));
        dh = get(tok);
        dqkv = get(3 * tok);
        datt = get(tok);
        cf_a = get(std::max(tok, min));
        cf_b = get(std::max(tok, mbig));
        neck_in = get(B * T * c.dims.back());
        n0 = get(B * O * T);
        n1 = get(B * O * T);
        n2 = get(B * O * T);
        n3 = get(B * O * T);
        n1m = get(B * T);
        n1r = get(B * T);
        n3m = get(B * T);
        n3r = get(B * T);
        dn_a = get(B * std::max(O, c.dims.back()) * T);
        dn_b = get(B * O * T);
        const int64_t r = std::max<int64_t>(opt.lora.rank, 1);
        u_qkv = get(rows * r);
        u_proj = get(rows * r);
        u_fc1 = get(rows * r);
        u_fc2 = get(rows * r);
        u_pad = get(r);
        du = get(rows * r);
        ws_batch = B;
        fwd_batch = 0;
    }

    // ---- units --------------------------------------------------------------------------------
    void unit_forward(size_t u, const float * in, float * out) {
        if (units[u].block >= 0) block_forward(blocks[(size_t) units[u].block], in, out);
        else merge_forward(merges[(size_t) units[u].merge], in, out);
    }
    void unit_backward(size_t u) {
        if (units[u].block >= 0) block_backward(blocks[(size_t) units[u].block], acts[u]);
        else merge_backward(merges[(size_t) units[u].merge], (int64_t) u > first_unit);
    }

    // PatchMerging: in (tokens [B, G*G, C] or NCHW) -> out tokens [B, G2*G2, O]; keeps the NCHW input
    // (cf_a when transposed), a1, g1, a2, g2.
    const float * merge_in_cf = nullptr;
    void merge_forward(const MergeP & m, const float * in, float * out) {
        const int64_t B = ws_batch, T = m.G * m.G, T2 = m.G2 * m.G2;
        merge_in_cf = in;
        if (m.tokens_in) {
            be.transpose_last2(in, cf_a, B, T, m.C);
            merge_in_cf = cf_a;
        }
        be.conv2d({merge_in_cf, P + m.c1.w, P + m.c1.b, m_a1, B, m.C, m.G, m.G, m.O, 1, 1, 1, 0, 1});
        be.gelu(m_a1, m_g1, B * m.O * T);
        be.conv2d({m_g1, P + m.c2.w, P + m.c2.b, m_a2, B, m.O, m.G, m.G, m.O, 3, 3, m.stride, 1, m.O});
        be.gelu(m_a2, m_g2, B * m.O * T2);
        be.conv2d({m_g2, P + m.c3.w, P + m.c3.b, cf_b, B, m.O, m.G2, m.G2, m.O, 1, 1, 1, 0, 1});
        be.transpose_last2(cf_b, out, B, m.O, T2);
    }

    // dx (d output tokens on entry) becomes d input tokens when need_dx (an earlier unit runs its
    // backward pass).
    void merge_backward(const MergeP & m, bool need_dx) {
        const int64_t B = ws_batch, T = m.G * m.G, T2 = m.G2 * m.G2;
        be.transpose_last2(dx, cf_b, B, T2, m.O);
        be.conv2d_backward({m_g2, P + m.c3.w, cf_b, dt, g(m.c3.w), g(m.c3.b), B, m.O, m.G2, m.G2, m.O, 1, 1, 1, 0});
        be.gelu_backward(m_a2, dt, dt, B * m.O * T2);
        be.depthwise_conv2d_backward(
            {m_g1, P + m.c2.w, dt, m_dg, g(m.c2.w), g(m.c2.b), B, m.O, m.G, m.G, 3, m.stride, 1});
        be.gelu_backward(m_a1, m_dg, m_dg, B * m.O * T);
        SA_CHECK(!need_dx || m.tokens_in, SA_ERR_INTERNAL, "TinyViT backward: no pass before stage 0's merge");
        float * dcf = need_dx ? cf_b : nullptr;
        be.conv2d_backward(
            {merge_in_cf, P + m.c1.w, m_dg, dcf, g(m.c1.w), g(m.c1.b), B, m.C, m.G, m.G, m.O, 1, 1, 1, 0});
        if (need_dx && m.tokens_in) be.transpose_last2(cf_b, dx, B, m.C, T);
    }

    // Attention block: x_in tokens [B*T, C] -> x_out; internals stay in the workspace.
    void block_forward(const BlockP & b, const float * x_in, float * x_out) {
        const int64_t B = ws_batch, C = b.C, rows = B * b.G * b.G, d = C / b.nh;
        be.layernorm({x_in, P + b.n1w, P + b.n1b, h1, ln1m, ln1r, rows, C, kBlockEps});
        be.linear(h1, P + b.qkvw, P + b.qkvb, qkv, rows, C, 3 * C);
        lora.forward(b.qkv, h1, qkv, u_qkv, rows);
        // padding tokens: qkv(LayerNorm(0)) = qkv(beta1)
        be.linear(P + b.n1b, P + b.qkvw, P + b.qkvb, pad, 1, C, 3 * C);
        lora.forward(b.qkv, P + b.n1b, pad, u_pad, 1);
        be.attention_tinyvit({qkv, pad, b.table, att, B, b.G, b.G, b.win, b.nh, d, d});
        be.linear(att, P + b.projw, P + b.projb, prj, rows, C, C);
        lora.forward(b.proj, att, prj, u_proj, rows);
        be.add(x_in, prj, x1, rows * C);
        be.depthwise3x3_nhwc({x1, P + b.local.w, P + b.local.b, x2, B, b.G, b.G, C});
        be.layernorm({x2, P + b.n2w, P + b.n2b, h2, ln2m, ln2r, rows, C, kBlockEps});
        be.linear(h2, P + b.f1w, P + b.f1b, mlp_a, rows, C, b.Hd);
        lora.forward(b.fc1, h2, mlp_a, u_fc1, rows);
        be.gelu(mlp_a, mlp_g, rows * b.Hd);
        be.linear(mlp_g, P + b.f2w, P + b.f2b, x_out, rows, b.Hd, C);
        lora.forward(b.fc2, mlp_g, x_out, u_fc2, rows);
        be.add(x2, x_out, x_out, rows * C);
    }

    // dx (d block output on entry) becomes d block input; the workspace holds the block's internals.
    void block_backward(const BlockP & b, const float * x_in) {
        const int64_t B = ws_batch, C = b.C, T = b.G * b.G, rows = B * T, d = C / b.nh, N = b.win * b.win;
        // MLP branch
        be.linear_backward({mlp_g, P + b.f2w, dx, dmlp, g(b.f2w), g(b.f2b), rows, b.Hd, C});
        lora.backward(b.fc2, mlp_g, dx, u_fc2, dmlp, du, rows);
        be.gelu_backward(mlp_a, dmlp, dmlp, rows * b.Hd);
        be.linear_backward({h2, P + b.f1w, dmlp, dh, g(b.f1w), g(b.f1b), rows, C, b.Hd});
        lora.backward(b.fc1, h2, dmlp, u_fc1, dh, du, rows);
        be.layernorm_backward({x2, P + b.n2w, ln2m, ln2r, dh, dt, g(b.n2w), g(b.n2b), rows, C});
        be.add(dx, dt, dx, rows * C);  // d x2
        // local conv (NCHW for the depthwise backward)
        be.transpose_last2(dx, cf_a, B, T, C);
        if (G) be.transpose_last2(x1, cf_b, B, T, C);
        be.depthwise_conv2d_backward(
            {G ? cf_b : nullptr, P + b.local.w, cf_a, dt, g(b.local.w), g(b.local.b), B, C, b.G, b.G, 3, 1, 1});
        be.transpose_last2(dt, dx, B, C, T);  // d x1
        // attention branch
        be.linear_backward({att, P + b.projw, dx, datt, g(b.projw), g(b.projb), rows, C, C});
        lora.backward(b.proj, att, dx, u_proj, datt, du, rows);
        const bool pad_grad = G || b.qkv.on();
        if (pad_grad) be.fill(dpad, 0.0f, (size_t) (3 * C));
        if (G) be.fill(dtable, 0.0f, (size_t) (b.nh * N * N));
        be.attention_tinyvit_backward({qkv, pad, b.table, datt, dqkv, pad_grad ? dpad : nullptr, G ? dtable : nullptr,
                                       B, b.G, b.G, b.win, b.nh, d, d});
        be.linear_backward({h1, P + b.qkvw, dqkv, dh, g(b.qkvw), g(b.qkvb), rows, C, 3 * C});
        lora.backward(b.qkv, h1, dqkv, u_qkv, dh, du, rows);
        if (pad_grad) {
            // pad = qkv(beta1): weight, bias, adapter and beta1 gradients
            be.linear_backward({P + b.n1b, P + b.qkvw, dpad, G ? dbeta : nullptr, g(b.qkvw), g(b.qkvb), 1, C, 3 * C});
            lora.backward(b.qkv, P + b.n1b, dpad, u_pad, G ? dbeta : nullptr, du, 1);
            if (G) be.add(G + b.n1b, dbeta, G + b.n1b, C);
        }
        be.layernorm_backward({x_in, P + b.n1w, ln1m, ln1r, dh, dt, g(b.n1w), g(b.n1b), rows, C});
        be.add(dx, dt, dx, rows * C);  // d x_in
        if (G) fold_table_grad(b);
    }

    // d attention_biases[h, idx] += sum of dtable[h, q, k] over the (q, k) pairs that read idx.
    void fold_table_grad(const BlockP & b) {
        const int64_t win = b.win, N = win * win;
        std::vector<float> dtab((size_t) (b.nh * N * N)), dab((size_t) (b.nh * N));
        be.synchronize();
        be.download(dtab.data(), dtable, dtab.size());
        be.download(dab.data(), G + b.ab, dab.size());
        for (int64_t h = 0; h < b.nh; ++h) {
            std::vector<double> acc((size_t) N, 0.0);
            for (int64_t q = 0; q < N; ++q)
                for (int64_t k = 0; k < N; ++k)
                    acc[(size_t) bias_index(q, k, win)] += dtab[(size_t) ((h * N + q) * N + k)];
            for (int64_t i = 0; i < N; ++i) dab[(size_t) (h * N + i)] += (float) acc[(size_t) i];
        }
        be.upload(G + b.ab, dab.data(), dab.size());
        be.synchronize();
    }

    DeviceBuffers bufs, ws;
    std::map<std::string, const float *> host_src;
    std::vector<Unit> units;
    std::vector<MergeP> merges;
    std::vector<BlockP> blocks;
    int64_t first_unit = 0;
    int64_t ws_batch = 0, fwd_batch = 0;
    std::vector<float *> acts;
    float *image = nullptr, *stage0_a = nullptr, *stage0_b = nullptr, *ytmp = nullptr;
    float *h1 = nullptr, *qkv = nullptr, *att = nullptr, *prj = nullptr, *x1 = nullptr, *x2 = nullptr, *h2 = nullptr,
          *mlp_a = nullptr, *mlp_g = nullptr, *ln1m = nullptr, *ln1r = nullptr, *ln2m = nullptr, *ln2r = nullptr;
    float *pad = nullptr, *dpad = nullptr, *dbeta = nullptr, *dtable = nullptr;
    float *dx = nullptr, *dt = nullptr, *dh = nullptr, *dmlp = nullptr, *dqkv = nullptr, *datt = nullptr;
    float *cf_a = nullptr, *cf_b = nullptr, *m_a1 = nullptr, *m_g1 = nullptr, *m_a2 = nullptr, *m_g2 = nullptr,
          *m_dg = nullptr;
    float *neck_in = nullptr, *n0 = nullptr, *n1 = nullptr, *n2 = nullptr, *n3 = nullptr, *n1m = nullptr,
          *n1r = nullptr, *n3m = nullptr, *n3r = nullptr, *dn_a = nullptr, *dn_b = nullptr;
    float *u_qkv = nullptr, *u_proj = nullptr, *u_fc1 = nullptr, *u_fc2 = nullptr, *u_pad = nullptr, *du = nullptr;
};

std::unique_ptr<TrainableEncoder> make_trainable_tinyvit(Backend & be, WeightMap & w, const std::string & prefix,
                                                         TrainableTinyVitOptions opt) {
    return std::make_unique<TrainableTinyVit>(be, w, prefix, opt);
}

}  // namespace sa
