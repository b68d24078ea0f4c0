// SPDX-License-Identifier: Apache-2.0
// HeadTrainer (sa/head-trainer.h): the prompt-free CNN / linear head composed of backend ops.
// Forward keeps every block's convolution output, LayerNorm statistics and ReLU output; the backward
// pass walks the blocks in reverse with two gradient buffers:
//   dlogits -> upsample_bilinear_backward -> dz -> conv2d_backward (1x1) -> da
//   per block: relu_backward (from its output) -> layernorm2d_backward -> conv2d_backward (3x3).
// The optimiser is the decoder trainer's (optimizer-step.h) over the one flat buffer.
#include "sa/head-trainer.h"

#include <algorithm>
#include <string>
#include <utility>

#include "core/device-buffers.h"
#include "model/optimizer-step.h"
#include "sa/status.h"

namespace sa {

namespace {
constexpr float kNormEps = 1e-6f;  // SAM's LayerNorm2d
constexpr int64_t kMaxDepth = 16;

struct Entry {
    std::string name;
    std::vector<int64_t> shape;
    int64_t offset = 0, numel = 0;
};
}  // namespace

class HeadTrainerImpl {
  public:
    HeadTrainerImpl(Backend & be_, HeadConfig h, TrainConfig c) : be(be_), hc(h), cfg(c), bufs(be_), work(be_) {
        SA_CHECK_ARG(h.in_channels >= 1 && h.in_channels <= 4096, "HeadTrainer: in_channels must be in [1, 4096]");
        SA_CHECK_ARG(h.embed_size >= 1 && h.embed_size <= 1024, "HeadTrainer: embed_size must be in [1, 1024]");
        SA_CHECK_ARG(h.depth >= 0 && h.depth <= kMaxDepth,
                     "HeadTrainer: depth must be in [0, " + std::to_string(kMaxDepth) + "]");
        SA_CHECK_ARG(h.hidden >= 1 && h.hidden <= 4096, "HeadTrainer: hidden must be in [1, 4096]");
        check_train_config(c, "HeadTrainer");
        SA_CHECK_ARG(c.loss != LossKind::SAM,
                     "HeadTrainer: the SAM loss needs an IoU prediction, which a head does not make; use dicece or "
                     "medsam");
        SA_CHECK_ARG(!c.multimask && !c.train_prompt_encoder && !c.embedding_grad,
                     "HeadTrainer: multimask, train_prompt_encoder and embedding_grad are decoder options");
        E = h.embed_size;
        HW = E * E;
        int64_t in = h.in_channels;
        for (int64_t i = 0; i < h.depth; ++i) {
            const std::string p = "blocks." + std::to_string(i) + ".";
            add(p + "conv.weight", {h.hidden, in, 3, 3});
            add(p + "conv.bias", {h.hidden});
            add(p + "norm.weight", {h.hidden});
            add(p + "norm.bias", {h.hidden});
            in = h.hidden;
        }
        add("out.weight", {1, in, 1, 1});
        add("out.bias", {1});
        params = bufs.alloc(total);
        grads = bufs.alloc(total);
        m = bufs.alloc(total);
        v = bufs.alloc(total);
        scalars = bufs.alloc(2);
        for (float * p : {params, grads, m, v}) be.fill(p, 0.0f, (size_t) total);
    }

    void add(const std::string & name, std::vector<int64_t> shape) {
        int64_t n = 1;
        for (int64_t d : shape) n *= d;
        entries.push_back({name, std::move(shape), total, n});
        total += n;
    }

    const Entry & entry(const std::string & name) const {
        for (const auto & e : entries)
            if (e.name == name) return e;
        throw Error(SA_ERR_INVALID_ARG, "HeadTrainer: no parameter named '" + name.substr(0, 80) + "'");
    }
    const float * P(const std::string & name) const { return params + entry(name).offset; }
    float * G(const std::string & name) { return grads + entry(name).offset; }

