// SPDX-License-Identifier: Apache-2.0
#include "TrainableEncoderWrap.h"

#include <cmath>

#include "DecoderTrainerWrap.h"
#include "backends.h"
#include "napi-util.h"
#include "prompts-bridge.h"
#include "sa/encoder-decoder-step.h"

namespace saaddon {

void TrainableEncoderWrap::init(Napi::Env env, Napi::Object exports) {
    Napi::Function ctor = DefineClass(
        env, "TrainableEncoder",
        {
            InstanceMethod<&TrainableEncoderWrap::encode>("encode"),
            InstanceMethod<&TrainableEncoderWrap::train_step>("trainStep"),
            InstanceMethod<&TrainableEncoderWrap::lora_names>("loraNames"),
            InstanceMethod<&TrainableEncoderWrap::param_shape>("paramShape"),
            InstanceMethod<&TrainableEncoderWrap::get_param>("getParam"),
            InstanceMethod<&TrainableEncoderWrap::set_param>("setParam"),
            InstanceMethod<&TrainableEncoderWrap::merged_weight>("mergedWeight"),
            InstanceMethod<&TrainableEncoderWrap::get_state>("getState"),
            InstanceMethod<&TrainableEncoderWrap::set_state>("setState"),
            InstanceMethod<&TrainableEncoderWrap::dispose>("dispose"),
            InstanceAccessor<&TrainableEncoderWrap::get_info>("info"),
            InstanceAccessor<&TrainableEncoderWrap::native_bytes>("nativeBytes"),
            InstanceAccessor<&TrainableEncoderWrap::get_step_count, &TrainableEncoderWrap::set_step_count>("stepCount"),
        });
    exports.Set("TrainableEncoder", ctor);
}

static sa::LoraConfig lora_from_js(Napi::Env env, Napi::Object opts) {
    SA_THROW_TYPEERROR_IF(!opts.Has("lora") || !opts.Get("lora").IsObject(), env,
                          "new TrainableEncoder: options.lora must be an object {rank, alpha?, targets?, seed?}");
    Napi::Object o = opts.Get("lora").As<Napi::Object>();
    sa::LoraConfig c;
    c.rank = get_int(o, "rank", 0, "new TrainableEncoder: lora");
    SA_THROW_RANGEERROR_IF(c.rank < 1 || c.rank > 1024, env, "new TrainableEncoder: lora.rank must be in 1..1024");
    if (o.Has("alpha") && !o.Get("alpha").IsUndefined()) {
        SA_THROW_TYPEERROR_IF(!o.Get("alpha").IsNumber(), env, "new TrainableEncoder: lora.alpha must be a number");
        c.alpha = o.Get("alpha").As<Napi::Number>().FloatValue();
        SA_THROW_RANGEERROR_IF(!(c.alpha > 0) || !std::isfinite(c.alpha), env,
                               "new TrainableEncoder: lora.alpha must be a finite number > 0");
    }
    if (o.Has("targets") && !o.Get("targets").IsUndefined()) {
        SA_THROW_TYPEERROR_IF(!o.Get("targets").IsArray(), env,
                              "new TrainableEncoder: lora.targets must be an array of strings");
        Napi::Array a = o.Get("targets").As<Napi::Array>();
        c.targets.clear();
        for (uint32_t i = 0; i < a.Length(); ++i) {
            SA_THROW_TYPEERROR_IF(!a.Get(i).IsString(), env,
                                  "new TrainableEncoder: lora.targets must be an array of strings");
            c.targets.push_back(a.Get(i).As<Napi::String>().Utf8Value());
        }
    }
    const int64_t seed = get_int(o, "seed", 0, "new TrainableEncoder: lora");
    SA_THROW_RANGEERROR_IF(seed < 0, env, "new TrainableEncoder: lora.seed must be >= 0");
    c.seed = (uint64_t) seed;
    return c;
}

TrainableEncoderWrap::TrainableEncoderWrap(const Napi::CallbackInfo & info)
    : Napi::ObjectWrap<TrainableEncoderWrap>(info) {
    Napi::Env env = info.Env();
    SA_THROW_TYPEERROR_IF(info.Length() < 1 || !info[0].IsObject(), env,
                          "new TrainableEncoder(weights, options): weights must be an object of {shape, data}");
    Napi::Object opts = arg_object(info, 1, "new TrainableEncoder options");
    const std::string arch = get_string(opts, "arch", "vit");
    const std::string prefix = get_string(opts, "prefix", "image_encoder.");
    const std::string backend = get_string(opts, "backend", "cpu");
    SA_THROW_TYPEERROR_IF(arch != "vit" && arch != "tinyvit", env,
                          "arch must be 'vit' or 'tinyvit', got '" + arch + "'");
    sa::TrainableEncoderOptions eo;
    eo.lora = lora_from_js(env, opts);
    eo.base_grads = false;
    lora_ = eo.lora;
    sa::WeightMap weights = weight_map_from_js(env, info[0].As<Napi::Object>());
    backend_ = backend_for(env, backend, "fp32");
    SA_NAPI_TRY(env, { encoder_ = sa::make_trainable_encoder(*backend_, weights, arch, prefix, eo); })
    // the weights, plus the adapters with their gradients and two moments
    int64_t lora = 0;
    for (const auto & n : encoder_->lora_names()) lora += numel_of(env, n);
    mem_.set(env, weight_bytes(weights) + 4 * lora * (int64_t) sizeof(float));
}

int64_t TrainableEncoderWrap::numel_of(Napi::Env env, const std::string & name) const {
    int64_t n = 1;
    SA_NAPI_TRY(env, {
        for (auto d : encoder_->param_shape(name)) n *= d;
    })
    return n;
}

Napi::Value TrainableEncoderWrap::dispose(const Napi::CallbackInfo & info) {
    encoder_.reset();
    mem_.release(info.Env());
    return info.Env().Undefined();
}

Napi::Value TrainableEncoderWrap::get_info(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    live(env);
    Napi::Object o = Napi::Object::New(env);
    set_encoder_geometry(env, o, *encoder_);
    o.Set("backend", Napi::String::New(env, backend_->name()));
    o.Set("rank", Napi::Number::New(env, (double) lora_.rank));
    o.Set("alpha", Napi::Number::New(env, lora_.alpha > 0 ? lora_.alpha : (double) lora_.rank));
    Napi::Array t = Napi::Array::New(env, lora_.targets.size());
    for (size_t i = 0; i < lora_.targets.size(); ++i) t.Set((uint32_t) i, Napi::String::New(env, lora_.targets[i]));
    o.Set("targets", t);
    o.Set("loraScale", Napi::Number::New(env, encoder_->lora_scale()));
    return o;
}

Napi::Value TrainableEncoderWrap::encode(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    live(env);
    Napi::Float32Array images = arg_f32(info, 0, "encode(images, batch)");
    SA_THROW_TYPEERROR_IF(info.Length() < 2 || !info[1].IsNumber(), env,
                          "encode(images, batch): batch must be a number");
    const int64_t B = info[1].As<Napi::Number>().Int64Value();
    check_image_batch(env, images, B, encoder_->img_size(), "encode");
    const int64_t E = encoder_->embed_size();
    auto enc = encoder_;
    auto be = backend_;
    return encode_on_pool(env, Value(), images, (size_t) (B * enc->embed_dim() * E * E), mu_,
                          [=](const float * src, float * out) {
                              (void) be;
                              enc->forward(src, B, out);
                          });
}

Napi::Value TrainableEncoderWrap::train_step(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    live(env);
    const char * what = "trainStep(trainer, images, prompts, targets)";
    const bool is_trainer = info.Length() >= 1 && info[0].IsObject() && DecoderTrainerWrap::constructor &&
                            info[0].As<Napi::Object>().InstanceOf(DecoderTrainerWrap::constructor->Value());
    SA_THROW_TYPEERROR_IF(!is_trainer, env, std::string(what) + ": trainer must be a DecoderTrainer");
    DecoderTrainerWrap * tw = DecoderTrainerWrap::Unwrap(info[0].As<Napi::Object>());
    auto tr = tw->trainer();
    if (!tr) throw_disposed(env, "trainStep: the DecoderTrainer");
    SA_THROW_TYPEERROR_IF(tw->backend() != backend_ && tw->backend()->name() != backend_->name(), env,
                          std::string(what) + ": the trainer and the encoder must run on the same backend");
    const int64_t E = encoder_->embed_size();
    SA_THROW_RANGEERROR_IF(tw->decoder()->embed_size() != E || tw->decoder()->embed_dim() != encoder_->embed_dim(), env,
                           std::string(what) + ": the decoder's embedding size does not match the encoder's");
    Napi::Float32Array images = arg_f32(info, 1, what);
    SA_THROW_TYPEERROR_IF(info.Length() < 4, env, what);
    std::vector<Napi::Reference<Napi::Value>> keep;
    sa::Prompts p = prompts_from_js(env, info[2], E, what, &keep);
    check_image_batch(env, images, p.B, encoder_->img_size(), "trainStep");
    Napi::Float32Array tgt = arg_f32(info, 3, what);
    const int64_t m = 4 * E;
    SA_THROW_RANGEERROR_IF(
        (int64_t) tgt.ElementLength() != p.B * m * m, env,
        "trainStep: targets must hold batch x 1 x " + std::to_string(m) + " x " + std::to_string(m) + " values");
    Napi::Object opts = arg_object(info, 4, "trainStep options");
    float lr = -1.f;
    if (opts.Has("lr") && !opts.Get("lr").IsUndefined()) {
        SA_THROW_TYPEERROR_IF(!opts.Get("lr").IsNumber(), env, "trainStep: lr must be a number");
        lr = opts.Get("lr").As<Napi::Number>().FloatValue();
        SA_THROW_RANGEERROR_IF(!(lr >= 0) || !std::isfinite(lr), env, "trainStep: lr must be a finite number >= 0");
    }
    keep.push_back(Napi::Persistent(images.As<Napi::Value>()));
    keep.push_back(Napi::Persistent(tgt.As<Napi::Value>()));
    keep.push_back(Napi::Persistent(Value().As<Napi::Value>()));
    keep.push_back(Napi::Persistent(info[0]));  // the trainer, which keeps its decoder
    const float * i_ptr = images.Data();
    const float * t_ptr = tgt.Data();
    auto enc = encoder_;
    auto be = backend_;
    auto dec = tw->decoder();
    auto mu = mu_;
    auto dmu = tw->mutex();
    auto loss = std::make_shared<float>(0.f);
    return PromiseWorker::start(
        env,
        [=]() {
            // always the encoder's lock first, then the decoder's (decoder-only work takes the latter alone)
            std::lock_guard<std::mutex> lk(*mu);
            std::lock_guard<std::mutex> lk2(*dmu);
            (void) be;
            (void) dec;
            *loss = sa::encoder_decoder_step(*enc, *tr, i_ptr, p, t_ptr, lr);
        },
        [=](Napi::Env e) -> Napi::Value { return Napi::Number::New(e, *loss); }, std::move(keep));
}

static std::string name_arg(const Napi::CallbackInfo & info, const char * what) {
    SA_THROW_TYPEERROR_IF(info.Length() < 1 || !info[0].IsString(), info.Env(),
                          std::string(what) + ": name must be a string");
    return info[0].As<Napi::String>().Utf8Value();
}

Napi::Value TrainableEncoderWrap::lora_names(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    live(env);
    auto names = encoder_->lora_names();
    Napi::Array a = Napi::Array::New(env, names.size());
    for (size_t i = 0; i < names.size(); ++i) a.Set((uint32_t) i, Napi::String::New(env, names[i]));
    return a;
}

Napi::Value TrainableEncoderWrap::param_shape(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    live(env);
    const std::string name = name_arg(info, "paramShape(name)");
    std::vector<int64_t> s;
    SA_NAPI_TRY(env, { s = encoder_->param_shape(name); })
    Napi::Array a = Napi::Array::New(env, s.size());
    for (size_t i = 0; i < s.size(); ++i) a.Set((uint32_t) i, Napi::Number::New(env, (double) s[i]));
    return a;
}

Napi::Value TrainableEncoderWrap::get_param(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    live(env);
    const std::string name = name_arg(info, "getParam(name)");
    std::vector<float> out((size_t) numel_of(env, name));
    SA_NAPI_TRY(env, {
        std::lock_guard<std::mutex> lk(*mu_);
        encoder_->get_param(name, out.data());
    })
    return f32_from_vector(env, std::move(out));
}

Napi::Value TrainableEncoderWrap::set_param(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    live(env);
    const std::string name = name_arg(info, "setParam(name, data)");
    Napi::Float32Array d = arg_f32(info, 1, "setParam(name, data)");
    const int64_t n = numel_of(env, name);
    SA_THROW_RANGEERROR_IF((int64_t) d.ElementLength() != n, env,
                           "setParam('" + name + "'): data must hold " + std::to_string(n) + " values, got " +
                               std::to_string(d.ElementLength()));
    SA_NAPI_TRY(env, {
        std::lock_guard<std::mutex> lk(*mu_);
        encoder_->set_param(name, d.Data());
    })
    return env.Undefined();
}

Napi::Value TrainableEncoderWrap::merged_weight(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    live(env);
    const std::string name = name_arg(info, "mergedWeight(name)");
    std::vector<float> out((size_t) numel_of(env, name));
    SA_NAPI_TRY(env, {
        std::lock_guard<std::mutex> lk(*mu_);
        encoder_->merged_weight(name, out.data());
    })
    return f32_from_vector(env, std::move(out));
}

Napi::Value TrainableEncoderWrap::get_state(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    live(env);
    const std::string name = name_arg(info, "getState(name)");
    const size_t n = (size_t) numel_of(env, name);
    std::vector<float> m(n), v(n);
    SA_NAPI_TRY(env, {
        std::lock_guard<std::mutex> lk(*mu_);
        encoder_->get_lora_state(name, m.data(), v.data());
    })
    Napi::Object r = Napi::Object::New(env);
    r.Set("m", f32_from_vector(env, std::move(m)));
    r.Set("v", f32_from_vector(env, std::move(v)));
    return r;
}

Napi::Value TrainableEncoderWrap::set_state(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    live(env);
    const std::string name = name_arg(info, "setState(name, m, v)");
    Napi::Float32Array m = arg_f32(info, 1, "setState(name, m, v)");
    Napi::Float32Array v = arg_f32(info, 2, "setState(name, m, v)");
    const int64_t n = numel_of(env, name);
    SA_THROW_RANGEERROR_IF((int64_t) m.ElementLength() != n || (int64_t) v.ElementLength() != n, env,
                           "setState('" + name + "'): m and v must hold " + std::to_string(n) + " values");
    SA_NAPI_TRY(env, {
        std::lock_guard<std::mutex> lk(*mu_);
        encoder_->set_lora_state(name, m.Data(), v.Data());
    })
    return env.Undefined();
}

Napi::Value TrainableEncoderWrap::get_step_count(const Napi::CallbackInfo & info) {
    live(info.Env());
    return Napi::Number::New(info.Env(), (double) encoder_->lora_step_count());
}

void TrainableEncoderWrap::set_step_count(const Napi::CallbackInfo & info, const Napi::Value & v) {
    Napi::Env env = info.Env();
    live(env);
    SA_THROW_TYPEERROR_IF(!v.IsNumber(), env, "stepCount must be a number");
    const int64_t n = v.As<Napi::Number>().Int64Value();
    SA_THROW_RANGEERROR_IF(n < 0, env, "stepCount must be >= 0");
    std::lock_guard<std::mutex> lk(*mu_);
    encoder_->set_lora_step_count(n);
}

}  // namespace saaddon
