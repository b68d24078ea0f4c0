// SPDX-License-Identifier: Apache-2.0
#include "DecoderTrainerWrap.h"

#include "SamDecoderWrap.h"
#include "napi-util.h"
#include "prompts-bridge.h"

namespace saaddon {

// Not the module's instance data (that slot holds SamDecoder's constructor); lives as long as the process.
Napi::FunctionReference * DecoderTrainerWrap::constructor = nullptr;

void DecoderTrainerWrap::init(Napi::Env env, Napi::Object exports) {
    Napi::Function ctor =
        DefineClass(env, "DecoderTrainer",
                    {
                        InstanceMethod<&DecoderTrainerWrap::step>("step"),
                        InstanceMethod<&DecoderTrainerWrap::loss_and_grad>("lossAndGrad"),
                        InstanceMethod<&DecoderTrainerWrap::get_grad>("getGrad"),
                        InstanceMethod<&DecoderTrainerWrap::trained_params>("trainedParams"),
                        InstanceMethod<&DecoderTrainerWrap::get_state>("getState"),
                        InstanceMethod<&DecoderTrainerWrap::set_state>("setState"),
                        InstanceMethod<&DecoderTrainerWrap::dispose>("dispose"),
                        InstanceAccessor<&DecoderTrainerWrap::native_bytes>("nativeBytes"),
                        InstanceAccessor<&DecoderTrainerWrap::get_step_count, &DecoderTrainerWrap::set_step_count>("stepCount"),
                    });
    constructor = new Napi::FunctionReference(Napi::Persistent(ctor));
    exports.Set("DecoderTrainer", ctor);
}

static int64_t numel_of(const std::vector<int64_t> & shape) {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
}

static sa::TrainConfig config_from_js(Napi::Env env, Napi::Object o) {
    sa::TrainConfig c;
    const std::string loss = get_string(o, "loss", "dicece");
    if (loss == "dicece") c.loss = sa::LossKind::DiceCE;
    else if (loss == "medsam") c.loss = sa::LossKind::MedSAM;
    else if (loss == "sam") c.loss = sa::LossKind::SAM;
    else SA_THROW_TYPEERROR_IF(true, env, "DecoderTrainer: loss must be 'dicece', 'medsam' or 'sam', got '" + loss + "'");
    const std::string opt = get_string(o, "optimizer", "adam");
    if (opt == "adam") c.optim = sa::OptimKind::Adam;
    else if (opt == "adamw") c.optim = sa::OptimKind::AdamW;
    else SA_THROW_TYPEERROR_IF(true, env, "DecoderTrainer: optimizer must be 'adam' or 'adamw', got '" + opt + "'");
    auto num = [&](const char * key, float dflt) -> float {
        if (!o.Has(key) || o.Get(key).IsUndefined()) return dflt;
        SA_THROW_TYPEERROR_IF(!o.Get(key).IsNumber(), env, std::string("DecoderTrainer: ") + key + " must be a number");
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
                           env, "DecoderTrainer: lr >= 0, 0 <= beta < 1, eps > 0, weightDecay >= 0, gradClipNorm >= 0");
    return c;
}

DecoderTrainerWrap::DecoderTrainerWrap(const Napi::CallbackInfo & info) : Napi::ObjectWrap<DecoderTrainerWrap>(info) {
    Napi::Env env = info.Env();
    bool ok = info.Length() >= 1 && info[0].IsObject() &&
              info[0].As<Napi::Object>().InstanceOf(SamDecoderWrap::constructor->Value());
    SA_THROW_TYPEERROR_IF(!ok, env, "new DecoderTrainer(decoder, options): decoder must be a SamDecoder");
    SamDecoderWrap * dw = SamDecoderWrap::Unwrap(info[0].As<Napi::Object>());
    decoder_ref_ = Napi::Persistent(info[0].As<Napi::Object>());
    backend_ = dw->backend();
    decoder_ = dw->decoder();
    if (!decoder_) throw_disposed(env, "new DecoderTrainer(decoder): the SamDecoder");
    mu_ = dw->mutex();
    sa::TrainConfig cfg = config_from_js(env, arg_object(info, 1, "DecoderTrainer options"));
    SA_NAPI_TRY(env, { trainer_ = std::make_shared<sa::DecoderTrainer>(*backend_, *decoder_, cfg); })
    // gradients and the two Adam moments of every trained parameter (the step workspace comes on top)
    int64_t n = 0;
    for (const auto & name : trainer_->trained_params()) n += numel_of(decoder_->param_shape(name));
    mem_.set(env, 3 * n * (int64_t) sizeof(float));
}

Napi::Value DecoderTrainerWrap::dispose(const Napi::CallbackInfo & info) {
    // Work in flight holds its own references; the trainer (and the decoder, if the JS decoder is gone
    // too) is freed with the last one.
    trainer_.reset();
    decoder_.reset();
    if (!decoder_ref_.IsEmpty()) decoder_ref_.Reset();
    mem_.release(info.Env());
    return info.Env().Undefined();
}

Napi::Value DecoderTrainerWrap::run(const Napi::CallbackInfo & info, bool update) {
    live(info.Env());
    Napi::Env env = info.Env();
    const char * what = update ? "step" : "lossAndGrad";
    Napi::Float32Array emb = arg_f32(info, 0, what);
    SA_THROW_TYPEERROR_IF(info.Length() < 3, env, std::string(what) + "(embeddings, prompts, targets)");
    const int64_t E = decoder_->embed_size();
    std::vector<Napi::Reference<Napi::Value>> keep;
    sa::Prompts p = prompts_from_js(env, info[1], E, what, &keep);
    Napi::Float32Array tgt = arg_f32(info, 2, what);
    Napi::Object opts = arg_object(info, 3, "step options");
    float lr_override = -1.f;
    if (opts.Has("lr") && opts.Get("lr").IsNumber()) lr_override = opts.Get("lr").As<Napi::Number>().FloatValue();
    const int64_t m = 4 * E;
    const int64_t C = decoder_->embed_dim();
    SA_THROW_RANGEERROR_IF((int64_t) emb.ElementLength() != p.B * C * E * E, env,
                           std::string(what) + ": embeddings must hold batch x " + std::to_string(C) + " x " + std::to_string(E) + " x " +
                               std::to_string(E) + " floats");
    SA_THROW_RANGEERROR_IF((int64_t) tgt.ElementLength() != p.B * m * m, env,
                           std::string(what) + ": targets must hold batch x 1 x " + std::to_string(m) + " x " +
                               std::to_string(m) + " values");
    keep.push_back(Napi::Persistent(emb.As<Napi::Value>()));
    keep.push_back(Napi::Persistent(tgt.As<Napi::Value>()));
    keep.push_back(Napi::Persistent(Value().As<Napi::Value>()));
    const float * e_ptr = emb.Data();
    const float * t_ptr = tgt.Data();
    auto tr = trainer_;
    auto dec = decoder_;
    auto be = backend_;
    auto mu = mu_;
    auto loss = std::make_shared<float>(0.f);
    return PromiseWorker::start(
        env,
        [=]() {
            std::lock_guard<std::mutex> lk(*mu);
            (void) dec;
            (void) be;
            *loss = update ? tr->step(e_ptr, p, t_ptr, lr_override) : tr->loss_and_grad(e_ptr, p, t_ptr);
        },
        [=](Napi::Env e) -> Napi::Value { return Napi::Number::New(e, *loss); }, std::move(keep));
}

static std::string name_arg(const Napi::CallbackInfo & info, const char * what) {
    SA_THROW_TYPEERROR_IF(info.Length() < 1 || !info[0].IsString(), info.Env(), std::string(what) + ": name must be a string");
    return info[0].As<Napi::String>().Utf8Value();
}


Napi::Value DecoderTrainerWrap::get_grad(const Napi::CallbackInfo & info) {
    live(info.Env());
    Napi::Env env = info.Env();
    std::string name = name_arg(info, "getGrad(name)");
    std::vector<float> out;
    SA_NAPI_TRY(env, {
        std::lock_guard<std::mutex> lk(*mu_);
        out.resize((size_t) numel_of(decoder_->param_shape(name)));
        trainer_->get_grad(name, out.data());
    })
    return f32_from_vector(env, std::move(out));
}

Napi::Value DecoderTrainerWrap::trained_params(const Napi::CallbackInfo & info) {
    live(info.Env());
    Napi::Env env = info.Env();
    auto names = trainer_->trained_params();
    Napi::Array a = Napi::Array::New(env, names.size());
    for (size_t i = 0; i < names.size(); ++i) a.Set((uint32_t) i, Napi::String::New(env, names[i]));
    return a;
}

Napi::Value DecoderTrainerWrap::get_state(const Napi::CallbackInfo & info) {
    live(info.Env());
    Napi::Env env = info.Env();
    std::string name = name_arg(info, "getState(name)");
    std::vector<float> m, v;
    SA_NAPI_TRY(env, {
        std::lock_guard<std::mutex> lk(*mu_);
        const size_t n = (size_t) numel_of(decoder_->param_shape(name));
        m.resize(n);
        v.resize(n);
        trainer_->get_state(name, m.data(), v.data());
    })
    Napi::Object r = Napi::Object::New(env);
    r.Set("m", f32_from_vector(env, std::move(m)));
    r.Set("v", f32_from_vector(env, std::move(v)));
    return r;
}

Napi::Value DecoderTrainerWrap::set_state(const Napi::CallbackInfo & info) {
    live(info.Env());
    Napi::Env env = info.Env();
    std::string name = name_arg(info, "setState(name, m, v)");
    Napi::Float32Array m = arg_f32(info, 1, "setState(name, m, v)");
    Napi::Float32Array v = arg_f32(info, 2, "setState(name, m, v)");
    SA_NAPI_TRY(env, {
        std::lock_guard<std::mutex> lk(*mu_);
        const int64_t n = numel_of(decoder_->param_shape(name));
        SA_CHECK_ARG((int64_t) m.ElementLength() == n && (int64_t) v.ElementLength() == n,
                     "setState('" + name + "'): m and v must hold " + std::to_string(n) + " values");
        trainer_->set_state(name, m.Data(), v.Data());
    })
    return env.Undefined();
}

Napi::Value DecoderTrainerWrap::get_step_count(const Napi::CallbackInfo & info) {
    live(info.Env());
    return Napi::Number::New(info.Env(), (double) trainer_->step_count());
}

void DecoderTrainerWrap::set_step_count(const Napi::CallbackInfo & info, const Napi::Value & v) {
    live(info.Env());
    Napi::Env env = info.Env();
    SA_THROW_TYPEERROR_IF(!v.IsNumber(), env, "stepCount must be a number");
    const int64_t n = v.As<Napi::Number>().Int64Value();
    SA_THROW_RANGEERROR_IF(n < 0, env, "stepCount must be >= 0");
    std::lock_guard<std::mutex> lk(*mu_);
    trainer_->set_step_count(n);
}

}  // namespace saaddon
