// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <napi.h>

#include <memory>
#include <mutex>

#include "sa/image-encoder.h"

namespace saaddon {

// JS: new ImageEncoder(weights, {arch: "vit" | "tinyvit", prefix?, backend?: "cpu" | "cuda"})
//     encoder.encode(images: Float32Array [B,3,S,S], batch, {taps?}) -> Promise<{embedding, taps?}>
//     encoder.info -> {arch, imgSize, embedDim, embedSize, description, flopsPerImage, backend}
class ImageEncoderWrap : public Napi::ObjectWrap<ImageEncoderWrap> {
  public:
    static void init(Napi::Env env, Napi::Object exports);
    explicit ImageEncoderWrap(const Napi::CallbackInfo & info);

  private:
    Napi::Value encode(const Napi::CallbackInfo & info);
    Napi::Value get_info(const Napi::CallbackInfo & info);

    std::shared_ptr<sa::Backend> backend_;
    std::string precision_ = "fp32";  // encoder products: fp32, bf16 (CPU and CUDA) or tf32 (CUDA)
    std::shared_ptr<sa::ImageEncoder> encoder_;
    std::shared_ptr<std::mutex> mu_ = std::make_shared<std::mutex>();
};

}  // namespace saaddon
