// SPDX-License-Identifier: Apache-2.0
// HeadTrainer (see wraps.h): a small convolutional mask head trained on frozen image embeddings.
#include "backends.h"
#include "sa/head-trainer.h"
#include "train-config.h"
#include "wraps.h"

namespace saaddon {

class HeadTrainerWrap : public NativeObjectWrap<HeadTrainerWrap, sa::HeadTrainer> {
  public:
    explicit HeadTrainerWrap(const Napi::CallbackInfo & info) : NativeObjectWrap(info) {
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
        std::shared_ptr<sa::HeadTrainer> head;
        SA_NAPI_TRY(env, { head = std::make_shared<sa::HeadTrainer>(*backend_, hc, cfg); })
        // parameters, gradients and the two moments (the workspace of a batch comes with the first step)
        const int64_t n = head->num_params();
        hold(env, std::move(head), 4 * n * (int64_t) sizeof(float));
    }

    static void init(Napi::Env env, Napi::Object exports) {
        using T = sa::HeadTrainer;
        define(env, exports, "HeadTrainer",
               {InstanceMethod<&HeadTrainerWrap::predict>("predict"), InstanceMethod<&HeadTrainerWrap::step>("step"),
                InstanceMethod<&HeadTrainerWrap::loss_and_grad>("lossAndGrad"),
                InstanceMethod<&HeadTrainerWrap::param_names>("paramNames"),
                InstanceMethod<&HeadTrainerWrap::param_names>("trainedParams"), shape_member(),
                values<&T::get_param>("getParam"), values<&T::set_param>("setParam"), values<&T::get_grad>("getGrad"),
                values<&T::get_state>("getState"), values<&T::set_state>("setState"),
                counter<&T::step_count, &T::set_step_count>("stepCount"),
                InstanceAccessor<&HeadTrainerWrap::get_info>("info")});
    }

  private:
    Napi::Value get_info(const Napi::CallbackInfo & info) {
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

    Napi::Value param_names(const Napi::CallbackInfo & info) {
        return js_strings(info.Env(), live(info.Env()).param_names());
    }

    // embeddings [B, C, E, E]: returns B (RangeError otherwise)
    int64_t batch_of(Napi::Env env, const Napi::Float32Array & emb, const char * what) const {
        const sa::HeadConfig & hc = live(env).head_config();
        return check_embeddings(env, what, emb, 0, hc.in_channels, hc.embed_size);
    }

    Napi::Value predict(const Napi::CallbackInfo & info) {
        Napi::Env env = info.Env();
        live(env);
        Napi::Float32Array emb = arg_f32(info, 0, "predict(embeddings)");
        const int64_t B = batch_of(env, emb, "predict");
        const int64_t E = live(env).head_config().embed_size;
        Keep keep;
        keep.push_back(Napi::Persistent(emb.As<Napi::Value>()));
        const float * e_ptr = emb.Data();
        auto low = std::make_shared<std::vector<float>>((size_t) (B * 16 * E * E));
        return start(
            env, std::move(keep), [=](sa::HeadTrainer & head) { head.predict(e_ptr, B, low->data()); },
            [=](Napi::Env e) -> Napi::Value { return f32_from_vector(e, std::move(*low)); });
    }

    Napi::Value step(const Napi::CallbackInfo & info) { return run(info, true); }
    Napi::Value loss_and_grad(const Napi::CallbackInfo & info) { return run(info, false); }

    Napi::Value run(const Napi::CallbackInfo & info, bool update) {
        Napi::Env env = info.Env();
        live(env);
        const char * what = update ? "step" : "lossAndGrad";
        Napi::Float32Array emb = arg_f32(info, 0, what);
        Napi::Float32Array tgt = arg_f32(info, 1, what);
        const float lr_override = lr_override_from_js(arg_object(info, 2, "step options"));
        const int64_t B = batch_of(env, emb, what);
        check_targets(env, what, tgt, B, 4 * live(env).head_config().embed_size);
        Keep keep;
        keep.push_back(Napi::Persistent(emb.As<Napi::Value>()));
        keep.push_back(Napi::Persistent(tgt.As<Napi::Value>()));
        const float * e_ptr = emb.Data();
        const float * t_ptr = tgt.Data();
        return start_loss(env, std::move(keep), [=](sa::HeadTrainer & head) {
            return update ? head.step(e_ptr, B, t_ptr, lr_override) : head.loss_and_grad(e_ptr, B, t_ptr);
        });
    }
};

void init_head_trainer(Napi::Env env, Napi::Object exports) {
    HeadTrainerWrap::init(env, exports);
}

}  // namespace saaddon
