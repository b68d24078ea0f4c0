// SPDX-License-Identifier: Apache-2.0
#include "DecoderTrainerWrap.h"

#include "SamDecoderWrap.h"
#include "napi-util.h"
#include "prompts-bridge.h"
#include "train-config.h"

namespace saaddon {

// Not the module's instance data (that slot holds SamDecoder's constructor); lives as long as the process.
Napi::FunctionReference * DecoderTrainerWrap::constructor = nullptr;

void DecoderTrainerWrap::init(Napi::Env env, Napi::Object exports) {
    Napi::Function ctor = DefineClass(
        env, "DecoderTrainer",
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
    sa::TrainConfig cfg = train_config_from_js(env, arg_object(info, 1, "DecoderTrainer options"), "DecoderTrainer");
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
    const float lr_override = lr_override_from_js(opts);
    const int64_t m = 4 * E;
    const int64_t C = decoder_->embed_dim();
    SA_THROW_RANGEERROR_IF((int64_t) emb.ElementLength() != p.B * C * E * E, env,
                           std::string(what) + ": embeddings must hold batch x " + std::to_string(C) + " x " +
                               std::to_string(E) + " x " + std::to_string(E) + " floats");
    check_targets(env, what, tgt, p.B, m);
    keep.push_back(Napi::Persistent(emb.As<Napi::Value>()));
    keep.push_back(Napi::Persistent(tgt.As<Napi::Value>()));
    keep.push_back(Napi::Persistent(Value().As<Napi::Value>()));
    const float * e_ptr = emb.Data();
    const float * t_ptr = tgt.Data();
    auto tr = trainer_;
    auto dec = decoder_;  // held until the work is done
    auto be = backend_;
    return start_loss_worker(
        env, mu_,
        [=]() {
            (void) dec;
            (void) be;
            return update ? tr->step(e_ptr, p, t_ptr, lr_override) : tr->loss_and_grad(e_ptr, p, t_ptr);
        },
        std::move(keep));
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
    return js_get_state(info, *mu_, *trainer_, [&](const std::string & n) { return decoder_->param_shape(n); });
}

Napi::Value DecoderTrainerWrap::set_state(const Napi::CallbackInfo & info) {
    live(info.Env());
    return js_set_state(info, *mu_, *trainer_, [&](const std::string & n) { return decoder_->param_shape(n); });
}

Napi::Value DecoderTrainerWrap::get_step_count(const Napi::CallbackInfo & info) {
    live(info.Env());
    return Napi::Number::New(info.Env(), (double) trainer_->step_count());
}

void DecoderTrainerWrap::set_step_count(const Napi::CallbackInfo & info, const Napi::Value & v) {
    live(info.Env());
    js_set_step_count(info, v, *mu_, *trainer_);
}

}  // namespace saaddon
