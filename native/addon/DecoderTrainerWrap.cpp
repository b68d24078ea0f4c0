// SPDX-License-Identifier: Apache-2.0
// DecoderTrainer (see wraps.h): fine-tunes a SamDecoder's mask decoder (and optionally its prompt
// encoder). It runs under the decoder's mutex, so training and inference never overlap.
#include "prompts-bridge.h"
#include "train-config.h"
#include "wraps.h"

namespace saaddon {

class DecoderTrainerWrap : public NativeObjectWrap<DecoderTrainerWrap, sa::DecoderTrainer> {
  public:
    explicit DecoderTrainerWrap(const Napi::CallbackInfo & info) : NativeObjectWrap(info) {
        Napi::Env env = info.Env();
        std::optional<Held<sa::SamDecoder>> d = info.Length() >= 1 ? sam_decoder_of(info[0]) : std::nullopt;
        SA_THROW_TYPEERROR_IF(!d, env, "new DecoderTrainer(decoder, options): decoder must be a SamDecoder");
        if (!d->native) throw_disposed(env, "new DecoderTrainer(decoder): the SamDecoder");
        decoder_ref_ = Napi::Persistent(info[0].As<Napi::Object>());
        decoder_ = d->native;
        backend_ = d->backend;
        mu_ = d->mu;
        sa::TrainConfig cfg =
            train_config_from_js(env, arg_object(info, 1, "DecoderTrainer options"), "DecoderTrainer");
        std::shared_ptr<sa::DecoderTrainer> tr;
        SA_NAPI_TRY(env, { tr = std::make_shared<sa::DecoderTrainer>(*backend_, *decoder_, cfg); })
        // gradients and the two Adam moments of every trained parameter (the step workspace comes on top)
        int64_t n = 0;
        for (const auto & name : tr->trained_params()) n += numel_of(decoder_->param_shape(name));
        hold(env, std::move(tr), 3 * n * (int64_t) sizeof(float));
    }

    static void init(Napi::Env env, Napi::Object exports) {
        using T = sa::DecoderTrainer;
        define(env, exports, "DecoderTrainer",
               {InstanceMethod<&DecoderTrainerWrap::step>("step"),
                InstanceMethod<&DecoderTrainerWrap::loss_and_grad>("lossAndGrad"),
                InstanceMethod<&DecoderTrainerWrap::trained_params>("trainedParams"), values<&T::get_grad>("getGrad"),
                values<&T::get_state>("getState"), values<&T::set_state>("setState"),
                counter<&T::step_count, &T::set_step_count>("stepCount")});
    }

    // The decoder is freed with the last of: this trainer's work in flight, the JS decoder.
    void on_dispose() {
        decoder_.reset();
        if (!decoder_ref_.IsEmpty()) decoder_ref_.Reset();
    }
    // A trained parameter's shape: the decoder's.
    auto shape_fn(Napi::Env env) const {
        live(env);
        return [dec = decoder_.get()](const std::string & n) { return dec->param_shape(n); };
    }
    std::shared_ptr<sa::SamDecoder> decoder() const { return decoder_; }

  private:
    Napi::Value step(const Napi::CallbackInfo & info) { return run(info, true); }
    Napi::Value loss_and_grad(const Napi::CallbackInfo & info) { return run(info, false); }
    Napi::Value trained_params(const Napi::CallbackInfo & info) {
        return js_strings(info.Env(), live(info.Env()).trained_params());
    }

    Napi::Value run(const Napi::CallbackInfo & info, bool update) {
        Napi::Env env = info.Env();
        live(env);
        const char * what = update ? "step" : "lossAndGrad";
        Napi::Float32Array emb = arg_f32(info, 0, what);
        SA_THROW_TYPEERROR_IF(info.Length() < 3, env, std::string(what) + "(embeddings, prompts, targets)");
        const int64_t E = decoder_->embed_size();
        Keep keep;
        sa::Prompts p = prompts_from_js(env, info[1], E, what, &keep);
        Napi::Float32Array tgt = arg_f32(info, 2, what);
        const float lr_override = lr_override_from_js(arg_object(info, 3, "step options"));
        check_embeddings(env, what, emb, p.B, decoder_->embed_dim(), E);
        check_targets(env, what, tgt, p.B, 4 * E);
        keep.push_back(Napi::Persistent(emb.As<Napi::Value>()));
        keep.push_back(Napi::Persistent(tgt.As<Napi::Value>()));
        const float * e_ptr = emb.Data();
        const float * t_ptr = tgt.Data();
        auto dec = decoder_;  // the trainer's decoder, held until the work is done
        return start_loss(env, std::move(keep), [=](sa::DecoderTrainer & tr) {
            (void) dec;
            return update ? tr.step(e_ptr, p, t_ptr, lr_override) : tr.loss_and_grad(e_ptr, p, t_ptr);
        });
    }

    Napi::ObjectReference decoder_ref_;  // keeps the JS decoder alive
    std::shared_ptr<sa::SamDecoder> decoder_;
};

void init_decoder_trainer(Napi::Env env, Napi::Object exports) {
    DecoderTrainerWrap::init(env, exports);
}

std::optional<TrainerHeld> decoder_trainer_of(const Napi::Value & v) {
    if (DecoderTrainerWrap * w = DecoderTrainerWrap::unwrap_if(v)) return TrainerHeld{w->held(), w->decoder()};
    return std::nullopt;
}

}  // namespace saaddon
