// SPDX-License-Identifier: Apache-2.0
// The mask decoder's cross attentions between the Nt tokens and the HW image rows, forward and
// backward, in the folded form described in decoder-graph.h (CrossT2I / CrossI2T). The folding moves
// each head's projection of the image rows into the tiny token side: the products with the image are
// GEMMs of width C over all heads at once (the same multiply-add count as projecting the image rows
// first), and what remains per head are [Nt, d] x [d, C] products. Head h of a projection is rows
// [h d, (h + 1) d) of its weight W [I, C] (columns of the projected activations).
#include <cmath>

#include "model/decoder-graph.h"
#include "sa/status.h"

namespace sa::decoder {

// ---- tokens to image ----------------------------------------------------------------------------

void DecoderGraph::t2i_forward(const AttnLayout & a, const float * P, const float * qin, const float * kin,
                               const float * vin, const CrossT2I & s, float * out, const float * residual, int64_t Nq) {
    const int64_t B = s_.B, C = L_.C, I = a.internal, Nt = Nt_, HW = HW_, nh = kHeads, d = I / nh;
    const float fold = std::sqrt((float) C / (float) d);  // attention over width C scales by 1/sqrt(C)
    be_.linear(qin, P + a.qw, P + a.qb, s.q, B * Nt, C, I);
    for (int64_t b = 0; b < B; ++b)  // qk_h = fold Q_h Wk_h
        // clang-format off
        be_.gemm_batched({false, false, Nq, C, d, fold, {s.q + b * Nt * I, I, d}, {P + a.kw, C, d * C}, 0.0f, {s.qk + b * nh * Nq * C, C, Nq * C}, nh});
    // clang-format on
    be_.attention({s.qk, kin, vin, s.px, s.p, B, nh * Nq, HW, 1, C});
    for (int64_t b = 0; b < B; ++b)  // o_h = px_h Wv_h^T
        // clang-format off
        be_.gemm_batched({false, true, Nq, d, C, 1.0f, {s.px + b * nh * Nq * C, C, Nq * C}, {P + a.vw, C, d * C}, 0.0f, {s.o + b * Nt * I, I, d}, nh});
    // clang-format on
    be_.add_bias(s.o, P + a.vb, s.o, B * Nt, I);
    if (Nq < Nt)  // rows not attended: no attention output, out = residual + bias
        for (int64_t b = 0; b < B; ++b) be_.fill(s.o + (b * Nt + Nq) * I, 0.0f, (size_t) ((Nt - Nq) * I));
    if (residual) {
        be_.add_bias(residual, P + a.ob, out, B * Nt, C);
        be_.gemm({false, true, B * Nt, C, I, 1.0f, {s.o, I}, {P + a.ow, I}, 1.0f, {out, C}});
    } else {
        be_.linear(s.o, P + a.ow, P + a.ob, out, B * Nt, I, C);
    }
}

void DecoderGraph::t2i_backward(const AttnLayout & a, const float * P, float * G, const float * qin, const float * kin,
                                const float * vin, const CrossT2I & s, const float * dout, InGrad dqin, float * dimg,
                                int64_t Nq) {
    const int64_t B = s_.B, C = L_.C, I = a.internal, Nt = Nt_, HW = HW_, nh = kHeads, d = I / nh;
    const float fold = std::sqrt((float) C / (float) d);
    float * dpx = dfold_;
    float * dqk = dfold2_;
    // Rows from Nq on have no attention output: their part of d o is dropped (the caller's dout is zero
    // there when nothing downstream reads them) and their query gradients are zero.
    be_.linear_backward({s.o, P + a.ow, dout, dO_, G + a.ow, G + a.ob, B * Nt, I, C});
    if (Nq < Nt)
        for (int64_t b = 0; b < B; ++b) be_.fill(dO_ + (b * Nt + Nq) * I, 0.0f, (size_t) ((Nt - Nq) * I));
    be_.linear_backward({nullptr, nullptr, dO_, nullptr, nullptr, G + a.vb, B * Nt, 0, I});  // dbv: column sums
    for (int64_t b = 0; b < B; ++b) {
        // dpx_h = dO_h Wv_h, dWv_h += dO_h^T px_h
        // clang-format off
        be_.gemm_batched({false, false, Nq, C, d, 1.0f, {dO_ + b * Nt * I, I, d}, {P + a.vw, C, d * C}, 0.0f, {dpx + b * nh * Nq * C, C, Nq * C}, nh});
        be_.gemm_batched({true, false, d, C, Nq, 1.0f, {dO_ + b * Nt * I, I, d}, {s.px + b * nh * Nq * C, C, Nq * C}, 1.0f, {G + a.vw, C, d * C}, nh});
        // clang-format on
    }
    if (dimg) {  // keys (image + pe) and values (image) both feed the image: dimg += dk + dv
        be_.attention_backward_kv_acc({s.qk, kin, vin, s.p, dpx, dqk, dimg, kv_scratch_, B, nh * Nq, HW, 1, C});
    } else {
        be_.attention_backward({s.qk, kin, vin, s.p, dpx, dqk, nullptr, nullptr, B, nh * Nq, HW, 1, C});
    }
    if (Nq < Nt)
        for (int64_t b = 0; b < B; ++b) be_.fill(dQ_ + (b * Nt + Nq) * I, 0.0f, (size_t) ((Nt - Nq) * I));
    for (int64_t b = 0; b < B; ++b) {
        // dQ_h = fold dqk_h Wk_h^T, dWk_h += fold Q_h^T dqk_h (bk: no gradient, see CrossT2I)
        // clang-format off
        be_.gemm_batched({false, true, Nq, d, C, fold, {dqk + b * nh * Nq * C, C, Nq * C}, {P + a.kw, C, d * C}, 0.0f, {dQ_ + b * Nt * I, I, d}, nh});
        be_.gemm_batched({true, false, d, C, Nq, fold, {s.q + b * Nt * I, I, d}, {dqk + b * nh * Nq * C, C, Nq * C}, 1.0f, {G + a.kw, C, d * C}, nh});
        // clang-format on
    }
    linear_backward(qin, P + a.qw, dQ_, dqin, G + a.qw, G + a.qb, B * Nt, C, I);
}

// ---- image to tokens ----------------------------------------------------------------------------

void DecoderGraph::i2t_forward(const AttnLayout & a, const float * P, const float * qin, const float * kin,
                               const float * vin, const CrossI2T & s, float * out, const float * residual) {
    SA_CHECK(residual != nullptr, SA_ERR_INTERNAL, "mask decoder: image-to-token attention needs its residual");
    const int64_t B = s_.B, C = L_.C, I = a.internal, Nt = Nt_, HW = HW_, nh = kHeads, d = I / nh;
    const int64_t F = nh * Nt;  // folded keys per sample
    const float scale = 1.0f / std::sqrt((float) d);
    be_.linear(kin, P + a.kw, P + a.kb, s.k, B * Nt, C, I);
    be_.linear(vin, P + a.vw, P + a.vb, s.v, B * Nt, C, I);
    for (int64_t b = 0; b < B; ++b) {
        const float * kb = s.k + b * Nt * I;
        // kq_h = scale K_h Wq_h, c_h = scale K_h bq_h, vo_h = V_h Wo_h^T (Wo_h: columns of Wo [C, I])
        // clang-format off
        be_.gemm_batched({false, false, Nt, C, d, scale, {kb, I, d}, {P + a.qw, C, d * C}, 0.0f, {s.kq + b * F * C, C, Nt * C}, nh});
        // clang-format on
        be_.gemm_batched({false, false, Nt, 1, d, scale, {kb, I, d}, {P + a.qb, 1, d}, 0.0f, {s.c + b * F, 1, Nt}, nh});
        // clang-format off
        be_.gemm_batched({false, true, Nt, C, d, 1.0f, {s.v + b * Nt * I, I, d}, {P + a.ow, I, d}, 0.0f, {s.vo + b * F * C, C, Nt * C}, nh});
        // clang-format on
        be_.linear(qin + b * HW * C, s.kq + b * F * C, s.c + b * F, logits_ + b * HW * F, HW, C, F);
    }
    be_.softmax_rows(logits_, s.p, B * HW * nh, Nt);
    be_.add_bias(residual, P + a.ob, out, B * HW, C);
    be_.gemm_batched({false, false, HW, C, F, 1.0f, {s.p, F, HW * F}, {s.vo, C, F * C}, 1.0f, {out, C, HW * C}, B});
}

void DecoderGraph::i2t_backward(const AttnLayout & a, const float * P, float * G, const float * qin, const float * kin,
                                const float * vin, const CrossI2T & s, const float * dout, float * dimg, InGrad dkin,
                                InGrad dvin) {
    const int64_t B = s_.B, C = L_.C, I = a.internal, Nt = Nt_, HW = HW_, nh = kHeads, d = I / nh;
    const int64_t F = nh * Nt;
    const float scale = 1.0f / std::sqrt((float) d);
    float * dvo = dfold_;
    float * dkq = dfold2_;
    be_.linear_backward({nullptr, nullptr, dout, nullptr, nullptr, G + a.ob, B * HW, 0, C});  // dbo: column sums
    // dP = dout vo^T, dvo = P^T dout
    be_.gemm_batched({false, true, HW, F, C, 1.0f, {dout, C, HW * C}, {s.vo, C, F * C}, 0.0f, {dP_, F, HW * F}, B});
    be_.gemm_batched({true, false, F, C, HW, 1.0f, {s.p, F, HW * F}, {dout, C, HW * C}, 0.0f, {dvo, C, F * C}, B});
    be_.softmax_rows_backward(s.p, dP_, dS_, B * HW * nh, Nt);
    // the image queries: dimg += dS kq; the folded keys: dkq = dS^T X and dc = column sums of dS
    // clang-format off
    if (dimg) be_.gemm_batched({false, false, HW, C, F, 1.0f, {dS_, F, HW * F}, {s.kq, C, F * C}, 1.0f, {dimg, C, HW * C}, B});
    // clang-format on
    be_.gemm_batched({true, false, F, C, HW, 1.0f, {dS_, F, HW * F}, {qin, C, HW * C}, 0.0f, {dkq, C, F * C}, B});
    be_.fill(dc_, 0.0f, (size_t) (B * F));
    for (int64_t b = 0; b < B; ++b)
        be_.linear_backward({nullptr, nullptr, dS_ + b * HW * F, nullptr, nullptr, dc_ + b * F, HW, 0, F});
    for (int64_t b = 0; b < B; ++b) {
        const float * kb = s.k + b * Nt * I;
        const float * dvob = dvo + b * F * C;
        const float * dkqb = dkq + b * F * C;
        const float * dcb = dc_ + b * F;
        // dV_h = dvo_h Wo_h, dWo_h += dvo_h^T V_h
        // clang-format off
        be_.gemm_batched({false, false, Nt, d, C, 1.0f, {dvob, C, Nt * C}, {P + a.ow, I, d}, 0.0f, {dV_ + b * Nt * I, I, d}, nh});
        be_.gemm_batched({true, false, C, d, Nt, 1.0f, {dvob, C, Nt * C}, {s.v + b * Nt * I, I, d}, 1.0f, {G + a.ow, I, d}, nh});
        // clang-format on
        // dK_h = scale (dkq_h Wq_h^T + dc_h bq_h^T), dWq_h += scale K_h^T dkq_h, dbq_h += scale K_h^T dc_h
        // clang-format off
        be_.gemm_batched({false, true, Nt, d, C, scale, {dkqb, C, Nt * C}, {P + a.qw, C, d * C}, 0.0f, {dK_ + b * Nt * I, I, d}, nh});
        be_.gemm_batched({false, false, Nt, d, 1, scale, {dcb, 1, Nt}, {P + a.qb, d, d}, 1.0f, {dK_ + b * Nt * I, I, d}, nh});
        // clang-format on
        be_.gemm_batched({true, false, d, C, Nt, scale, {kb, I, d}, {dkqb, C, Nt * C}, 1.0f, {G + a.qw, C, d * C}, nh});
        be_.gemm_batched({true, false, d, 1, Nt, scale, {kb, I, d}, {dcb, 1, Nt}, 1.0f, {G + a.qb, 1, d}, nh});
    }
    linear_backward(kin, P + a.kw, dK_, dkin, G + a.kw, G + a.kb, B * Nt, C, I);
    linear_backward(vin, P + a.vw, dV_, dvin, G + a.vw, G + a.vb, B * Nt, C, I);
}

}  // namespace sa::decoder
