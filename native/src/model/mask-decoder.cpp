// SPDX-License-Identifier: Apache-2.0
// SAM's mask decoder (official MaskDecoder + TwoWayTransformer) forward and hand-written backward on
// the Backend. Tokens [B, Nt, C] = [iou_token, mask_tokens(T), sparse(Ns)], image keys [B, HW, C]
// (channels last). Two-way blocks:
//   queries = LN1(self_attn(queries + pe) + queries)     (layer 0: LN1(self_attn(queries)), no residual)
//   queries = LN2(queries + attn_t2i(q = queries + pe, k = keys + key_pe, v = keys))
//   queries = LN3(queries + mlp(queries))                 (ReLU)
//   keys    = LN4(keys + attn_i2t(q = keys + key_pe, k = queries + pe, v = queries))
// then queries = LN(queries + attn_final(q = queries + pe, k = keys + key_pe, v = keys)); masks =
// hypernetwork(mask token) @ upscale(keys); iou = iou_head(iou token). pe is the initial token matrix.
// Nothing reads the final queries of the sparse prompt rows or of mask tokens after the selected ones,
// so the final attention attends only the rows before them (final_rows(); saves most of that attention).
// The cross attentions run in folded form (decoder-cross-attention.cpp); the output upscaling runs on
// channels-last pixels, its transposed convolutions as linear layers (see forward()). Gradients of a
// tensor that feeds several layers are summed by accumulating GEMMs (InGrad) rather than extra passes.
#include <algorithm>
#include <utility>

#include "model/decoder-graph.h"
#include "sa/status.h"

