// SPDX-License-Identifier: Apache-2.0
#include "HeadTrainerWrap.h"

#include "backends.h"
#include "napi-util.h"
#include "train-config.h"

namespace saaddon {

void HeadTrainerWrap::init(Napi::Env env, Napi::Object exports) {
    Napi::Function ctor = DefineClass(
        env, "HeadTrainer",
        {
            InstanceMethod<&HeadTrainerWrap::predict>("predict"),
            InstanceMethod<&HeadTrainerWrap::step>("step"),
            InstanceMethod<&HeadTrainerWrap::loss_and_grad>("lossAndGrad"),
            InstanceMethod<&HeadTrainerWrap::param_names>("paramNames"),
            InstanceMethod<&HeadTrainerWrap::param_names>("trainedParams"),
            InstanceMethod<&HeadTrainerWrap::param_shape>("paramShape"),
            InstanceMethod<&HeadTrainerWrap::get_param>("getParam"),
            InstanceMethod<&HeadTrainerWrap::set_param>("setParam"),
            InstanceMethod<&HeadTrainerWrap::get_grad>("getGrad"),
            InstanceMethod<&HeadTrainerWrap::get_state>("getState"),
            InstanceMethod<&HeadTrainerWrap::set_state>("setState"),
            InstanceMethod<&HeadTrainerWrap::dispose>("dispose"),
            InstanceAccessor<&HeadTrainerWrap::get_info>("info"),
            InstanceAccessor<&HeadTrainerWrap::native_bytes>("nativeBytes"),
            InstanceAccessor<&HeadTrainerWrap::get_step_count, &HeadTrainerWrap::set_step_count>("stepCount"),
        });
    exports.Set("HeadTrainer", ctor);
}

HeadTrainerWrap::HeadTrainerWrap(const Napi::CallbackInfo & info) : Napi::ObjectWrap<HeadTrainerWrap>(info) {
    Napi::Env env = info.Env();
    SA_THROW_TYPEERROR_IF(info.Length() < 1 || !info[0].IsObject(), env,
                          "new HeadTrainer(head, options): head must be an object {depth, embedSize, ...}");
    Napi::Object h = info[0].As<Napi::Object>();
    sa::HeadConfig hc;
    hc.depth = get_int(h, "depth", 0, "HeadTrainer head");
    hc.hidden = get_int(h, "hidden", hc.hidden, "HeadTrainer head");
    hc.in_channels = get_int(h, "inChannels", hc.in_channels, "HeadTrainer head");
    hc.embed_size = get_int(h, "embedSize", hc.embed_size, "HeadTrainer head");
    sa::TrainConfig cfg = train_config_from_js(env, arg_object(info, 1, "HeadTrainer options"), "HeadTrainer");
    backend_ = backend_for(env, get_string(h, "backend", "cpu"));
    SA_NAPI_TRY(env, { head_ = std::make_shared<sa::HeadTrainer>(*backend_, hc, cfg); })
    // parameters, gradients and the two moments (the workspace of a batch comes with the first step)
    mem_.set(env, 4 * head_->num_params() * (int64_t) sizeof(float));
}

Napi::Value HeadTrainerWrap::dispose(const Napi::CallbackInfo & info) {
    head_.reset();  // work in flight holds its own reference
    mem_.release(info.Env());
    return info.Env().Undefined();
}

Napi::Value HeadTrainerWrap::get_info(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    const sa::HeadConfig & hc = live(env).head_config();
    Napi::Object o = Napi::Object::New(env);
    o.Set("depth", Napi::Number::New(env, (double) hc.depth));
    o.Set("hidden", Napi::Number::New(env, (double) hc.hidden));
    o.Set("inChannels", Napi::Number::New(env, (double) hc.in_channels));
    o.Set("embedSize", Napi::Number::New(env, (double) hc.embed_size));
    o.Set("backend", Napi::String::New(env, backend_->name()));
    return o;
}

int64_t HeadTrainerWrap::batch_of(Napi::Env env, const Napi::Float32Array & emb, const char * what) const {
    const sa::HeadConfig & hc = head_->head_config();
    const int64_t per = hc.in_channels * hc.embed_size * hc.embed_size;
    const int64_t n = (int64_t) emb.ElementLength();
    SA_THROW_RANGEERROR_IF(n == 0 || n % per != 0, env,
                           std::string(what) + ": embeddings must hold batch x " + std::to_string(hc.in_channels) +
                               " x " + std::to_string(hc.embed_size) + " x " + std::to_string(hc.embed_size) +
                               " floats, got " + std::to_string(n));
    return n / per;
}

Napi::Value HeadTrainerWrap::predict(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    live(env);
    Napi::Float32Array emb = arg_f32(info, 0, "predict(embeddings)");
    const int64_t B = batch_of(env, emb, "predict");
    const int64_t E = head_->head_config().embed_size;
    std::vector<Napi::Reference<Napi::Value>> keep;
    keep.push_back(Napi::Persistent(emb.As<Napi::Value>()));
    const float * e_ptr = emb.Data();
    auto head = head_;
    auto be = backend_;
    auto mu = mu_;
    auto low = std::make_shared<std::vector<float>>((size_t) (B * 16 * E * E));
    return PromiseWorker::start(
        env,
        [=]() {
            std::lock_guard<std::mutex> lk(*mu);
            (void) be;
            head->predict(e_ptr, B, low->data());
        },
        [=](Napi::Env e) -> Napi::Value { return f32_from_vector(e, std::move(*low)); }, std::move(keep));
}

Napi::Value HeadTrainerWrap::run(const Napi::CallbackInfo & info, bool update) {
    Napi::Env env = info.Env();
    live(env);
    const char * what = update ? "step" : "lossAndGrad";
    Napi::Float32Array emb = arg_f32(info, 0, what);
    Napi::Float32Array tgt = arg_f32(info, 1, what);
    Napi::Object opts = arg_object(info, 2, "step options");
    const float lr_override = lr_override_from_js(opts);
    const int64_t B = batch_of(env, emb, what);
    check_targets(env, what, tgt, B, 4 * head_->head_config().embed_size);
    std::vector<Napi::Reference<Napi::Value>> keep;
    keep.push_back(Napi::Persistent(emb.As<Napi::Value>()));
    keep.push_back(Napi::Persistent(tgt.As<Napi::Value>()));
    keep.push_back(Napi::Persistent(Value().As<Napi::Value>()));
    const float * e_ptr = emb.Data();
    const float * t_ptr = tgt.Data();
    auto head = head_;
    auto be = backend_;
    return start_loss_worker(
        env, mu_,
        [=]() {
            (void) be;
            return update ? head->step(e_ptr, B, t_ptr, lr_override) : head->loss_and_grad(e_ptr, B, t_ptr);
        },
        std::move(keep));
}

Napi::Value HeadTrainerWrap::param_names(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    auto names = live(env).param_names();
    Napi::Array a = Napi::Array::New(env, names.size());
    for (size_t i = 0; i < names.size(); ++i) a.Set((uint32_t) i, Napi::String::New(env, names[i]));
    return a;
}

Napi::Value HeadTrainerWrap::param_shape(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    live(env);
    std::string name = name_arg(info, "paramShape(name)");
    std::vector<int64_t> shape;
    SA_NAPI_TRY(env, { shape = head_->param_shape(name); })
    Napi::Array a = Napi::Array::New(env, shape.size());
    for (size_t i = 0; i < shape.size(); ++i) a.Set((uint32_t) i, Napi::Number::New(env, (double) shape[i]));
    return a;
}

Napi::Value HeadTrainerWrap::get_param(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    live(env);
    std::string name = name_arg(info, "getParam(name)");
    std::vector<float> out;
    SA_NAPI_TRY(env, {
        std::lock_guard<std::mutex> lk(*mu_);
        out.resize((size_t) numel_of(head_->param_shape(name)));
        head_->get_param(name, out.data());
    })
    return f32_from_vector(env, std::move(out));
}

Napi::Value HeadTrainerWrap::set_param(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    live(env);
    std::string name = name_arg(info, "setParam(name, data)");
    Napi::Float32Array data = arg_f32(info, 1, "setParam(name, data)");
    SA_NAPI_TRY(env, {
        std::lock_guard<std::mutex> lk(*mu_);
        const int64_t n = numel_of(head_->param_shape(name));
        SA_CHECK_ARG((int64_t) data.ElementLength() == n, "setParam('" + name + "'): expected " + std::to_string(n) +
                                                              " values, got " + std::to_string(data.ElementLength()));
        head_->set_param(name, data.Data());
    })
    return env.Undefined();
}

Napi::Value HeadTrainerWrap::get_grad(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    live(env);
    std::string name = name_arg(info, "getGrad(name)");
    std::vector<float> out;
    SA_NAPI_TRY(env, {
        std::lock_guard<std::mutex> lk(*mu_);
        out.resize((size_t) numel_of(head_->param_shape(name)));
        head_->get_grad(name, out.data());
    })
    return f32_from_vector(env, std::move(out));
}

Napi::Value HeadTrainerWrap::get_state(const Napi::CallbackInfo & info) {
    live(info.Env());
    return js_get_state(info, *mu_, *head_, [&](const std::string & n) { return head_->param_shape(n); });
}

Napi::Value HeadTrainerWrap::set_state(const Napi::CallbackInfo & info) {
    live(info.Env());
    return js_set_state(info, *mu_, *head_, [&](const std::string & n) { return head_->param_shape(n); });
}

Napi::Value HeadTrainerWrap::get_step_count(const Napi::CallbackInfo & info) {
    return Napi::Number::New(info.Env(), (double) live(info.Env()).step_count());
}

void HeadTrainerWrap::set_step_count(const Napi::CallbackInfo & info, const Napi::Value & v) {
    live(info.Env());
    js_set_step_count(info, v, *mu_, *head_);
}

}  // namespace saaddon