    // Workspace for a batch of B (grown, never shrunk).
    void ensure(int64_t B) {
        SA_CHECK_ARG(B >= 1 && B <= 4096, "HeadTrainer: batch must be in [1, 4096]");
        if (B <= cap) return;
        work.release();
        const int64_t C = hc.in_channels, Hd = hc.hidden, D = hc.depth, O = 16 * HW;
        x = work.alloc(B * C * HW);
        conv.assign((size_t) D, nullptr);
        act.assign((size_t) D, nullptr);
        mean.assign((size_t) D, nullptr);
        rstd.assign((size_t) D, nullptr);
        for (int64_t i = 0; i < D; ++i) {
            conv[(size_t) i] = work.alloc(B * Hd * HW);
            act[(size_t) i] = work.alloc(B * Hd * HW);
            mean[(size_t) i] = work.alloc(B * HW);
            rstd[(size_t) i] = work.alloc(B * HW);
        }
        z = work.alloc(B * HW);
        logits = work.alloc(B * O);
        dlogits = work.alloc(B * O);
        target = work.alloc(B * O);
        dz = work.alloc(B * HW);
        g1 = work.alloc(B * std::max(Hd, (int64_t) 1) * HW);
        g2 = work.alloc(B * std::max(Hd, (int64_t) 1) * HW);
        cap = B;
    }

    void forward(const float * host_embeddings, int64_t B) {
        SA_CHECK_ARG(host_embeddings != nullptr, "HeadTrainer: null embeddings");
        ensure(B);
        const int64_t C = hc.in_channels, Hd = hc.hidden;
        be.upload(x, host_embeddings, (size_t) (B * C * HW));
        const float * in = x;
        int64_t cin = C;
        for (int64_t i = 0; i < hc.depth; ++i) {
            const std::string p = "blocks." + std::to_string(i) + ".";
            float * c = conv[(size_t) i];
            float * a = act[(size_t) i];
            be.conv2d({in, P(p + "conv.weight"), P(p + "conv.bias"), c, B, cin, E, E, Hd, 3, 3, 1, 1, 1});
            be.layernorm2d({c, P(p + "norm.weight"), P(p + "norm.bias"), a, mean[(size_t) i], rstd[(size_t) i], B, Hd,
                            HW, kNormEps});
            be.relu(a, a, B * Hd * HW);
            in = a;
            cin = Hd;
        }
        be.conv2d({in, P("out.weight"), P("out.bias"), z, B, cin, E, E, 1, 1, 1, 1, 0, 1});
        be.upsample_bilinear(z, logits, B, E, E, 4 * E, 4 * E);
    }

    void predict(const float * embeddings, int64_t B, float * low_res) {
        SA_CHECK_ARG(low_res != nullptr, "HeadTrainer::predict: null output");
        forward(embeddings, B);
        be.synchronize();
        be.download(low_res, logits, (size_t) (B * 16 * HW));
    }

    float loss_and_grad(const float * embeddings, int64_t B, const float * targets) {
        SA_CHECK_ARG(targets != nullptr, "HeadTrainer: null targets");
        forward(embeddings, B);
        const int64_t O = 16 * HW, Hd = hc.hidden;
        be.upload(target, targets, (size_t) (B * O));
        be.mask_loss({(int) cfg.loss, logits, target, scalars, dlogits, B, 1, O, nullptr, 0, nullptr});
        if (!grads_zero) be.fill(grads, 0.0f, (size_t) total);
        grads_zero = false;
        be.upsample_bilinear_backward(dlogits, dz, B, E, E, 4 * E, 4 * E);
        const int64_t D = hc.depth;
        const float * last_in = D > 0 ? act[(size_t) (D - 1)] : x;
        const int64_t cin_last = D > 0 ? Hd : hc.in_channels;
        float * da = g1;
        float * tmp = g2;
        be.conv2d_backward({last_in, P("out.weight"), dz, D > 0 ? da : nullptr, G("out.weight"), G("out.bias"), B,
                            cin_last, E, E, 1, 1, 1, 1, 0});
        for (int64_t i = D - 1; i >= 0; --i) {
            const std::string p = "blocks." + std::to_string(i) + ".";
            be.relu_backward(act[(size_t) i], da, tmp, B * Hd * HW);
            be.layernorm2d_backward({conv[(size_t) i], P(p + "norm.weight"), mean[(size_t) i], rstd[(size_t) i], tmp,
                                     da, G(p + "norm.weight"), G(p + "norm.bias"), B, Hd, HW});
            const float * in = i > 0 ? act[(size_t) (i - 1)] : x;
            const int64_t cin = i > 0 ? Hd : hc.in_channels;
            be.conv2d_backward({in, P(p + "conv.weight"), da, i > 0 ? tmp : nullptr, G(p + "conv.weight"),
                                G(p + "conv.bias"), B, cin, E, E, Hd, 3, 3, 1, 1});
            std::swap(da, tmp);
        }
        be.sum_squares(grads, scalars + 1, total);
        float host[2];
        be.download(host, scalars, 2);
        last_sumsq = host[1];
        return host[0];
    }