namespace sa::decoder {

namespace {
constexpr float kEpsTransformer = 1e-5f;
constexpr float kEpsLN2d = 1e-6f;
}  // namespace

DecoderGraph::DecoderGraph(Backend & be, const Layout & L, int64_t E, const float * key_pe)
    : be_(be), L_(L), E_(E), HW_(E * E), key_pe_(key_pe) {}

DecoderGraph::~DecoderGraph() {
    free_all();
}

float * DecoderGraph::buf(int64_t n) {
    float * p = be_.alloc((size_t) std::max<int64_t>(n, 1));
    owned_.push_back(p);
    return p;
}

void DecoderGraph::free_all() {
    for (float * p : owned_) be_.free(p);
    owned_.clear();
    blocks_.clear();
    hyper_acts_.clear();
    iou_acts_.clear();
    allocated_ = false;
}

void DecoderGraph::prepare(const GraphShape & s) {
    SA_CHECK_ARG(s.B >= 1 && s.Ns >= 0, "mask decoder: batch must be >= 1");
    if (allocated_ && s == s_) return;
    free_all();
    s_ = s;
    const int64_t B = s.B, C = L_.C, T = L_.T, HW = HW_;
    const int64_t Nt = 1 + T + s.Ns;
    Nt_ = Nt;
    const int64_t H4 = 4 * HW, H16 = 16 * HW;
    const int64_t Ci = L_.cross_internal, Cs = L_.self_internal;
    const int64_t tokC = B * Nt * C, imgC = B * HW * C;

    in_embedding = buf((s.per_prompt ? B : 1) * C * HW);
    in_pe = buf(B * s.Ns * C);
    in_onehot = buf(B * s.Ns * kLabelKinds);
    in_mask = s.has_mask ? buf(B * H16) : nullptr;

    tok0_ = buf(tokC);
    keys0_ = buf(imgC);
    if (s.has_mask) {
        const int64_t m4 = L_.mask_in_chans / 4, m = L_.mask_in_chans;
        md1_ = buf(B * m4 * H4);
        md1g_ = buf(B * m4 * H4);
        md2_ = buf(B * m * HW);
        md2g_ = buf(B * m * HW);
        dense_ = buf(B * C * HW);
        src_cf_ = buf(B * C * HW);
    } else {
        md1_ = md1g_ = md2_ = md2g_ = dense_ = src_cf_ = nullptr;
    }
    const int64_t F = kHeads * Nt;  // folded rows of the cross attentions
    auto t2i_bufs = [&](int64_t internal) {
        CrossT2I a{};
        a.q = buf(B * Nt * internal);
        a.qk = buf(B * F * C);
        a.p = buf(B * F * HW);
        a.px = buf(B * F * C);
        a.o = buf(B * Nt * internal);
        return a;
    };
    auto i2t_bufs = [&](int64_t internal) {
        CrossI2T a{};
        a.k = buf(B * Nt * internal);
        a.v = buf(B * Nt * internal);
        a.kq = buf(B * F * C);
        a.c = buf(B * F);
        a.p = buf(B * HW * F);
        a.vo = buf(B * F * C);
        return a;
    };
    logits_ = buf(B * HW * F);
    auto attn_bufs = [&](int64_t Nq, int64_t Nk, int64_t internal) {
        Attn a{};
        a.q = buf(B * Nq * internal);
        a.k = buf(B * Nk * internal);
        a.v = buf(B * Nk * internal);
        a.p = buf(B * kHeads * Nq * Nk);
        a.o = buf(B * Nq * internal);
        return a;
    };
    for (int64_t l = 0; l < L_.depth; ++l) {
        Block b{};
        b.sa_in_buf = l == 0 ? nullptr : buf(tokC);
        b.sa = attn_bufs(Nt, Nt, Cs);
        b.r1 = buf(tokC);
        b.n1m = buf(B * Nt);
        b.n1r = buf(B * Nt);
        b.q1 = buf(tokC);
        b.t_qin = buf(tokC);
        b.kin = buf(imgC);
        b.t2i = t2i_bufs(Ci);
        b.r2 = buf(tokC);
        b.n2m = buf(B * Nt);
        b.n2r = buf(B * Nt);
        b.q2 = buf(tokC);
        b.h = buf(B * Nt * L_.mlp);
        b.r3 = buf(tokC);
        b.n3m = buf(B * Nt);
        b.n3r = buf(B * Nt);
        b.q3 = buf(tokC);
        b.i_kq = buf(tokC);
        b.i2t = i2t_bufs(Ci);
        b.r4 = buf(imgC);
        b.n4m = buf(B * HW);
        b.n4r = buf(B * HW);
        b.k1 = buf(imgC);
        blocks_.push_back(b);
    }
    f_qin_ = buf(tokC);
    f_kin_ = buf(imgC);
    fin_ = t2i_bufs(Ci);
    rf_ = buf(tokC);
    nfm_ = buf(B * Nt);
    nfr_ = buf(B * Nt);
    hs_ = buf(tokC);
    y1_ = buf(B * L_.up1 * H4);
    u1m_ = buf(B * H4);
    u1r_ = buf(B * H4);
    u1n_ = buf(B * L_.up1 * H4);
    u1g_ = buf(B * L_.up1 * H4);
    y2_ = buf(B * L_.up2 * H16);
    wl1_ = buf(4 * L_.up1 * C);
    bl1_ = buf(4 * L_.up1);
    wl2_ = buf(4 * L_.up2 * L_.up1);
    bl2_ = buf(4 * L_.up2);
    wtmp_ = buf(std::max(4 * L_.up1 * C, 4 * L_.up2 * L_.up1));
    wtmp2_ = buf(std::max(4 * L_.up1 * C, 4 * L_.up2 * L_.up1));
    mt_ = buf(T * B * C);
    hyper_out_ = buf(T * B * L_.up2);
    iou_in_ = buf(B * C);
    iou_ = buf(B * T);
    masks_ = buf(B * T * H16);
    int64_t max_mlp = C;
    for (int64_t t = 0; t < T; ++t) {
        std::vector<float *> acts;
        const MlpLayout & m = L_.hyper[(size_t) t];
        for (size_t i = 0; i + 1 < m.w.size(); ++i) acts.push_back(buf(B * m.dims[i + 1]));
        for (int64_t d : m.dims) max_mlp = std::max(max_mlp, d);
        hyper_acts_.push_back(acts);
    }
    for (size_t i = 0; i + 1 < L_.iou_head.w.size(); ++i) iou_acts_.push_back(buf(B * L_.iou_head.dims[i + 1]));
    for (int64_t d : L_.iou_head.dims) max_mlp = std::max(max_mlp, d);

    if (s.train) {
        dmasks_ = buf(B * T * H16);
        diou_ = buf(B * T);
        dhyper_ = buf(T * B * L_.up2);
        dmt_ = buf(T * B * C);
        diou_in_ = buf(B * C);
        dmlp_a_ = buf(B * max_mlp);
        dmlp_b_ = buf(B * max_mlp);
        dy2_ = buf(B * L_.up2 * H16);
        du1g_ = buf(B * L_.up1 * H4);
        du1n_ = buf(B * L_.up1 * H4);
        dy1_ = buf(B * L_.up1 * H4);
        dwl1_ = buf(4 * L_.up1 * C);
        dbl1_ = buf(4 * L_.up1);
        dwl2_ = buf(4 * L_.up2 * L_.up1);
        dbl2_ = buf(4 * L_.up2);
        dk_a_ = buf(imgC);
        dk_b_ = buf(imgC);
        dq_a_ = buf(tokC);
        dq_b_ = buf(tokC);
        dtmp_ = buf(tokC);
        dtok0_ = buf(tokC);
        dhs_ = buf(tokC);
        dh_ = buf(B * Nt * L_.mlp);
        const int64_t rows = B * Nt * std::max(Ci, Cs);
        dO_ = buf(rows);
        dQ_ = buf(rows);
        dK_ = buf(rows);
        dV_ = buf(rows);
        dP_ = buf(B * F * HW);
        dS_ = buf(B * F * HW);
        dfold_ = buf(B * F * C);
        dfold2_ = buf(B * F * C);
        dc_ = buf(B * F);
        kv_scratch_ = buf(2 * imgC);  // untouched by backends that accumulate in place
    }
    allocated_ = true;
}

float * DecoderGraph::keys_pe(int64_t l) {
    return l < L_.depth ? blocks_[(size_t) l].kin : f_kin_;
}

void DecoderGraph::convt_to_linear(const float * W, const float * b, int64_t Cin, int64_t O, float * Wl, float * bl) {
    be_.transpose_last2(W, wtmp_, Cin, O, 4);       // [Cin, 4, O]
    be_.transpose_last2(wtmp_, Wl, 1, Cin, 4 * O);  // [4 O, Cin]
    for (int64_t s = 0; s < 4; ++s) be_.copy(bl + s * O, b, (size_t) O);
}

void DecoderGraph::convt_grads_from_linear(const float * dWl, const float * dbl, int64_t Cin, int64_t O, float * dW,
                                           float * db) {
    be_.transpose_last2(dWl, wtmp_, 1, 4 * O, Cin);  // [Cin, 4, O]
    be_.transpose_last2(wtmp_, wtmp2_, Cin, 4, O);   // [Cin, O, 4]
    be_.add(dW, wtmp2_, dW, Cin * O * 4);
    for (int64_t s = 0; s < 4; ++s) be_.add(db, dbl + s * O, db, O);
}

void DecoderGraph::attn_forward(const AttnLayout & a, const float * P, const float * qin, int64_t Nq, const float * kin,
                                const float * vin, int64_t Nk, const Attn & s, float * out, const float * residual) {
    const int64_t B = s_.B, C = L_.C, I = a.internal;
    be_.linear(qin, P + a.qw, P + a.qb, s.q, B * Nq, C, I);
    be_.linear(kin, P + a.kw, P + a.kb, s.k, B * Nk, C, I);
    be_.linear(vin, P + a.vw, P + a.vb, s.v, B * Nk, C, I);
    be_.attention({s.q, s.k, s.v, s.o, s.p, B, Nq, Nk, kHeads, I / kHeads});
    if (residual) {
        be_.add_bias(residual, P + a.ob, out, B * Nq, C);
        be_.gemm({false, true, B * Nq, C, I, 1.0f, {s.o, I}, {P + a.ow, I}, 1.0f, {out, C}});
    } else {
        be_.linear(s.o, P + a.ow, P + a.ob, out, B * Nq, I, C);
    }
}

void DecoderGraph::linear_backward(const float * x, const float * W, const float * dy, InGrad dx, float * dW,
                                   float * db, int64_t M, int64_t K, int64_t N) {
    if (dx.p && dx.acc) {
        be_.gemm({false, false, M, K, N, 1.0f, {dy, N}, {W, K}, 1.0f, {dx.p, K}});
        be_.linear_backward({x, W, dy, nullptr, dW, db, M, K, N});
    } else {
        be_.linear_backward({x, W, dy, dx.p, dW, db, M, K, N});
    }
}

void DecoderGraph::attn_backward(const AttnLayout & a, const float * P, float * G, const float * qin, int64_t Nq,
                                 const float * kin, const float * vin, int64_t Nk, const Attn & s, const float * dout,
                                 InGrad dqin, InGrad dkin, InGrad dvin) {
    const int64_t B = s_.B, C = L_.C, I = a.internal;
    be_.linear_backward({s.o, P + a.ow, dout, dO_, G + a.ow, G + a.ob, B * Nq, I, C});
    be_.attention_backward({s.q, s.k, s.v, s.p, dO_, dQ_, dK_, dV_, B, Nq, Nk, kHeads, I / kHeads});
    linear_backward(qin, P + a.qw, dQ_, dqin, G + a.qw, G + a.qb, B * Nq, C, I);
    linear_backward(kin, P + a.kw, dK_, dkin, G + a.kw, G + a.kb, B * Nk, C, I);
    linear_backward(vin, P + a.vw, dV_, dvin, G + a.vw, G + a.vb, B * Nk, C, I);
}

void DecoderGraph::mlp_forward(const MlpLayout & m, const float * P, const float * x, const std::vector<float *> & acts,
                               float * out) {
    const int64_t B = s_.B;
    const size_t n = m.w.size();
    const float * cur = x;
    for (size_t i = 0; i < n; ++i) {
        float * y = i + 1 == n ? out : acts[i];
        be_.linear(cur, P + m.w[i], P + m.b[i], y, B, m.dims[i], m.dims[i + 1]);
        if (i + 1 < n) be_.relu(y, y, B * m.dims[i + 1]);
        cur = y;
    }
}

void DecoderGraph::mlp_backward(const MlpLayout & m, const float * P, float * G, const float * x,
                                const std::vector<float *> & acts, const float * dout, float * dx) {
    const int64_t B = s_.B;
    const size_t n = m.w.size();
    const float * dy = dout;
    float * bufs[2] = {dmlp_a_, dmlp_b_};
    for (size_t k = n; k-- > 0;) {
        const float * xin = k == 0 ? x : acts[k - 1];
        float * dxk = k == 0 ? dx : bufs[k % 2];
        be_.linear_backward({xin, P + m.w[k], dy, dxk, G + m.w[k], G + m.b[k], B, m.dims[k], m.dims[k + 1]});
        if (k > 0) be_.relu_backward(acts[k - 1], dxk, dxk, B * m.dims[k]);
        dy = dxk;
    }
}

void DecoderGraph::forward(const float * P, int64_t sel0, int64_t nsel) {
    SA_CHECK(allocated_, SA_ERR_INTERNAL, "mask decoder: forward before prepare");
    SA_CHECK_ARG(sel0 >= 0 && nsel >= 1 && sel0 + nsel <= L_.T, "mask decoder: bad mask token selection");
    sel0_ = sel0;
    nsel_ = nsel;
    const int64_t B = s_.B, C = L_.C, T = L_.T, Nt = Nt_, HW = HW_, E = E_;
    const int64_t H4 = 4 * HW;
    encode_prompts(P);

    // ---- two-way transformer --------------------------------------------------------------------
    const float * q = tok0_;
    const float * k = keys0_;
    for (int64_t l = 0; l < L_.depth; ++l) {
        const BlockLayout & W = L_.blocks[(size_t) l];
        Block & s = blocks_[(size_t) l];
        // self attention
        if (l == 0) {
            s.sa_in = q;
        } else {
            be_.add(q, tok0_, s.sa_in_buf, B * Nt * C);
            s.sa_in = s.sa_in_buf;
        }
        attn_forward(W.self_attn, P, s.sa_in, Nt, s.sa_in, q, Nt, s.sa, s.r1, l > 0 ? q : nullptr);
        be_.layernorm({s.r1, P + W.norm1.w, P + W.norm1.b, s.q1, s.n1m, s.n1r, B * Nt, C, kEpsTransformer});
        // cross attention, tokens to image
        be_.add(s.q1, tok0_, s.t_qin, B * Nt * C);
        t2i_forward(W.t2i, P, s.t_qin, s.kin, k, s.t2i, s.r2, s.q1, Nt);
        be_.layernorm({s.r2, P + W.norm2.w, P + W.norm2.b, s.q2, s.n2m, s.n2r, B * Nt, C, kEpsTransformer});
        // MLP
        be_.linear(s.q2, P + W.lin1w, P + W.lin1b, s.h, B * Nt, C, L_.mlp);
        be_.relu(s.h, s.h, B * Nt * L_.mlp);
        be_.linear(s.h, P + W.lin2w, P + W.lin2b, s.r3, B * Nt, L_.mlp, C);
        be_.add(s.r3, s.q2, s.r3, B * Nt * C);
        be_.layernorm({s.r3, P + W.norm3.w, P + W.norm3.b, s.q3, s.n3m, s.n3r, B * Nt, C, kEpsTransformer});
        // cross attention, image to tokens
        be_.add(s.q3, tok0_, s.i_kq, B * Nt * C);
        i2t_forward(W.i2t, P, s.kin, s.i_kq, s.q3, s.i2t, s.r4, k);
        be_.layernorm_add({{s.r4, P + W.norm4.w, P + W.norm4.b, s.k1, s.n4m, s.n4r, B * HW, C, kEpsTransformer},
                           key_pe_,
                           keys_pe(l + 1),
                           HW});
        q = s.q3;
        k = s.k1;
    }
    be_.add(q, tok0_, f_qin_, B * Nt * C);
    t2i_forward(L_.final_attn, P, f_qin_, f_kin_, k, fin_, rf_, q, final_rows());
    be_.layernorm({rf_, P + L_.norm_final.w, P + L_.norm_final.b, hs_, nfm_, nfr_, B * Nt, C, kEpsTransformer});

    // ---- output upscaling: convT 2x2/2 -> LayerNorm2d -> GELU -> convT 2x2/2 -> GELU ----------------
    // On channels-last pixels each transposed convolution is a linear layer to its 4 kernel taps, so the
    // keys feed it directly and LayerNorm2d is a LayerNorm over the rows; the pixels stay in sub-pixel
    // order until the mask head writes the masks in raster order.
    const int64_t U1 = L_.up1, U2 = L_.up2;
    convt_to_linear(P + L_.up0w, P + L_.up0b, C, U1, wl1_, bl1_);
    convt_to_linear(P + L_.up3w, P + L_.up3b, U1, U2, wl2_, bl2_);
    be_.linear(k, wl1_, bl1_, y1_, B * HW, C, 4 * U1);
    be_.layernorm_gelu({y1_, P + L_.up1w, P + L_.up1b, u1g_, u1m_, u1r_, u1n_, B * H4, U1, kEpsLN2d});
    be_.linear(u1g_, wl2_, bl2_, y2_, B * H4, U1, 4 * U2);

    // ---- heads ------------------------------------------------------------------------------------
    for (int64_t t = 0; t < T; ++t)
        for (int64_t b = 0; b < B; ++b) be_.copy(mt_ + (t * B + b) * C, hs_ + (b * Nt + 1 + t) * C, (size_t) C);
    for (int64_t t = sel0; t < sel0 + nsel; ++t)
        mlp_forward(L_.hyper[(size_t) t], P, mt_ + t * B * C, hyper_acts_[(size_t) t], hyper_out_ + t * B * U2);
    be_.mask_head({y2_, hyper_out_ + sel0 * B * U2, masks_, B, nsel, E, U2});
    for (int64_t b = 0; b < B; ++b) be_.copy(iou_in_ + b * C, hs_ + b * Nt * C, (size_t) C);
    mlp_forward(L_.iou_head, P, iou_in_, iou_acts_, iou_);
}

void DecoderGraph::backward(const float * P, float * G, const float * dmasks, const float * diou, bool prompt_grads,
                            bool embedding_grad) {
    SA_CHECK(allocated_ && s_.train, SA_ERR_INTERNAL, "mask decoder: backward needs a training workspace");
    const int64_t B = s_.B, C = L_.C, T = L_.T, Nt = Nt_, HW = HW_, E = E_;
    const int64_t H4 = 4 * HW;
    const int64_t U2 = L_.up2, tokC = B * Nt * C;

    // ---- heads ------------------------------------------------------------------------------------
    be_.fill(dhs_, 0.0f, (size_t) tokC);
    be_.mask_head_backward({y2_, hyper_out_ + sel0_ * B * U2, dmasks, dy2_, dhyper_ + sel0_ * B * U2, B, nsel_, E, U2});
    for (int64_t t = sel0_; t < sel0_ + nsel_; ++t) {
        mlp_backward(L_.hyper[(size_t) t], P, G, mt_ + t * B * C, hyper_acts_[(size_t) t], dhyper_ + t * B * U2,
                     dmt_ + t * B * C);
        for (int64_t b = 0; b < B; ++b) be_.copy(dhs_ + (b * Nt + 1 + t) * C, dmt_ + (t * B + b) * C, (size_t) C);
    }
    if (diou) {
        mlp_backward(L_.iou_head, P, G, iou_in_, iou_acts_, diou, diou_in_);
        for (int64_t b = 0; b < B; ++b) be_.copy(dhs_ + b * Nt * C, diou_in_ + b * C, (size_t) C);
    }

    // ---- output upscaling -------------------------------------------------------------------------
    const int64_t U1 = L_.up1;
    const float * kL = L_.depth > 0 ? blocks_.back().k1 : keys0_;
    be_.fill(dwl1_, 0.0f, (size_t) (4 * U1 * C));
    be_.fill(dbl1_, 0.0f, (size_t) (4 * U1));
    be_.fill(dwl2_, 0.0f, (size_t) (4 * U2 * U1));
    be_.fill(dbl2_, 0.0f, (size_t) (4 * U2));
    be_.linear_backward({u1g_, wl2_, dy2_, du1g_, dwl2_, dbl2_, B * H4, U1, 4 * U2});
    be_.layernorm_gelu_backward(
        {y1_, P + L_.up1w, P + L_.up1b, u1m_, u1r_, u1n_, du1g_, dy1_, G + L_.up1w, G + L_.up1b, du1n_, B * H4, U1});
    float * dk = dk_a_;   // gradient w.r.t. the current keys
    float * dkr = dk_b_;  // second image-sized gradient buffer
    be_.linear_backward({kL, wl1_, dy1_, dk, dwl1_, dbl1_, B * HW, C, 4 * U1});
    convt_grads_from_linear(dwl2_, dbl2_, U1, U2, G + L_.up3w, G + L_.up3b);
    convt_grads_from_linear(dwl1_, dbl1_, C, U1, G + L_.up0w, G + L_.up0b);

    // ---- final attention --------------------------------------------------------------------------
    float * dq = dq_a_;
    float * dr = dq_b_;
    be_.layernorm_backward(
        {rf_, P + L_.norm_final.w, nfm_, nfr_, dhs_, dq, G + L_.norm_final.w, G + L_.norm_final.b, B * Nt, C});
    be_.fill(dtok0_, 0.0f, (size_t) tokC);
    t2i_backward(L_.final_attn, P, G, f_qin_, f_kin_, kL, fin_, dq, {dtmp_}, dk, final_rows());
    be_.add(dq, dtmp_, dq, tokC);
    be_.add(dtok0_, dtmp_, dtok0_, tokC);

    // ---- two-way blocks, last to first ------------------------------------------------------------
    for (int64_t l = L_.depth - 1; l >= 0; --l) {
        const BlockLayout & W = L_.blocks[(size_t) l];
        Block & s = blocks_[(size_t) l];
        const float * q0 = l == 0 ? tok0_ : blocks_[(size_t) l - 1].q3;
        const float * k0 = l == 0 ? keys0_ : blocks_[(size_t) l - 1].k1;
        const bool need_dk = l > 0 || prompt_grads || embedding_grad;
        // image to tokens: dk holds d k1 on entry
        be_.layernorm_backward({s.r4, P + W.norm4.w, s.n4m, s.n4r, dk, dkr, G + W.norm4.w, G + W.norm4.b, B * HW, C});
        std::swap(dk, dkr);  // dk = d r4 = residual part of d k0; the projections of k0 add to it
        i2t_backward(W.i2t, P, G, s.kin, s.i_kq, s.q3, s.i2t, dk, need_dk ? dk : nullptr, {dtmp_}, {dq, true});
        be_.add(dq, dtmp_, dq, tokC);
        be_.add(dtok0_, dtmp_, dtok0_, tokC);
        // MLP
        be_.layernorm_backward({s.r3, P + W.norm3.w, s.n3m, s.n3r, dq, dr, G + W.norm3.w, G + W.norm3.b, B * Nt, C});
        std::swap(dq, dr);  // dq = d r3 = residual part of d q2
        be_.linear_backward({s.h, P + W.lin2w, dq, dh_, G + W.lin2w, G + W.lin2b, B * Nt, L_.mlp, C});
        be_.relu_backward(s.h, dh_, dh_, B * Nt * L_.mlp);
        linear_backward(s.q2, P + W.lin1w, dh_, {dq, true}, G + W.lin1w, G + W.lin1b, B * Nt, C, L_.mlp);
        // tokens to image
        be_.layernorm_backward({s.r2, P + W.norm2.w, s.n2m, s.n2r, dq, dr, G + W.norm2.w, G + W.norm2.b, B * Nt, C});
        std::swap(dq, dr);  // dq = d r2 = residual part of d q1
        t2i_backward(W.t2i, P, G, s.t_qin, s.kin, k0, s.t2i, dq, {dtmp_}, need_dk ? dk : nullptr, Nt);  // dk = d k0
        be_.add(dq, dtmp_, dq, tokC);
        be_.add(dtok0_, dtmp_, dtok0_, tokC);
        // self attention
        be_.layernorm_backward({s.r1, P + W.norm1.w, s.n1m, s.n1r, dq, dr, G + W.norm1.w, G + W.norm1.b, B * Nt, C});
        std::swap(dq, dr);  // dq = d r1
        if (l > 0) {
            // r1 = q0 + attn(q0 + pe, q0 + pe, q0): the value path adds to the residual
            attn_backward(W.self_attn, P, G, s.sa_in, Nt, s.sa_in, q0, Nt, s.sa, dq, {dtmp_}, {dtmp_, true},
                          {dq, true});
            be_.add(dq, dtmp_, dq, tokC);
            be_.add(dtok0_, dtmp_, dtok0_, tokC);
        } else {
            // layer 0: r1 = attn(q0, q0, q0), no residual
            attn_backward(W.self_attn, P, G, s.sa_in, Nt, s.sa_in, q0, Nt, s.sa, dq, {dr}, {dr, true}, {dr, true});
            std::swap(dq, dr);
        }
    }
    be_.add(dtok0_, dq, dtok0_, tokC);  // the first queries are the initial tokens
    dk_final_ = dk;

    // ---- parameters of the tokens ----------------------------------------------------------------
    for (int64_t b = 0; b < B; ++b) be_.add(G + L_.iou_token, dtok0_ + b * Nt * C, G + L_.iou_token, (1 + T) * C);
    if (prompt_grads) {
        const int64_t Ns = s_.Ns;
        if (Ns > 0)
            for (int64_t b = 0; b < B; ++b)
                // clang-format off
                be_.gemm({true, false, kLabelKinds, C, Ns, 1.0f, {in_onehot + b * Ns * kLabelKinds, kLabelKinds}, {dtok0_ + (b * Nt + 1 + T) * C, C}, 1.0f, {G + L_.point_table, C}});
        // clang-format on
        if (!s_.has_mask) be_.linear_backward({nullptr, nullptr, dk, nullptr, nullptr, G + L_.no_mask, B * HW, 0, C});
    }
}

}  // namespace sa::decoder
