// SPDX-License-Identifier: Apache-2.0
// SAM's prompt encoder (official PromptEncoder). Points: +0.5 pixel-centre shift, a padding point
// (0, 0) with label -1 appended when there is no box, PE; label -1 -> PE zeroed + not_a_point_embed,
// label k in 0..3 -> PE + point_embeddings[k]. Boxes: corners + 0.5, PE, + point_embeddings[2] / [3].
// Dense: no_mask_embed broadcast over the grid, or mask_downscaling (conv 2x2/2, LayerNorm2d, GELU,
// conv 2x2/2, LayerNorm2d, GELU, conv 1x1) of the low-res mask input. The coordinate encodings are
// computed here on the host; the learned embeddings are added on the device as onehot @ table so that
// they can be trained.
#include <cmath>
#include <string>

#include "model/decoder-graph.h"
#include "model/decoder-prompt.h"
#include "sa/status.h"

namespace sa::decoder {

namespace {

constexpr float kTwoPi = 6.283185307179586f;

int label_column(float label, int64_t b, int64_t i) {
    const int l = (int) label;
    SA_CHECK_ARG(std::isfinite(label) && (float) l == label && l >= -1 && l <= 3,
                 "prompts: labels[" + std::to_string(b) + "][" + std::to_string(i) +
                     "] must be -1 (padding), 0 (negative), 1 (positive), 2 or 3 (box corners), got " +
                     std::to_string(label));
    return l == -1 ? 4 : l;
}

}  // namespace

void pe_encode(const float * G, int64_t C, float x01, float y01, float * out) {
    const int64_t h = C / 2;
    const float cx = 2.0f * x01 - 1.0f, cy = 2.0f * y01 - 1.0f;
    for (int64_t j = 0; j < h; ++j) {
        const float a = kTwoPi * (cx * G[j] + cy * G[h + j]);
        out[j] = std::sin(a);
        out[h + j] = std::cos(a);
    }
}

void dense_pe_host(const float * G, int64_t C, int64_t E, float * out) {
    float v[4096];
    SA_CHECK_ARG(C <= 4096, "dense_pe: embedding dim too large");
    for (int64_t i = 0; i < E; ++i)
        for (int64_t j = 0; j < E; ++j) {
            pe_encode(G, C, ((float) j + 0.5f) / (float) E, ((float) i + 0.5f) / (float) E, v);
            for (int64_t c = 0; c < C; ++c) out[(c * E + i) * E + j] = v[c];
        }
}

int64_t count_sparse(const Prompts & p) {
    SA_CHECK_ARG(p.B >= 1, "prompts: B must be >= 1, got " + std::to_string(p.B));
    SA_CHECK_ARG(p.n_points >= 0, "prompts: n_points must be >= 0");
    if (p.n_points > 0) SA_CHECK_ARG(p.points && p.labels, "prompts: n_points > 0 needs points and labels");
    const bool has_box = p.boxes != nullptr;
    return p.n_points + (p.n_points > 0 && !has_box ? 1 : 0) + (has_box ? 2 : 0);
}

void sparse_inputs(const Prompts & p, const float * G, int64_t C, int64_t S, float * pe, float * onehot) {
    const int64_t Ns = count_sparse(p);
    const float inv_s = 1.0f / (float) S;
    const bool pad = p.n_points > 0 && !p.boxes;
    for (int64_t b = 0; b < p.B; ++b) {
        float * peb = pe + b * Ns * C;
        float * ohb = onehot + b * Ns * kLabelKinds;
        for (int64_t i = 0; i < Ns * kLabelKinds; ++i) ohb[i] = 0.0f;
        int64_t row = 0;
        auto put = [&](float x, float y, int col) {
            float * r = peb + row * C;
            if (col == 4) {
                for (int64_t c = 0; c < C; ++c) r[c] = 0.0f;
            } else {
                SA_CHECK_ARG(std::isfinite(x) && std::isfinite(y),
                             "prompts: non-finite coordinate in prompt " + std::to_string(b));
                pe_encode(G, C, (x + 0.5f) * inv_s, (y + 0.5f) * inv_s, r);
            }
            ohb[row * kLabelKinds + col] = 1.0f;
            ++row;
        };
        for (int64_t i = 0; i < p.n_points; ++i) {
            const float * pt = p.points + (b * p.n_points + i) * 2;
            put(pt[0], pt[1], label_column(p.labels[b * p.n_points + i], b, i));
        }
        if (pad) put(0.0f, 0.0f, 4);
        if (p.boxes) {
            const float * bx = p.boxes + b * 4;
            put(bx[0], bx[1], 2);
            put(bx[2], bx[3], 3);
        }
    }
}

void DecoderGraph::encode_prompts(const float * P) {
    SA_CHECK(allocated_, SA_ERR_INTERNAL, "prompt encoder: encode before prepare");
    const int64_t B = s_.B, C = L_.C, T = L_.T, Nt = Nt_, Ns = s_.Ns, HW = HW_, E = E_;
    for (int64_t b = 0; b < B; ++b) be_.copy(tok0_ + b * Nt * C, P + L_.iou_token, (size_t) ((1 + T) * C));
    if (Ns > 0) {
        for (int64_t b = 0; b < B; ++b) be_.copy(tok0_ + (b * Nt + 1 + T) * C, in_pe + b * Ns * C, (size_t) (Ns * C));
        // clang-format off
        be_.gemm_batched({false, false, Ns, C, kLabelKinds, 1.0f, {in_onehot, kLabelKinds, Ns * kLabelKinds}, {P + L_.point_table, C, 0}, 1.0f, {tok0_ + (1 + T) * C, C, Nt * C}, B});
        // clang-format on
    }
    const int64_t emb_stride = s_.per_prompt ? C * HW : 0;
    if (s_.has_mask) {
        const int64_t m4 = L_.mask_in_chans / 4, m = L_.mask_in_chans;
        be_.conv2d({in_mask, P + L_.md0w, P + L_.md0b, md1_, B, 1, 4 * E, 4 * E, m4, 2, 2, 2, 0, 1});
        be_.layernorm2d({md1_, P + L_.md1w, P + L_.md1b, md1g_, nullptr, nullptr, B, m4, 4 * HW, 1e-6f});
        be_.gelu(md1g_, md1_, B * m4 * 4 * HW);
        be_.conv2d({md1_, P + L_.md3w, P + L_.md3b, md2_, B, m4, 2 * E, 2 * E, m, 2, 2, 2, 0, 1});
        be_.layernorm2d({md2_, P + L_.md4w, P + L_.md4b, md2g_, nullptr, nullptr, B, m, HW, 1e-6f});
        be_.gelu(md2g_, md2_, B * m * HW);
        be_.conv2d({md2_, P + L_.md6w, P + L_.md6b, dense_, B, m, E, E, C, 1, 1, 1, 0, 1});
        for (int64_t b = 0; b < B; ++b)
            be_.add(in_embedding + b * emb_stride, dense_ + b * C * HW, src_cf_ + b * C * HW, C * HW);
        be_.keys_from_embedding({src_cf_, nullptr, key_pe_, keys0_, keys_pe(0), B, C, HW, C * HW});
    } else {
        be_.keys_from_embedding({in_embedding, P + L_.no_mask, key_pe_, keys0_, keys_pe(0), B, C, HW, emb_stride});
    }
}

}  // namespace sa::decoder
