// SPDX-License-Identifier: Apache-2.0
// See train-config.h.
#include "train-config.h"

#include "napi-util.h"

namespace saaddon {

sa::TrainConfig train_config_from_js(Napi::Env env, Napi::Object o, const char * who) {
    const std::string w(who);
    sa::TrainConfig c;
    const std::string loss = get_string(o, "loss", "dicece");
    if (loss == "dicece") c.loss = sa::LossKind::DiceCE;
    else if (loss == "medsam") c.loss = sa::LossKind::MedSAM;
    else if (loss == "sam") c.loss = sa::LossKind::SAM;
    else SA_THROW_TYPEERROR_IF(true, env, w + ": loss must be 'dicece', 'medsam' or 'sam', got '" + loss + "'");
    const std::string opt = get_string(o, "optimizer", "adam");
    if (opt == "adam") c.optim = sa::OptimKind::Adam;
    else if (opt == "adamw") c.optim = sa::OptimKind::AdamW;
    else SA_THROW_TYPEERROR_IF(true, env, w + ": optimizer must be 'adam' or 'adamw', got '" + opt + "'");
    auto num = [&](const char * key, float dflt) -> float {
        if (!o.Has(key) || o.Get(key).IsUndefined()) return dflt;
        SA_THROW_TYPEERROR_IF(!o.Get(key).IsNumber(), env, w + ": " + key + " must be a number");
        return o.Get(key).As<Napi::Number>().FloatValue();
    };
    c.lr = num("lr", c.lr);
    c.beta1 = num("beta1", c.beta1);
    c.beta2 = num("beta2", c.beta2);
    c.eps = num("eps", c.eps);
    c.weight_decay = num("weightDecay", c.weight_decay);
    c.grad_clip_norm = num("gradClipNorm", c.grad_clip_norm);
    c.multimask = get_bool(o, "multimask", c.multimask);
    c.train_prompt_encoder = get_bool(o, "trainPromptEncoder", c.train_prompt_encoder);
    c.embedding_grad = get_bool(o, "embeddingGrad", c.embedding_grad);
    SA_THROW_RANGEERROR_IF(!(c.lr >= 0) || !(c.beta1 >= 0 && c.beta1 < 1) || !(c.beta2 >= 0 && c.beta2 < 1) ||
                               !(c.eps > 0) || !(c.weight_decay >= 0) || !(c.grad_clip_norm >= 0),
                           env, w + ": lr >= 0, 0 <= beta < 1, eps > 0, weightDecay >= 0, gradClipNorm >= 0");
    return c;
}

float lr_override_from_js(Napi::Object opts) {
    if (opts.Has("lr") && opts.Get("lr").IsNumber()) return opts.Get("lr").As<Napi::Number>().FloatValue();
    return -1.f;
}

void check_targets(Napi::Env env, const char * what, const Napi::Float32Array & targets, int64_t B, int64_t m) {
    SA_THROW_RANGEERROR_IF((int64_t) targets.ElementLength() != B * m * m, env,
                           std::string(what) + ": targets must hold batch x 1 x " + std::to_string(m) + " x " +
                               std::to_string(m) + " values");
}

int64_t check_embeddings(Napi::Env env, const char * what, const Napi::Float32Array & emb, int64_t B, int64_t C,
                         int64_t E) {
    const int64_t per = C * E * E;
    const int64_t n = (int64_t) emb.ElementLength();
    SA_THROW_RANGEERROR_IF(B > 0 ? n != B * per : (n == 0 || n % per != 0), env,
                           std::string(what) + ": embeddings must hold batch x " + std::to_string(C) + " x " +
                               std::to_string(E) + " x " + std::to_string(E) + " floats, got " + std::to_string(n));
    return n / per;
}

}  // namespace saaddon
