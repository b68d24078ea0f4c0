// SPDX-License-Identifier: Apache-2.0
// One forward / backward pass of SAM's prompt encoder (device part) and mask decoder over a Backend,
// with every activation the backward pass needs kept in a workspace that is allocated once per
// problem shape (batch, sparse-token count, shared or per-prompt embeddings, mask input, training)
// and reused while the shape stays the same.
//
// Device inputs (filled by the caller after prepare()): the image embedding(s) [Bemb, C, E*E], the
// sparse positional encodings [B, Ns, C] and their one-hot label rows [B, Ns, 5] (columns: labels
// 0, 1, 2, 3, -1; see prompt-encoder.cpp), the optional low-res mask input [B, 1, 4E, 4E].
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "model/decoder-layout.h"
#include "sa/backend.h"

namespace sa::decoder {

constexpr int64_t kLabelKinds = 5;  // one-hot columns: label 0, 1, 2 (box corner 0), 3 (box corner 1), -1

struct GraphShape {
    int64_t B = 0, Ns = 0;
    bool per_prompt = false, has_mask = false, train = false;
    bool operator==(const GraphShape & o) const {
        return B == o.B && Ns == o.Ns && per_prompt == o.per_prompt && has_mask == o.has_mask && train == o.train;
    }
};

class DecoderGraph {
  public:
    // key_pe: device [E*E, C], the dense positional encoding, channels last (borrowed).
    DecoderGraph(Backend & be, const Layout & L, int64_t E, const float * key_pe);
    ~DecoderGraph();
    DecoderGraph(const DecoderGraph &) = delete;
    DecoderGraph & operator=(const DecoderGraph &) = delete;

    // Allocates the workspace for `s` unless it is already allocated for it.
    void prepare(const GraphShape & s);
    const GraphShape & shape() const { return s_; }

    // Inputs (device, valid after prepare()).
    float * in_embedding = nullptr;  // [per_prompt ? B : 1, C, HW]
    float * in_pe = nullptr;         // [B, Ns, C]
    float * in_onehot = nullptr;     // [B, Ns, 5]
    float * in_mask = nullptr;       // [B, 1, 16 HW] when has_mask

    // Prompt encoder only: sparse tokens and dense embeddings (device views valid afterwards).
    void encode_prompts(const float * params);
    const float * tokens() const { return tok0_; }  // [B, 1 + T + Ns, C]: iou, mask tokens, sparse
    const float * dense() const { return dense_; }  // [B, C, HW] when has_mask (else no_mask_embed)

    // Full forward pass. Masks are computed for mask tokens [sel0, sel0 + nsel) only.
    void forward(const float * params, int64_t sel0, int64_t nsel);
    const float * masks() const { return masks_; }  // [B, nsel, 16 HW]
    const float * iou() const { return iou_; }      // [B, T]

    // Backward pass of the last forward(): dmasks [B, nsel, 16 HW] (device), diou [B, T] (device, may be
    // null: no IoU-head gradient). Accumulates into grads (same layout as params). prompt_grads: also
    // the prompt encoder's learned embeddings (point table, no_mask_embed). embedding_grad: also the
    // gradient of the image embedding (embedding_grad_cl() afterwards).
    void backward(const float * params, float * grads, const float * dmasks, const float * diou, bool prompt_grads,
                  bool embedding_grad = false);
    // After backward(..., embedding_grad = true): d loss / d image embedding, channels last [B, HW, C]
    // (device; the dense prompt embedding added to it has the same gradient).
    const float * embedding_grad_cl() const { return dk_final_; }

    // Device scratch the caller may use for loss gradients, valid after prepare() with train = true.
    float * dmasks_buffer() { return dmasks_; }  // [B, T, 16 HW]
    float * diou_buffer() { return diou_; }      // [B, T]

