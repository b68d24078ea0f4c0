// SPDX-License-Identifier: Apache-2.0
// TrainableEncoder (see wraps.h): an image encoder with LoRA adapters, trained together with a
// DecoderTrainer's decoder.
#include <cmath>

#include "backends.h"
#include "prompts-bridge.h"
#include "sa/encoder-decoder-step.h"
#include "sa/trainable-encoder.h"
#include "train-config.h"
#include "wraps.h"

namespace saaddon {

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

class TrainableEncoderWrap : public NativeObjectWrap<TrainableEncoderWrap, sa::TrainableEncoder> {
  public:
    explicit TrainableEncoderWrap(const Napi::CallbackInfo & info) : NativeObjectWrap(info) {
        Napi::Env env = info.Env();
        EncoderArgs a = encoder_args(info, "TrainableEncoder");
        sa::TrainableEncoderOptions eo;
        eo.lora = lora_from_js(env, a.opts);
        eo.base_grads = false;
        lora_ = eo.lora;
        backend_ = backend_for(env, a.backend, "fp32");
        std::shared_ptr<sa::TrainableEncoder> enc;
        // the weights, plus the adapters with their gradients and two moments
        int64_t lora = 0;
        SA_NAPI_TRY(env, {
            enc = sa::make_trainable_encoder(*backend_, a.weights, a.arch, a.prefix, eo);
            for (const auto & n : enc->lora_names()) lora += numel_of(enc->param_shape(n));
        })
        hold(env, std::move(enc), weight_bytes(a.weights) + 4 * lora * (int64_t) sizeof(float));
    }

    static void init(Napi::Env env, Napi::Object exports) {
        using T = sa::TrainableEncoder;
        define(
            env, exports, "TrainableEncoder",
            {InstanceMethod<&TrainableEncoderWrap::encode>("encode"),
             InstanceMethod<&TrainableEncoderWrap::train_step>("trainStep"),
             InstanceMethod<&TrainableEncoderWrap::lora_names>("loraNames"), shape_member(),
             values<&T::get_param>("getParam"), values<&T::set_param>("setParam"),
             values<&T::merged_weight>("mergedWeight"), values<&T::get_lora_state>("getState"),
             values<&T::set_lora_state>("setState"), counter<&T::lora_step_count, &T::set_lora_step_count>("stepCount"),
             InstanceAccessor<&TrainableEncoderWrap::get_info>("info")});
    }

  private:
    Napi::Value get_info(const Napi::CallbackInfo & info) {
        Napi::Env env = info.Env();
        const sa::TrainableEncoder & enc = live(env);
        Napi::Object o = encoder_geometry(env, enc);
        o.Set("backend", Napi::String::New(env, backend_->name()));
        o.Set("rank", Napi::Number::New(env, (double) lora_.rank));
        o.Set("alpha", Napi::Number::New(env, lora_.alpha > 0 ? lora_.alpha : (double) lora_.rank));
        o.Set("targets", js_strings(env, lora_.targets));
        o.Set("loraScale", Napi::Number::New(env, enc.lora_scale()));
        return o;
    }

    Napi::Value lora_names(const Napi::CallbackInfo & info) {
        return js_strings(info.Env(), live(info.Env()).lora_names());
    }

    Napi::Value encode(const Napi::CallbackInfo & info) {
        return encode_images(
            info, [](sa::TrainableEncoder & e, const float * src, int64_t B, float * out) { e.forward(src, B, out); },
            [](Napi::Env, Napi::Object) {});
    }

    Napi::Value train_step(const Napi::CallbackInfo & info) {
        Napi::Env env = info.Env();
        sa::TrainableEncoder & enc = live(env);
        const char * what = "trainStep(trainer, images, prompts, targets)";
        std::optional<TrainerHeld> t = info.Length() >= 1 ? decoder_trainer_of(info[0]) : std::nullopt;
        SA_THROW_TYPEERROR_IF(!t, env, std::string(what) + ": trainer must be a DecoderTrainer");
        auto tr = t->trainer.native;
        if (!tr) throw_disposed(env, "trainStep: the DecoderTrainer");
        SA_THROW_TYPEERROR_IF(t->trainer.backend != backend_ && t->trainer.backend->name() != backend_->name(), env,
                              std::string(what) + ": the trainer and the encoder must run on the same backend");
        const int64_t E = enc.embed_size();
        auto dec = t->decoder;
        SA_THROW_RANGEERROR_IF(dec->embed_size() != E || dec->embed_dim() != enc.embed_dim(), env,
                               std::string(what) + ": the decoder's embedding size does not match the encoder's");
        Napi::Float32Array images = arg_f32(info, 1, what);
        SA_THROW_TYPEERROR_IF(info.Length() < 4, env, what);
        Keep keep;
        sa::Prompts p = prompts_from_js(env, info[2], E, what, &keep);
        check_image_batch(env, images, p.B, enc.img_size(), "trainStep");
        Napi::Float32Array tgt = arg_f32(info, 3, what);
        check_targets(env, "trainStep", tgt, p.B, 4 * E);
        Napi::Object opts = arg_object(info, 4, "trainStep options");
        float lr = -1.f;
        if (opts.Has("lr") && !opts.Get("lr").IsUndefined()) {
            SA_THROW_TYPEERROR_IF(!opts.Get("lr").IsNumber(), env, "trainStep: lr must be a number");
            lr = opts.Get("lr").As<Napi::Number>().FloatValue();
            SA_THROW_RANGEERROR_IF(!(lr >= 0) || !std::isfinite(lr), env, "trainStep: lr must be a finite number >= 0");
        }
        keep.push_back(Napi::Persistent(images.As<Napi::Value>()));
        keep.push_back(Napi::Persistent(tgt.As<Napi::Value>()));
        keep.push_back(Napi::Persistent(info[0]));  // the trainer, which keeps its decoder
        const float * i_ptr = images.Data();
        const float * t_ptr = tgt.Data();
        auto dmu = t->trainer.mu;
        // the encoder's lock first (start() takes it), then the decoder's (decoder-only work takes the
        // latter alone)
        return start_loss(env, std::move(keep), [=](sa::TrainableEncoder & e) {
            std::lock_guard<std::mutex> lk2(*dmu);
            (void) dec;
            return sa::encoder_decoder_step(e, *tr, i_ptr, p, t_ptr, lr);
        });
    }

    sa::LoraConfig lora_;
};

void init_trainable_encoder(Napi::Env env, Napi::Object exports) {
    TrainableEncoderWrap::init(env, exports);
}

}  // namespace saaddon
