// SPDX-License-Identifier: Apache-2.0
// ImageEncoder (see wraps.h): a ViT or TinyViT image encoder, fp32 or a reduced-precision product.
#include "backends.h"
#include "sa/image-encoder.h"
#include "wraps.h"

namespace saaddon {

class ImageEncoderWrap : public NativeObjectWrap<ImageEncoderWrap, sa::ImageEncoder> {
  public:
    explicit ImageEncoderWrap(const Napi::CallbackInfo & info) : NativeObjectWrap(info) {
        Napi::Env env = info.Env();
        EncoderArgs a = encoder_args(info, "ImageEncoder");
        precision_ = get_string(a.opts, "precision", "fp32");
        backend_ = backend_for(env, a.backend, precision_);
        std::shared_ptr<sa::ImageEncoder> enc;
        SA_NAPI_TRY(env, {
            enc = a.arch == "vit" ? sa::make_vit_encoder(*backend_, a.weights, a.prefix)
                                  : sa::make_tinyvit_encoder(*backend_, a.weights, a.prefix);
        })
        hold(env, std::move(enc), weight_bytes(a.weights));
    }

    static void init(Napi::Env env, Napi::Object exports) {
        define(env, exports, "ImageEncoder",
               {InstanceMethod<&ImageEncoderWrap::encode>("encode"),
                InstanceAccessor<&ImageEncoderWrap::get_info>("info")});
    }

  private:
    Napi::Value encode(const Napi::CallbackInfo & info) {
        const bool want_taps = get_bool(arg_object(info, 2, "encode options"), "taps", false);
        auto taps = std::make_shared<sa::Taps>();
        return encode_images(
            info,
            [=](sa::ImageEncoder & e, const float * src, int64_t B, float * out) {
                e.encode(src, B, out, want_taps ? taps.get() : nullptr);
            },
            [=](Napi::Env e, Napi::Object r) {
                if (!want_taps) return;
                Napi::Object t = Napi::Object::New(e);
                for (auto & kv : *taps) t.Set(kv.first, f32_from_vector(e, std::move(kv.second)));
                r.Set("taps", t);
            });
    }

    Napi::Value get_info(const Napi::CallbackInfo & info) {
        Napi::Env env = info.Env();
        const sa::ImageEncoder & enc = live(env);
        Napi::Object o = encoder_geometry(env, enc);
        o.Set("flopsPerImage", Napi::Number::New(env, enc.flops_per_image()));
        o.Set("backend", Napi::String::New(env, backend_->name()));
        o.Set("precision", Napi::String::New(env, precision_));
        return o;
    }

    std::string precision_ = "fp32";  // encoder products: fp32, bf16 (CPU and CUDA) or tf32 (CUDA)
};

void init_image_encoder(Napi::Env env, Napi::Object exports) {
    ImageEncoderWrap::init(env, exports);
}

}  // namespace saaddon