  private:
    struct Attn {  // saved activations of the token self-attention
        float *q, *k, *v, *p, *o;
    };
    // The cross attentions run folded per head h (d = head dim, scale = 1/sqrt(d)), so that every
    // product with the HW image rows is a GEMM over the full width C (decoder-cross-attention.cpp).
    // Tokens to image: logits_h = scale Q_h (X Wk_h^T + bk_h)^T = ((Q_h Wk_h) X^T) scale + const per row
    // (the softmax cancels it, so bk has no effect), and P_h (Y Wv_h^T + bv_h) = (P_h Y) Wv_h^T + bv_h:
    // one single-head attention of the 8 Nt rows Q_h Wk_h against X (keys) and Y (values), width C.
    struct CrossT2I {
        float * q;   // [B, Nt, I] query projection
        float * qk;  // [B, nh, Nq, C] sqrt(C / d) Q_h Wk_h (the folded queries; Nq <= Nt attended rows)
        float * p;   // [B, nh * Nq, HW] probabilities
        float * px;  // [B, nh, Nq, C] P_h Y
        float * o;   // [B, Nt, I] attention output before out_proj
    };
    // Image to tokens: logits_h = scale (X Wq_h^T + bq_h) K_h^T = X (scale Wq_h^T K_h^T) + scale bq_h K_h^T
    // and out = sum_h P_h (V_h Wo_h^T) + bo: GEMMs of X against nh * Nt folded keys, a softmax over each
    // head's Nt logits, and a GEMM of P against nh * Nt folded values.
    struct CrossI2T {
        float *k, *v;  // [B, Nt, I] key / value projections of the tokens
        float * kq;    // [B, nh, Nt, C] scale K_h Wq_h (folded keys)
        float * c;     // [B, nh, Nt] scale K_h bq_h (logit bias per key)
        float * p;     // [B, HW, nh * Nt] probabilities
        float * vo;    // [B, nh, Nt, C] V_h Wo_h^T (folded values)
    };
    struct Block {
        const float * sa_in;
        float *sa_in_buf, *r1, *n1m, *n1r, *q1;
        float *t_qin, *kin, *r2, *n2m, *n2r, *q2;
        float *h, *r3, *n3m, *n3r, *q3;
        float *i_kq, *r4, *n4m, *n4r, *k1;
        Attn sa;
        CrossT2I t2i;
        CrossI2T i2t;
    };

    // Destination of an input gradient: overwritten, or added to (acc) so that the gradients of a
    // tensor feeding several layers are summed by the GEMMs themselves; p null: not needed.
    struct InGrad {
        float * p = nullptr;
        bool acc = false;
    };

    float * buf(int64_t n);
    void free_all();
    // out = residual (may be null) + attention(...) with the output projection's bias.
    void attn_forward(const AttnLayout & a, const float * P, const float * qin, int64_t Nq, const float * kin,
                      const float * vin, int64_t Nk, const Attn & s, float * out, const float * residual);
    // Input gradients in the order q, k, v (a later one may add to an earlier one's buffer).
    void attn_backward(const AttnLayout & a, const float * P, float * G, const float * qin, int64_t Nq,
                       const float * kin, const float * vin, int64_t Nk, const Attn & s, const float * dout,
                       InGrad dqin, InGrad dkin, InGrad dvin);
    // Folded cross attentions (see CrossT2I / CrossI2T): queries qin, keys kin, values vin, all [B, N, C]
    // rows; out = residual + attention with out_proj (residual required for i2t, optional for t2i).
    // Backward: dimg (image side, may be null) receives the sum of the image inputs' gradients added to it.
    // t2i attends the first Nq token rows of each sample only (Nq <= Nt, the same in forward and backward):
    // the other rows get out = residual + out_proj bias and zero query gradients. The final attention
    // uses it: only the IoU token and the mask tokens up to the last selected one are read after it.
    void t2i_forward(const AttnLayout & a, const float * P, const float * qin, const float * kin, const float * vin,
                     const CrossT2I & s, float * out, const float * residual, int64_t Nq);
    void t2i_backward(const AttnLayout & a, const float * P, float * G, const float * qin, const float * kin,
                      const float * vin, const CrossT2I & s, const float * dout, InGrad dqin, float * dimg, int64_t Nq);
    void i2t_forward(const AttnLayout & a, const float * P, const float * qin, const float * kin, const float * vin,
                     const CrossI2T & s, float * out, const float * residual);
    void i2t_backward(const AttnLayout & a, const float * P, float * G, const float * qin, const float * kin,
                      const float * vin, const CrossI2T & s, const float * dout, float * dimg, InGrad dkin,
                      InGrad dvin);
    // Linear backward (W [N, K]) with the input gradient overwritten or accumulated.
    void linear_backward(const float * x, const float * W, const float * dy, InGrad dx, float * dW, float * db,
                         int64_t M, int64_t K, int64_t N);
    void mlp_forward(const MlpLayout & m, const float * P, const float * x, const std::vector<float *> & acts,
                     float * out);
    void mlp_backward(const MlpLayout & m, const float * P, float * G, const float * x,
                      const std::vector<float *> & acts, const float * dout, float * dx);
    // The keys + key_pe buffer that block l reads (l == depth: the final attention's); written by the
    // prompt encoder (l = 0) and by block l - 1's last LayerNorm.
    float * keys_pe(int64_t l);
    // A 2x2/2 transposed convolution (W [Cin, O, 2, 2], b [O]) on channels-last pixels as a linear layer
    // Wl [4 O, Cin], bl [4 O]: row s * O + o of Wl is tap s = 2 ki + kj of output channel o.
    void convt_to_linear(const float * W, const float * b, int64_t Cin, int64_t O, float * Wl, float * bl);
    // Adds the linear form's gradients dWl [4 O, Cin], dbl [4 O] to the convolution's dW, db.
    void convt_grads_from_linear(const float * dWl, const float * dbl, int64_t Cin, int64_t O, float * dW, float * db);

