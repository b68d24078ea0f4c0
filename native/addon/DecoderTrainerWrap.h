// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <napi.h>

#include <memory>
#include <mutex>

#include "napi-util.h"
#include "sa/decoder-trainer.h"

namespace saaddon {

// JS: new DecoderTrainer(decoder: SamDecoder, {loss, optimizer, lr, beta1, beta2, eps, weightDecay,
//                        gradClipNorm, multimask, trainPromptEncoder, embeddingGrad})
//     trainer.step(embeddings [B,256,E,E], prompts, targets [B,1,4E,4E], {lr?}) -> Promise<number> (loss)
//     trainer.lossAndGrad(embeddings, prompts, targets) -> Promise<number>
//     trainer.getGrad(name) -> Float32Array; trainer.stepCount (get/set)
//     trainer.getState(name) -> {m, v}; trainer.setState(name, m, v)
//     trainer.dispose() frees the optimiser state and workspace now (and lets go of the decoder); later
//     calls throw ERR_SA_STATE. trainer.nativeBytes: the memory reported to V8.
class DecoderTrainerWrap : public Napi::ObjectWrap<DecoderTrainerWrap> {
  public:
    static void init(Napi::Env env, Napi::Object exports);
    static Napi::FunctionReference * constructor;
    explicit DecoderTrainerWrap(const Napi::CallbackInfo & info);
    void Finalize(Napi::BasicEnv env) override { mem_.release(env); }

    // For training with the image encoder in the loop (TrainableEncoderWrap): the trainer (null once
    // disposed), its backend and its decoder's mutex.
    std::shared_ptr<sa::DecoderTrainer> trainer() const { return trainer_; }
    std::shared_ptr<sa::SamDecoder> decoder() const { return decoder_; }
    std::shared_ptr<sa::Backend> backend() const { return backend_; }
    std::shared_ptr<std::mutex> mutex() const { return mu_; }

  private:
    Napi::Value dispose(const Napi::CallbackInfo & info);
    Napi::Value native_bytes(const Napi::CallbackInfo & info) {
        return Napi::Number::New(info.Env(), (double) mem_.bytes());
    }
    sa::DecoderTrainer & live(Napi::Env env) const {
        if (!trainer_) throw_disposed(env, "DecoderTrainer");
        return *trainer_;
    }
    Napi::Value run(const Napi::CallbackInfo & info, bool update);
    Napi::Value step(const Napi::CallbackInfo & info) { return run(info, true); }
    Napi::Value loss_and_grad(const Napi::CallbackInfo & info) { return run(info, false); }
    Napi::Value get_grad(const Napi::CallbackInfo & info);
    Napi::Value trained_params(const Napi::CallbackInfo & info);
    Napi::Value get_state(const Napi::CallbackInfo & info);
    Napi::Value set_state(const Napi::CallbackInfo & info);
    Napi::Value get_step_count(const Napi::CallbackInfo & info);
    void set_step_count(const Napi::CallbackInfo & info, const Napi::Value & v);

    Napi::ObjectReference decoder_ref_;  // keeps the JS decoder alive
    std::shared_ptr<sa::Backend> backend_;
    std::shared_ptr<sa::SamDecoder> decoder_;
    std::shared_ptr<std::mutex> mu_;  // the decoder's mutex: training and inference never overlap
    std::shared_ptr<sa::DecoderTrainer> trainer_;
    ExternalMemory mem_;
};

}  // namespace saaddon
