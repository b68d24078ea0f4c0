// SPDX-License-Identifier: Apache-2.0
// DecoderTrainer: forward, loss, backward and Adam/AdamW over the decoder's flat parameter buffer.
// Gradients and optimiser moments use the parameter layout; the optimiser runs over the merged ranges
// of trained parameters. The only host reads of a step are its two scalars (loss, squared gradient
// norm), taken after the backward pass and before any parameter changes.
#include "sa/decoder-trainer.h"

#include <cmath>
#include <string>
#include <utility>

#include "model/decoder-impl.h"
#include "core/device-buffers.h"
#include "model/optimizer-step.h"
#include "sa/status.h"

namespace sa {

using decoder::DecoderGraph;

class DecoderTrainerImpl {
  public:
    DecoderTrainerImpl(Backend & be_, SamDecoder & dec, TrainConfig c)
        : be(be_), d(dec.impl()), cfg(c), graph(be_, d.L, d.E, d.key_pe) {
        SA_CHECK_ARG(&be_ == &d.be, "DecoderTrainer: the backend must be the decoder's backend");
        check_train_config(c, "DecoderTrainer");
        SA_CHECK_ARG(!c.multimask || d.L.T >= 2, "DecoderTrainer: multimask needs at least 2 mask tokens");
        sel0 = c.multimask ? 1 : 0;
        nsel = c.multimask ? d.L.T - 1 : 1;
        select_trained();
        const size_t n = (size_t) d.L.total;
        grads = be.alloc(n);
        m = be.alloc(n);
        v = be.alloc(n);
        scalars = be.alloc(2);
        be.fill(grads, 0.0f, n);
        grads_zero = true;
        be.fill(m, 0.0f, n);
        be.fill(v, 0.0f, n);
    }

    ~DecoderTrainerImpl() {
        be.free(grads);
        be.free(m);
        be.free(v);
        be.free(scalars);
        if (target) be.free(target);
    }

    void select_trained() {
        const decoder::Layout & L = d.L;
        std::vector<std::pair<int64_t, int64_t>> excluded;
        if (cfg.loss != LossKind::SAM) excluded.push_back({L.iou_head.begin, L.iou_head.end});
        for (int64_t t = 0; t < L.T; ++t)
            if (t < sel0 || t >= sel0 + nsel) excluded.push_back({L.hyper[(size_t) t].begin, L.hyper[(size_t) t].end});
        auto is_excluded = [&](int64_t off) {
            for (auto & r : excluded)
                if (off >= r.first && off < r.second) return true;
            return false;
        };
        for (const auto & e : L.entries) {
            const bool in_decoder = e.offset >= L.decoder_begin && e.offset < L.decoder_end;
            const bool in_prompt = e.offset >= L.prompt_begin && e.offset < L.prompt_end;
            if (!((in_decoder && !is_excluded(e.offset)) || (in_prompt && cfg.train_prompt_encoder))) continue;
            trained.push_back(e.name);
            if (!ranges.empty() && ranges.back().second == e.offset) {
                ranges.back().second = e.offset + e.numel;
            } else {
                ranges.push_back({e.offset, e.offset + e.numel});
            }
        }
    }

    float loss_and_grad(const float * embeddings, const Prompts & p, const float * targets) {
        SA_CHECK_ARG(targets != nullptr, "DecoderTrainer: null targets");
        d.load_inputs(graph, embeddings, true, p, true);
        const int64_t B = p.B, H16 = 16 * d.E * d.E, T = d.L.T;
        if (target_n < B * H16) {
            if (target) be.free(target);
            target = nullptr;
            target = be.alloc((size_t) (B * H16));
            target_n = B * H16;
        }
        be.upload(target, targets, (size_t) (B * H16));
        graph.forward(d.params, sel0, nsel);
        const bool sam = cfg.loss == LossKind::SAM;
        float * diou = graph.diou_buffer();
        if (sam) be.fill(diou, 0.0f, (size_t) (B * T));
        be.mask_loss({(int) cfg.loss, graph.masks(), target, scalars, graph.dmasks_buffer(), B, nsel, H16,
                      sam ? graph.iou() + sel0 : nullptr, T, sam ? diou + sel0 : nullptr});
        // The backward pass accumulates into the gradients. After a step they are zero already (the
        // optimiser clears the trained ranges, nothing else is written); otherwise clear them here.
        if (!grads_zero) be.fill(grads, 0.0f, (size_t) d.L.total);
        grads_zero = false;
        graph.backward(d.params, grads, graph.dmasks_buffer(), sam ? diou : nullptr, cfg.train_prompt_encoder,
                       cfg.embedding_grad);
        last_batch = B;
        be.sum_squares(grads, scalars + 1, d.L.total);
        float host[2];
        be.download(host, scalars, 2);
        last_sumsq = host[1];
        last_loss = host[0];
        pending = true;
        return host[0];
    }

