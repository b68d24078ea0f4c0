// SPDX-License-Identifier: Apache-2.0
// What the trainer wraps (DecoderTrainer, HeadTrainer) read from JS alike: the training options and
// parameter-name arguments.
#pragma once

#include <napi.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "napi-util.h"

#include "sa/decoder-trainer.h"

namespace saaddon {

// {loss, optimizer, lr, beta1, beta2, eps, weightDecay, gradClipNorm, multimask, trainPromptEncoder,
// embeddingGrad};
// TypeError / RangeError naming `who` and the option.
sa::TrainConfig train_config_from_js(Napi::Env env, Napi::Object o, const char * who);
int64_t numel_of(const std::vector<int64_t> & shape);
// info[0] as a parameter name (TypeError naming `what` otherwise).
std::string name_arg(const Napi::CallbackInfo & info, const char * what);

// The {lr?} option of a step: the override, or -1 (none).
float lr_override_from_js(Napi::Object opts);
// RangeError (ERR_SA_INVALID_ARG) unless targets hold B x 1 x m x m values.
void check_targets(Napi::Env env, const char * what, const Napi::Float32Array & targets, int64_t B, int64_t m);
// Runs a training computation (step or loss and gradient) on the libuv pool under `mu`; the promise
// resolves with its loss. `keep` pins the JS inputs until it settles.
Napi::Value start_loss_worker(Napi::Env env, std::shared_ptr<std::mutex> mu, std::function<float()> work,
                              std::vector<Napi::Reference<Napi::Value>> && keep);

// The optimiser-state accessors every trainer wrap has, over a trainer with get_state / set_state /
// set_step_count and `shape_of(name)` giving a parameter's shape; under the model's mutex.
template <class Trainer, class ShapeOf>
Napi::Value js_get_state(const Napi::CallbackInfo & info, std::mutex & mu, Trainer & tr, ShapeOf shape_of) {
    Napi::Env env = info.Env();
    std::string name = name_arg(info, "getState(name)");
    std::vector<float> m, v;
    SA_NAPI_TRY(env, {
        std::lock_guard<std::mutex> lk(mu);
        const size_t n = (size_t) numel_of(shape_of(name));
        m.resize(n);
        v.resize(n);
        tr.get_state(name, m.data(), v.data());
    })
    Napi::Object r = Napi::Object::New(env);
    r.Set("m", f32_from_vector(env, std::move(m)));
    r.Set("v", f32_from_vector(env, std::move(v)));
    return r;
}

template <class Trainer, class ShapeOf>
Napi::Value js_set_state(const Napi::CallbackInfo & info, std::mutex & mu, Trainer & tr, ShapeOf shape_of) {
    Napi::Env env = info.Env();
    std::string name = name_arg(info, "setState(name, m, v)");
    Napi::Float32Array m = arg_f32(info, 1, "setState(name, m, v)");
    Napi::Float32Array v = arg_f32(info, 2, "setState(name, m, v)");
    SA_NAPI_TRY(env, {
        std::lock_guard<std::mutex> lk(mu);
        const int64_t n = numel_of(shape_of(name));
        SA_CHECK_ARG((int64_t) m.ElementLength() == n && (int64_t) v.ElementLength() == n,
                     "setState('" + name + "'): m and v must hold " + std::to_string(n) + " values");
        tr.set_state(name, m.Data(), v.Data());
    })
    return env.Undefined();
}

template <class Trainer>
void js_set_step_count(const Napi::CallbackInfo & info, const Napi::Value & v, std::mutex & mu, Trainer & tr) {
    Napi::Env env = info.Env();
    SA_THROW_TYPEERROR_IF(!v.IsNumber(), env, "stepCount must be a number");
    const int64_t n = v.As<Napi::Number>().Int64Value();
    SA_THROW_RANGEERROR_IF(n < 0, env, "stepCount must be >= 0");
    std::lock_guard<std::mutex> lk(mu);
    tr.set_step_count(n);
}

}  // namespace saaddon
