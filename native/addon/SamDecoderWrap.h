// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <napi.h>

#include <memory>
#include <mutex>

#include "napi-util.h"
#include "sa/sam-decoder.h"

namespace saaddon {

// JS: new SamDecoder(weights, {imgSize, embedSize, backend?})
//     decoder.densePe() -> Float32Array [256, E, E]
//     decoder.encodePrompts(prompts) -> {sparse [B, Ns, 256], nSparse, dense [B, 256, E, E]}
//     decoder.predictAll(embedding, prompts, {perPromptEmbeddings?}) -> Promise<{lowRes [B,4,4E,4E], iou [B,4]}>
//     decoder.paramNames() / paramShape(name) / getParam(name) / setParam(name, data)
//     decoder.dispose() frees the native decoder now (work in flight and a trainer still using it keep
//     it alive until they finish); later calls throw ERR_SA_STATE. decoder.nativeBytes: reported to V8.
class SamDecoderWrap : public Napi::ObjectWrap<SamDecoderWrap> {
  public:
    static void init(Napi::Env env, Napi::Object exports);
    static Napi::FunctionReference * constructor;
    explicit SamDecoderWrap(const Napi::CallbackInfo & info);
    void Finalize(Napi::BasicEnv env) override { mem_.release(env); }

    std::shared_ptr<sa::Backend> backend() const { return backend_; }
    std::shared_ptr<sa::SamDecoder> decoder() const { return decoder_; }
    std::shared_ptr<std::mutex> mutex() const { return mu_; }

  private:
    Napi::Value dispose(const Napi::CallbackInfo & info);
    Napi::Value native_bytes(const Napi::CallbackInfo & info) {
        return Napi::Number::New(info.Env(), (double) mem_.bytes());
    }
    sa::SamDecoder & live(Napi::Env env) const {
        if (!decoder_) throw_disposed(env, "SamDecoder");
        return *decoder_;
    }
    Napi::Value dense_pe(const Napi::CallbackInfo & info);
    Napi::Value encode_prompts(const Napi::CallbackInfo & info);
    Napi::Value predict_all(const Napi::CallbackInfo & info);
    Napi::Value param_names(const Napi::CallbackInfo & info);
    Napi::Value param_shape(const Napi::CallbackInfo & info);
    Napi::Value get_param(const Napi::CallbackInfo & info);
    Napi::Value set_param(const Napi::CallbackInfo & info);
    Napi::Value get_info(const Napi::CallbackInfo & info);

    std::shared_ptr<sa::Backend> backend_;
    std::shared_ptr<sa::SamDecoder> decoder_;
    std::shared_ptr<std::mutex> mu_ = std::make_shared<std::mutex>();
    ExternalMemory mem_;
};

}  // namespace saaddon
