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
    // the prompt encoder's learned embeddings (point table, no_mask_embed).
    void backward(const float * params, float * grads, const float * dmasks, const float * diou, bool prompt_grads);

    // Device scratch the caller may use for loss gradients, valid after prepare() with train = true.
    float * dmasks_buffer() { return dmasks_; }  // [B, T, 16 HW]
    float * diou_buffer() { return diou_; }      // [B, T]

  private:
    struct Attn {  // saved activations of one attention module
        float *q, *k, *v, *p, *o;
    };
    struct Block {
        const float * sa_in;
        float *sa_in_buf, *r1, *n1m, *n1r, *q1;
        float *t_qin, *kin, *r2, *n2m, *n2r, *q2;
        float *h, *r3, *n3m, *n3r, *q3;
        float *i_kq, *r4, *n4m, *n4r, *k1;
        Attn sa, t2i, i2t;
    };

    float * buf(int64_t n);
    void free_all();
    void attn_forward(const AttnLayout & a, const float * P, const float * qin, int64_t Nq, const float * kin,
                      const float * vin, int64_t Nk, const Attn & s, float * out);
    void attn_backward(const AttnLayout & a, const float * P, float * G, const float * qin, int64_t Nq,
                       const float * kin, const float * vin, int64_t Nk, const Attn & s, const float * dout,
                       float * dqin, float * dkin, float * dvin);
    void mlp_forward(const MlpLayout & m, const float * P, const float * x, const std::vector<float *> & acts,
                     float * out);
    void mlp_backward(const MlpLayout & m, const float * P, float * G, const float * x,
                      const std::vector<float *> & acts, const float * dout, float * dx);
    void add_key_pe(const float * k, float * out);  // out[b] = k[b] + key_pe

    Backend & be_;
    const Layout & L_;
    int64_t E_, HW_;
    const float * key_pe_;
    GraphShape s_;
    bool allocated_ = false;
    std::vector<float *> owned_;
    int64_t Nt_ = 0, sel0_ = 0, nsel_ = 0;

    float *tok0_ = nullptr, *keys0_ = nullptr, *dense_ = nullptr, *src_cf_ = nullptr;
    float *md1_ = nullptr, *md1g_ = nullptr, *md2_ = nullptr, *md2g_ = nullptr, *ones_ = nullptr;
    std::vector<Block> blocks_;
    Attn fin_{};
    float *f_qin_ = nullptr, *f_kin_ = nullptr, *rf_ = nullptr, *nfm_ = nullptr, *nfr_ = nullptr, *hs_ = nullptr;
    float *src_t_ = nullptr, *u1_ = nullptr, *u1m_ = nullptr, *u1r_ = nullptr, *u1n_ = nullptr, *u1g_ = nullptr;
    float *u2_ = nullptr, *up_ = nullptr;
    float *mt_ = nullptr, *hyper_out_ = nullptr, *iou_in_ = nullptr, *iou_ = nullptr, *masks_ = nullptr;
    std::vector<std::vector<float *>> hyper_acts_;
    std::vector<float *> iou_acts_;
    // backward
    float *dmasks_ = nullptr, *diou_ = nullptr, *dhyper_ = nullptr, *dmt_ = nullptr, *diou_in_ = nullptr;
    float *dmlp_a_ = nullptr, *dmlp_b_ = nullptr;
    float *dup_ = nullptr, *du2_ = nullptr, *du1g_ = nullptr, *du1n_ = nullptr, *du1_ = nullptr, *dsrc_t_ = nullptr;
    float *dk_a_ = nullptr, *dk_b_ = nullptr, *dkin_ = nullptr, *dtmp_big_ = nullptr, *dtmp_big2_ = nullptr;
    float *dq_a_ = nullptr, *dq_b_ = nullptr, *dtmp_ = nullptr, *dtmp2_ = nullptr, *dtmp3_ = nullptr;
    float *dtok0_ = nullptr, *dh_ = nullptr, *dhs_ = nullptr;
    float *dO_ = nullptr, *dQ_ = nullptr, *dK_ = nullptr, *dV_ = nullptr;
    const float * dk_final_ = nullptr;
};

}  // namespace sa::decoder