    float step(const float * embeddings, int64_t B, const float * targets, float lr_override) {
        const float loss = loss_and_grad(embeddings, B, targets);
        optimizer_step(be, cfg, params, grads, m, v, total, {{0, total}}, loss, last_sumsq, lr_override, t);
        grads_zero = true;  // the optimiser cleared every gradient
        return loss;
    }

    Backend & be;
    HeadConfig hc;
    TrainConfig cfg;
    DeviceBuffers bufs, work;
    int64_t E = 0, HW = 0, total = 0, cap = 0, t = 0;
    std::vector<Entry> entries;
    float *params = nullptr, *grads = nullptr, *m = nullptr, *v = nullptr, *scalars = nullptr;
    float *x = nullptr, *z = nullptr, *logits = nullptr, *dlogits = nullptr, *target = nullptr, *dz = nullptr;
    float *g1 = nullptr, *g2 = nullptr;
    std::vector<float *> conv, act, mean, rstd;
    float last_sumsq = 0.0f;
    bool grads_zero = true;
};

HeadTrainer::HeadTrainer(Backend & be, HeadConfig head, TrainConfig train)
    : impl_(std::make_unique<HeadTrainerImpl>(be, head, train)) {
    state_ = {&impl_->be, impl_->grads, impl_->m, impl_->v, &impl_->t};
}

std::pair<int64_t, int64_t> HeadTrainer::param_range(const std::string & name) const {
    const auto & e = impl_->entry(name);
    return {e.offset, e.numel};
}
HeadTrainer::~HeadTrainer() = default;

const HeadConfig & HeadTrainer::head_config() const {
    return impl_->hc;
}
const TrainConfig & HeadTrainer::train_config() const {
    return impl_->cfg;
}

void HeadTrainer::predict(const float * embeddings, int64_t B, float * low_res) {
    impl_->predict(embeddings, B, low_res);
}

float HeadTrainer::loss_and_grad(const float * embeddings, int64_t B, const float * targets) {
    return impl_->loss_and_grad(embeddings, B, targets);
}

float HeadTrainer::step(const float * embeddings, int64_t B, const float * targets, float lr_override) {
    return impl_->step(embeddings, B, targets, lr_override);
}

std::vector<std::string> HeadTrainer::param_names() const {
    std::vector<std::string> out;
    for (const auto & e : impl_->entries) out.push_back(e.name);
    return out;
}

std::vector<int64_t> HeadTrainer::param_shape(const std::string & name) const {
    return impl_->entry(name).shape;
}

int64_t HeadTrainer::num_params() const {
    return impl_->total;
}

void HeadTrainer::get_param(const std::string & name, float * host) const {
    const auto & e = impl_->entry(name);
    SA_CHECK_ARG(host != nullptr, "get_param: null output");
    impl_->be.synchronize();
    impl_->be.download(host, impl_->params + e.offset, (size_t) e.numel);
}

void HeadTrainer::set_param(const std::string & name, const float * host) {
    const auto & e = impl_->entry(name);
    SA_CHECK_ARG(host != nullptr, "set_param: null input");
    impl_->be.upload(impl_->params + e.offset, host, (size_t) e.numel);
}

size_t HeadTrainer::device_bytes() const {
    const HeadTrainerImpl & i = *impl_;
    const int64_t B = i.cap, Hd = i.hc.hidden, D = i.hc.depth, HW = i.HW;
    const int64_t work = B * (i.hc.in_channels * HW + D * (2 * Hd * HW + 2 * HW) + HW * 2 + 3 * 16 * HW +
                              2 * std::max(Hd, (int64_t) 1) * HW);
    return (size_t) (4 * i.total + 2 + work) * sizeof(float);
}

}  // namespace sa
