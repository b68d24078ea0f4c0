// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <napi.h>

#include <memory>
#include <mutex>
#include <string>

#include "napi-util.h"
#include "sa/trainable-encoder.h"

namespace saaddon {

// JS: new TrainableEncoder(weights, {arch: "vit" | "tinyvit", prefix?, backend?,
//                          lora: {rank, alpha?, targets?, seed?}})   (adapters only: no base gradients)
//     enc.info -> {arch, imgSize, embedDim, embedSize, description, backend, rank, alpha, targets, loraScale}
//     enc.encode(images [B,3,S,S], batch) -> Promise<{embedding}> with the adapted encoder
//     enc.trainStep(trainer: DecoderTrainer (embeddingGrad), images, prompts, targets, {lr?}) -> Promise<number>
//     enc.loraNames() / paramShape(name) / getParam(name) / setParam(name, data) / mergedWeight(name)
//     enc.getState(name) -> {m, v}; enc.setState(name, m, v); enc.stepCount (get/set): the adapters' Adam state
//     enc.dispose() frees the native encoder now (work in flight finishes first); later calls throw
//     ERR_SA_STATE. enc.nativeBytes: the memory reported to V8.
class TrainableEncoderWrap : public Napi::ObjectWrap<TrainableEncoderWrap> {
  public:
    static void init(Napi::Env env, Napi::Object exports);
    explicit TrainableEncoderWrap(const Napi::CallbackInfo & info);
    void Finalize(Napi::BasicEnv env) override { mem_.release(env); }

  private:
    Napi::Value dispose(const Napi::CallbackInfo & info);
    Napi::Value native_bytes(const Napi::CallbackInfo & info) {
        return Napi::Number::New(info.Env(), (double) mem_.bytes());
    }
    sa::TrainableEncoder & live(Napi::Env env) const {
        if (!encoder_) throw_disposed(env, "TrainableEncoder");
        return *encoder_;
    }
    Napi::Value get_info(const Napi::CallbackInfo & info);
    Napi::Value encode(const Napi::CallbackInfo & info);
    Napi::Value train_step(const Napi::CallbackInfo & info);
    Napi::Value lora_names(const Napi::CallbackInfo & info);
    Napi::Value param_shape(const Napi::CallbackInfo & info);
    Napi::Value get_param(const Napi::CallbackInfo & info);
    Napi::Value set_param(const Napi::CallbackInfo & info);
    Napi::Value merged_weight(const Napi::CallbackInfo & info);
    Napi::Value get_state(const Napi::CallbackInfo & info);
    Napi::Value set_state(const Napi::CallbackInfo & info);
    Napi::Value get_step_count(const Napi::CallbackInfo & info);
    void set_step_count(const Napi::CallbackInfo & info, const Napi::Value & v);
    // The element count of a named parameter (RangeError-free: the core checks the name).
    int64_t numel_of(Napi::Env env, const std::string & name) const;

    std::shared_ptr<sa::Backend> backend_;
    std::shared_ptr<sa::TrainableEncoder> encoder_;
    std::shared_ptr<std::mutex> mu_ = std::make_shared<std::mutex>();
    sa::LoraConfig lora_;
    ExternalMemory mem_;
};

}  // namespace saaddon
