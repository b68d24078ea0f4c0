// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <napi.h>

#include <memory>
#include <mutex>

#include "napi-util.h"
#include "sa/head-trainer.h"

namespace saaddon {

// JS: new HeadTrainer({depth, hidden?, inChannels?, embedSize, backend?}, {loss, optimizer, lr, beta1,
//                     beta2, eps, weightDecay, gradClipNorm})
//     head.info -> {depth, hidden, inChannels, embedSize, backend}
//     head.predict(embeddings [B,C,E,E]) -> Promise<Float32Array> low-res logits [B,1,4E,4E]
//     head.step(embeddings, targets [B,1,4E,4E], {lr?}) -> Promise<number> (loss)
//     head.lossAndGrad(embeddings, targets) -> Promise<number>
//     head.paramNames(), paramShape(name), getParam(name), setParam(name, data), getGrad(name),
//     trainedParams(), getState(name) -> {m, v}, setState(name, m, v), stepCount (get/set)
//     head.dispose() frees it now (work in flight finishes first; later calls throw ERR_SA_STATE);
//     head.nativeBytes: the memory reported to V8.
class HeadTrainerWrap : public Napi::ObjectWrap<HeadTrainerWrap> {
  public:
    static void init(Napi::Env env, Napi::Object exports);
    explicit HeadTrainerWrap(const Napi::CallbackInfo & info);
    void Finalize(Napi::BasicEnv env) override { mem_.release(env); }

  private:
    sa::HeadTrainer & live(Napi::Env env) const {
        if (!head_) throw_disposed(env, "HeadTrainer");
        return *head_;
    }
    Napi::Value dispose(const Napi::CallbackInfo & info);
    Napi::Value native_bytes(const Napi::CallbackInfo & info) {
        return Napi::Number::New(info.Env(), (double) mem_.bytes());
    }
    Napi::Value get_info(const Napi::CallbackInfo & info);
    Napi::Value predict(const Napi::CallbackInfo & info);
    Napi::Value run(const Napi::CallbackInfo & info, bool update);
    Napi::Value step(const Napi::CallbackInfo & info) { return run(info, true); }
    Napi::Value loss_and_grad(const Napi::CallbackInfo & info) { return run(info, false); }
    Napi::Value param_names(const Napi::CallbackInfo & info);
    Napi::Value param_shape(const Napi::CallbackInfo & info);
    Napi::Value get_param(const Napi::CallbackInfo & info);
    Napi::Value set_param(const Napi::CallbackInfo & info);
    Napi::Value get_grad(const Napi::CallbackInfo & info);
    Napi::Value get_state(const Napi::CallbackInfo & info);
    Napi::Value set_state(const Napi::CallbackInfo & info);
    Napi::Value get_step_count(const Napi::CallbackInfo & info);
    void set_step_count(const Napi::CallbackInfo & info, const Napi::Value & v);
    // embeddings [B, C, E, E]: returns B (RangeError otherwise)
    int64_t batch_of(Napi::Env env, const Napi::Float32Array & emb, const char * what) const;

    std::shared_ptr<sa::Backend> backend_;
    std::shared_ptr<sa::HeadTrainer> head_;
    std::shared_ptr<std::mutex> mu_ = std::make_shared<std::mutex>();
    ExternalMemory mem_;
};

}  // namespace saaddon
