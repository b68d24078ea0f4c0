// SPDX-License-Identifier: Apache-2.0
// See optimizer-step.h.
#include "model/optimizer-step.h"

#include <cmath>
#include <string>

#include "sa/status.h"

namespace sa {

void check_train_config(const TrainConfig & c, const char * who) {
    const std::string w(who);
    SA_CHECK_ARG(std::isfinite(c.lr) && c.lr >= 0.0f, w + ": lr must be finite and >= 0");
    SA_CHECK_ARG(c.beta1 >= 0.0f && c.beta1 < 1.0f && c.beta2 >= 0.0f && c.beta2 < 1.0f,
                 w + ": betas must be in [0, 1)");
    SA_CHECK_ARG(c.eps >= 0.0f && c.weight_decay >= 0.0f && c.grad_clip_norm >= 0.0f,
                 w + ": eps, weight_decay and grad_clip_norm must be >= 0");
}

void optimizer_step(Backend & be, const TrainConfig & cfg, float * params, float * grads, float * m, float * v,
                    int64_t total, const std::vector<std::pair<int64_t, int64_t>> & ranges, float loss, float sumsq,
                    float lr_override, int64_t & t) {
    SA_CHECK(std::isfinite(loss), SA_ERR_NUMERIC,
             "training step " + std::to_string(t + 1) + ": the loss is " + std::to_string(loss) +
                 "; parameters left unchanged");
    SA_CHECK(
        std::isfinite(sumsq), SA_ERR_NUMERIC,
        "training step " + std::to_string(t + 1) + ": the gradients contain NaN or Inf; parameters left unchanged");
    const float lr = lr_override >= 0.0f ? lr_override : cfg.lr;
    SA_CHECK_ARG(std::isfinite(lr), "training step: lr_override must be finite");
    if (cfg.grad_clip_norm > 0.0f) {
        // torch.nn.utils.clip_grad_norm_: scale by max_norm / (norm + 1e-6) when that is below 1.
        const float norm = std::sqrt(sumsq);
        const float coef = cfg.grad_clip_norm / (norm + 1e-6f);
        if (coef < 1.0f) be.scale(grads, coef, grads, total);
    }
    ++t;
    const bool decoupled = cfg.optim == OptimKind::AdamW;
    for (const auto & r : ranges)
        be.adam_step_zero_grad({params + r.first, grads + r.first, m + r.first, v + r.first, r.second - r.first, lr,
                                cfg.beta1, cfg.beta2, cfg.eps, cfg.weight_decay, decoupled, t});
}

void TrainerState::get_grad(const std::string & name, float * host) const {
    const auto [offset, n] = param_range(name);
    SA_CHECK_ARG(host != nullptr, "get_grad: null output");
    state_.be->download(host, state_.grads + offset, (size_t) n);
}

int64_t TrainerState::step_count() const {
    return *state_.t;
}

void TrainerState::set_step_count(int64_t t) {
    SA_CHECK_ARG(t >= 0, "set_step_count: negative step count");
    *state_.t = t;
}

void TrainerState::get_state(const std::string & name, float * m_host, float * v_host) const {
    const auto [offset, n] = param_range(name);
    if (m_host) state_.be->download(m_host, state_.m + offset, (size_t) n);
    if (v_host) state_.be->download(v_host, state_.v + offset, (size_t) n);
}

void TrainerState::set_state(const std::string & name, const float * m_host, const float * v_host) {
    const auto [offset, n] = param_range(name);
    SA_CHECK_ARG(m_host && v_host, "set_state: null moments");
    state_.be->upload(state_.m + offset, m_host, (size_t) n);
    state_.be->upload(state_.v + offset, v_host, (size_t) n);
}

}  // namespace sa
