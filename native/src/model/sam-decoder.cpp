// SPDX-License-Identifier: Apache-2.0
// SamDecoder: the public face of the prompt encoder + mask decoder (sa/sam-decoder.h).
#include "sa/sam-decoder.h"

#include <algorithm>
#include <string>

#include "model/decoder-impl.h"
#include "model/decoder-prompt.h"
#include "sa/status.h"

namespace sa {

using decoder::DecoderGraph;
using decoder::GraphShape;

SamDecoderImpl::SamDecoderImpl(Backend & be_, WeightMap & w, int64_t img_size, int64_t embed_size)
    : be(be_), S(img_size), E(embed_size) {
    SA_CHECK_ARG(
        img_size > 0 && embed_size > 0 && img_size >= embed_size,
        "SamDecoder: bad img_size " + std::to_string(img_size) + " / embed_size " + std::to_string(embed_size));
    std::vector<float> flat;
    L = decoder::load_layout(w, flat);
    const int64_t C = L.C, HW = E * E;
    host_gauss.assign(flat.begin() + L.pe_gauss, flat.begin() + L.pe_gauss + C);
    dense_pe.resize((size_t) (C * HW));
    decoder::dense_pe_host(host_gauss.data(), C, E, dense_pe.data());
    std::vector<float> pe_t((size_t) (HW * C));
    for (int64_t c = 0; c < C; ++c)
        for (int64_t p = 0; p < HW; ++p) pe_t[(size_t) (p * C + c)] = dense_pe[(size_t) (c * HW + p)];
    params = be.alloc((size_t) L.total);
    try {
        key_pe = be.alloc((size_t) (HW * C));
        be.upload(params, flat.data(), (size_t) L.total);
        be.upload(key_pe, pe_t.data(), (size_t) (HW * C));
        graph = std::make_unique<DecoderGraph>(be, L, E, key_pe);
    } catch (...) {
        if (key_pe) be.free(key_pe);
        be.free(params);
        throw;
    }
}

SamDecoderImpl::~SamDecoderImpl() {
    graph.reset();
    be.free(key_pe);
    be.free(params);
}

void SamDecoderImpl::load_inputs(DecoderGraph & g, const float * embedding, bool per_prompt, const Prompts & p,
                                 bool train) {
    const int64_t Ns = decoder::count_sparse(p);
    SA_CHECK_ARG(embedding != nullptr, "SamDecoder: null image embedding");
    const int64_t C = L.C, HW = E * E;
    GraphShape s;
    s.B = p.B;
    s.Ns = Ns;
    s.per_prompt = per_prompt;
    s.has_mask = p.mask_input != nullptr;
    s.train = train;
    host_pe.resize((size_t) std::max<int64_t>(1, p.B * Ns * C));
    host_onehot.resize((size_t) std::max<int64_t>(1, p.B * Ns * decoder::kLabelKinds));
    decoder::sparse_inputs(p, host_gauss.data(), C, S, host_pe.data(), host_onehot.data());
    g.prepare(s);
    be.upload(g.in_embedding, embedding, (size_t) ((per_prompt ? p.B : 1) * C * HW));
    be.upload(g.in_pe, host_pe.data(), (size_t) (p.B * Ns * C));
    be.upload(g.in_onehot, host_onehot.data(), (size_t) (p.B * Ns * decoder::kLabelKinds));
    if (p.mask_input) be.upload(g.in_mask, p.mask_input, (size_t) (p.B * 16 * HW));
}

SamDecoder::SamDecoder(Backend & be, WeightMap & w, int64_t img_size, int64_t embed_size)
    : impl_(std::make_unique<SamDecoderImpl>(be, w, img_size, embed_size)) {}

SamDecoder::~SamDecoder() = default;

int64_t SamDecoder::img_size() const {
    return impl_->S;
}
int64_t SamDecoder::embed_size() const {
    return impl_->E;
}
int64_t SamDecoder::embed_dim() const {
    return impl_->L.C;
}
int64_t SamDecoder::num_mask_tokens() const {
    return impl_->L.T;
}
std::string SamDecoder::describe() const {
    return impl_->L.describe() + ", input " + std::to_string(impl_->S) + "x" + std::to_string(impl_->S) +
           ", embedding " + std::to_string(impl_->E) + "x" + std::to_string(impl_->E);
}

void SamDecoder::dense_pe(float * out) {
    SA_CHECK_ARG(out != nullptr, "dense_pe: null output");
    std::copy(impl_->dense_pe.begin(), impl_->dense_pe.end(), out);
}

int64_t SamDecoder::num_sparse(const Prompts & p) const {
    return decoder::count_sparse(p);
}

int64_t SamDecoder::encode_prompts(const Prompts & p, float * sparse, float * dense) {
    SamDecoderImpl & d = *impl_;
    const int64_t C = d.L.C, T = d.L.T, HW = d.E * d.E;
    const int64_t Ns = decoder::count_sparse(p);
    // The prompt encoder does not read the image embedding; a zero embedding fills the slot.
    std::vector<float> zero((size_t) (C * HW), 0.0f);
    d.load_inputs(*d.graph, zero.data(), false, p, false);
    d.graph->encode_prompts(d.params);
    const int64_t Nt = 1 + T + Ns;
    if (sparse)
        for (int64_t b = 0; b < p.B; ++b)
            d.be.download(sparse + b * Ns * C, d.graph->tokens() + (b * Nt + 1 + T) * C, (size_t) (Ns * C));
    if (dense) {
        if (p.mask_input) {
            d.be.download(dense, d.graph->dense(), (size_t) (p.B * C * HW));
        } else {
            std::vector<float> nm((size_t) C);
            d.be.download(nm.data(), d.params + d.L.no_mask, (size_t) C);
            for (int64_t b = 0; b < p.B; ++b)
                for (int64_t c = 0; c < C; ++c) std::fill_n(dense + (b * C + c) * HW, HW, nm[(size_t) c]);
        }
    }
    return Ns;
}

void SamDecoder::predict_all(const float * embedding, bool per_prompt_embeddings, const Prompts & p, float * low_res,
                             float * iou) {
    predict(embedding, per_prompt_embeddings, p, 0, impl_->L.T, low_res, iou);
}

void SamDecoder::predict(const float * embedding, bool per_prompt_embeddings, const Prompts & p, int64_t first_mask,
                         int64_t n_masks, float * low_res, float * iou) {
    SamDecoderImpl & d = *impl_;
    SA_CHECK_ARG(low_res && iou, "predict: null output");
    SA_CHECK_ARG(first_mask >= 0 && n_masks >= 1 && first_mask + n_masks <= d.L.T,
                 "predict: mask tokens [" + std::to_string(first_mask) + ", " + std::to_string(first_mask + n_masks) +
                     ") outside the decoder's " + std::to_string(d.L.T));
    d.load_inputs(*d.graph, embedding, per_prompt_embeddings, p, false);
    d.graph->forward(d.params, first_mask, n_masks);
    const int64_t HW = d.E * d.E;
    d.be.download(low_res, d.graph->masks(), (size_t) (p.B * n_masks * 16 * HW));
    d.be.download(iou, d.graph->iou(), (size_t) (p.B * d.L.T));
}

std::vector<std::string> SamDecoder::param_names() const {
    std::vector<std::string> out;
    for (const auto & e : impl_->L.entries) out.push_back(e.name);
    return out;
}

std::vector<int64_t> SamDecoder::param_shape(const std::string & name) const {
    return impl_->L.entry(name).shape;
}

void SamDecoder::get_param(const std::string & name, float * host) const {
    const auto & e = impl_->L.entry(name);
    SA_CHECK_ARG(host != nullptr, "get_param: null output");
    impl_->be.download(host, impl_->params + e.offset, (size_t) e.numel);
}

void SamDecoder::set_param(const std::string & name, const float * host) {
    const auto & e = impl_->L.entry(name);
    SA_CHECK_ARG(host != nullptr, "set_param: null input");
    if (name == "prompt_encoder.pe_layer.positional_encoding_gaussian_matrix") {
        // The positional encodings derived from it are cached: recompute them.
        SamDecoderImpl & d = *impl_;
        const int64_t C = d.L.C, HW = d.E * d.E;
        d.host_gauss.assign(host, host + e.numel);
        decoder::dense_pe_host(d.host_gauss.data(), C, d.E, d.dense_pe.data());
        std::vector<float> pe_t((size_t) (HW * C));
        for (int64_t c = 0; c < C; ++c)
            for (int64_t q = 0; q < HW; ++q) pe_t[(size_t) (q * C + c)] = d.dense_pe[(size_t) (c * HW + q)];
        d.be.upload(d.key_pe, pe_t.data(), (size_t) (HW * C));
    }
    impl_->be.upload(impl_->params + e.offset, host, (size_t) e.numel);
}

}  // namespace sa
