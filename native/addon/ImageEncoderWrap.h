// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <napi.h>

#include <memory>
#include <mutex>

#include "napi-util.h"
#include "sa/image-encoder.h"

namespace saaddon {

// JS: new ImageEncoder(weights, {arch: "vit" | "tinyvit", prefix?, backend?: "cpu" | "cuda"})
//     encoder.encode(images: Float32Array [B,3,S,S], batch, {taps?}) -> Promise<{embedding, taps?}>
//     encoder.info -> {arch, imgSize, embedDim, embedSize, description, flopsPerImage, backend}
//     encoder.dispose() frees the native model now (work in flight finishes first); later calls throw
//     ERR_SA_STATE. encoder.nativeBytes: the memory reported to V8.
class ImageEncoderWrap : public Napi::ObjectWrap<ImageEncoderWrap> {
  public:
    static void init(Napi::Env env, Napi::Object exports);
    explicit ImageEncoderWrap(const Napi::CallbackInfo & info);
    void Finalize(Napi::BasicEnv env) override { mem_.release(env); }

  private:
    Napi::Value dispose(const Napi::CallbackInfo & info);
    Napi::Value native_bytes(const Napi::CallbackInfo & info) {
        return Napi::Number::New(info.Env(), (double) mem_.bytes());
    }
    sa::ImageEncoder & live(Napi::Env env) const {
        if (!encoder_) throw_disposed(env, "ImageEncoder");
        return *encoder_;
    }
    Napi::Value encode(const Napi::CallbackInfo & info);
    Napi::Value get_info(const Napi::CallbackInfo & info);

    std::shared_ptr<sa::Backend> backend_;
    std::string precision_ = "fp32";  // encoder products: fp32, bf16 (CPU and CUDA) or tf32 (CUDA)
    std::shared_ptr<sa::ImageEncoder> encoder_;
    std::shared_ptr<std::mutex> mu_ = std::make_shared<std::mutex>();
    ExternalMemory mem_;
};

}  // namespace saaddon