    float step(const float * embeddings, const Prompts & p, const float * targets, float lr_override) {
        loss_and_grad(embeddings, p, targets);
        return apply_step(lr_override);
    }

    float apply_step(float lr_override) {
        SA_CHECK_ARG(pending, "DecoderTrainer::apply_step: no loss_and_grad since the last step");
        const float loss = last_loss;
        optimizer_step(be, cfg, d.params, grads, m, v, d.L.total, ranges, loss, last_sumsq, lr_override, t);
        pending = false;
        // The backward pass writes only trained gradients (the IoU head's under the SAM loss alone, the
        // selected mask tokens' hypernetworks alone, the prompt encoder's only when it is trained), and
        // the optimiser has just cleared those.
        grads_zero = true;
        return loss;
    }

    Backend & be;
    SamDecoderImpl & d;
    TrainConfig cfg;
    DecoderGraph graph;
    int64_t sel0 = 0, nsel = 1;
    std::vector<std::string> trained;
    std::vector<std::pair<int64_t, int64_t>> ranges;
    float *grads = nullptr, *m = nullptr, *v = nullptr, *scalars = nullptr, *target = nullptr;
    int64_t target_n = 0;
    int64_t last_batch = 0;  // batch of the last loss_and_grad (0: none yet)
    int64_t t = 0;
    float last_sumsq = 0.0f, last_loss = 0.0f;
    bool pending = false;     // gradients of a loss_and_grad not yet used by a step
    bool grads_zero = false;  // every gradient is zero (no fill needed before the backward)
};

DecoderTrainer::DecoderTrainer(Backend & be, SamDecoder & dec, TrainConfig cfg)
    : impl_(std::make_unique<DecoderTrainerImpl>(be, dec, cfg)) {
    state_ = {&impl_->be, impl_->grads, impl_->m, impl_->v, &impl_->t};
}
DecoderTrainer::~DecoderTrainer() = default;

const TrainConfig & DecoderTrainer::config() const {
    return impl_->cfg;
}

float DecoderTrainer::loss_and_grad(const float * embeddings, const Prompts & p, const float * targets) {
    return impl_->loss_and_grad(embeddings, p, targets);
}

float DecoderTrainer::step(const float * embeddings, const Prompts & p, const float * targets, float lr_override) {
    return impl_->step(embeddings, p, targets, lr_override);
}

float DecoderTrainer::apply_step(float lr_override) {
    return impl_->apply_step(lr_override);
}

std::vector<std::string> DecoderTrainer::trained_params() const {
    return impl_->trained;
}

void DecoderTrainer::embedding_grad(float * host) const {
    const DecoderTrainerImpl & i = *impl_;
    SA_CHECK_ARG(i.cfg.embedding_grad, "DecoderTrainer::embedding_grad: the trainer was made without embedding_grad");
    SA_CHECK_ARG(i.last_batch > 0, "DecoderTrainer::embedding_grad: no loss_and_grad yet");
    SA_CHECK_ARG(host != nullptr, "DecoderTrainer::embedding_grad: null output");
    const int64_t B = i.last_batch, C = i.d.L.C, HW = i.d.E * i.d.E;
    TempBuffer cf(i.be, B * C * HW);
    i.be.transpose_last2(i.graph.embedding_grad_cl(), cf.get(), B, HW, C);
    i.be.synchronize();
    i.be.download(host, cf.get(), (size_t) (B * C * HW));
}

std::pair<int64_t, int64_t> DecoderTrainer::param_range(const std::string & name) const {
    const auto & e = impl_->d.L.entry(name);
    return {e.offset, e.numel};
}

}  // namespace sa