    Backend & be_;
    const Layout & L_;
    int64_t E_, HW_;
    const float * key_pe_;
    GraphShape s_;
    bool allocated_ = false;
    std::vector<float *> owned_;
    int64_t Nt_ = 0, sel0_ = 0, nsel_ = 0;
    // Token rows the final attention attends: the IoU token and the mask tokens up to the last selected
    // one (the sparse prompt rows and later mask tokens are not read after it).
    int64_t final_rows() const { return std::min(Nt_, 1 + sel0_ + nsel_); }

    float *tok0_ = nullptr, *keys0_ = nullptr, *dense_ = nullptr, *src_cf_ = nullptr;
    float *md1_ = nullptr, *md1g_ = nullptr, *md2_ = nullptr, *md2g_ = nullptr;
    std::vector<Block> blocks_;
    CrossT2I fin_{};
    float * logits_ = nullptr;  // [B, HW, nh * Nt] image-to-token logits (forward scratch)
    float *f_qin_ = nullptr, *f_kin_ = nullptr, *rf_ = nullptr, *nfm_ = nullptr, *nfr_ = nullptr, *hs_ = nullptr;
    // Output upscaling on channels-last sub-pixel rows: y1 [B, 4 HW, up1] (pre-LayerNorm), u1g its
    // GELU(LayerNorm) (Backend::layernorm_gelu; u1n / du1n hold the LayerNorm output and its gradient on
    // backends that compose that op, the CPU does not touch them), y2 [B, 16 HW, up2] (pre-GELU; see
    // Backend::mask_head). wl*/bl*: the convolutions in linear form, wtmp_: weight reshuffling scratch.
    float *y1_ = nullptr, *u1m_ = nullptr, *u1r_ = nullptr, *u1n_ = nullptr, *u1g_ = nullptr, *y2_ = nullptr;
    float *wl1_ = nullptr, *bl1_ = nullptr, *wl2_ = nullptr, *bl2_ = nullptr, *wtmp_ = nullptr, *wtmp2_ = nullptr;
    float *mt_ = nullptr, *hyper_out_ = nullptr, *iou_in_ = nullptr, *iou_ = nullptr, *masks_ = nullptr;
    std::vector<std::vector<float *>> hyper_acts_;
    std::vector<float *> iou_acts_;
    // backward
    float *dmasks_ = nullptr, *diou_ = nullptr, *dhyper_ = nullptr, *dmt_ = nullptr, *diou_in_ = nullptr;
    float *dmlp_a_ = nullptr, *dmlp_b_ = nullptr;
    float *dy2_ = nullptr, *du1g_ = nullptr, *du1n_ = nullptr, *dy1_ = nullptr;
    float *dwl1_ = nullptr, *dbl1_ = nullptr, *dwl2_ = nullptr, *dbl2_ = nullptr;
    float *dk_a_ = nullptr, *dk_b_ = nullptr;
    float *dq_a_ = nullptr, *dq_b_ = nullptr, *dtmp_ = nullptr;
    float *dtok0_ = nullptr, *dh_ = nullptr, *dhs_ = nullptr;
    float *dO_ = nullptr, *dQ_ = nullptr, *dK_ = nullptr, *dV_ = nullptr;
    // cross-attention backward scratch: [B, nh * Nt, HW] probability gradients (two), [B, nh * Nt, C]
    // folded-operand gradients, [B, nh * Nt] logit-bias gradients
    float *dP_ = nullptr, *dS_ = nullptr, *dfold_ = nullptr, *dfold2_ = nullptr, *dc_ = nullptr;
    float * kv_scratch_ = nullptr;  // attention_backward_kv_acc scratch
    const float * dk_final_ = nullptr;
};

}  // namespace sa::decoder
