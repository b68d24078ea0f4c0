// SPDX-License-Identifier: Apache-2.0
#include "ImageEncoderWrap.h"

#include "backends.h"
#include "napi-util.h"

namespace saaddon {

void ImageEncoderWrap::init(Napi::Env env, Napi::Object exports) {
    Napi::Function ctor = DefineClass(env, "ImageEncoder",
                                      {
                                          InstanceMethod<&ImageEncoderWrap::encode>("encode"),
                                          InstanceMethod<&ImageEncoderWrap::dispose>("dispose"),
                                          InstanceAccessor<&ImageEncoderWrap::get_info>("info"),
                                          InstanceAccessor<&ImageEncoderWrap::native_bytes>("nativeBytes"),
                                      });
    exports.Set("ImageEncoder", ctor);
}

ImageEncoderWrap::ImageEncoderWrap(const Napi::CallbackInfo & info) : Napi::ObjectWrap<ImageEncoderWrap>(info) {
    Napi::Env env = info.Env();
    SA_THROW_TYPEERROR_IF(info.Length() < 1 || !info[0].IsObject(), env,
                          "new ImageEncoder(weights, options): weights must be an object of {shape, data}");
    Napi::Object opts = arg_object(info, 1, "new ImageEncoder options");
    const std::string arch = get_string(opts, "arch", "vit");
    const std::string prefix = get_string(opts, "prefix", "image_encoder.");
    const std::string backend = get_string(opts, "backend", "cpu");
    precision_ = get_string(opts, "precision", "fp32");
    SA_THROW_TYPEERROR_IF(arch != "vit" && arch != "tinyvit", env,
                          "arch must be 'vit' or 'tinyvit', got '" + arch + "'");
    sa::WeightMap weights = weight_map_from_js(env, info[0].As<Napi::Object>());
    backend_ = backend_for(env, backend, precision_);
    SA_NAPI_TRY(env, {
        if (arch == "vit") {
            encoder_ = sa::make_vit_encoder(*backend_, weights, prefix);
        } else {
            encoder_ = sa::make_tinyvit_encoder(*backend_, weights, prefix);
        }
    })
    mem_.set(env, weight_bytes(weights));
}

Napi::Value ImageEncoderWrap::dispose(const Napi::CallbackInfo & info) {
    // Work in flight holds its own reference and finishes; the model is freed with the last one.
    encoder_.reset();
    mem_.release(info.Env());
    return info.Env().Undefined();
}

Napi::Value ImageEncoderWrap::encode(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    live(env);
    Napi::Float32Array images = arg_f32(info, 0, "encode(images)");
    SA_THROW_TYPEERROR_IF(info.Length() < 2 || !info[1].IsNumber(), env,
                          "encode(images, batch): batch must be a number");
    const int64_t B = info[1].As<Napi::Number>().Int64Value();
    Napi::Object opts = arg_object(info, 2, "encode options");
    const bool want_taps = get_bool(opts, "taps", false);
    check_image_batch(env, images, B, encoder_->img_size(), "encode");
    const int64_t E = encoder_->embed_size();
    auto taps = std::make_shared<sa::Taps>();
    auto enc = encoder_;
    auto be = backend_;
    return encode_on_pool(
        env, Value(), images, (size_t) (B * enc->embed_dim() * E * E), mu_,
        [=](const float * src, float * out) {
            (void) be;
            enc->encode(src, B, out, want_taps ? taps.get() : nullptr);
        },
        [=](Napi::Env e, Napi::Object r) {
            if (!want_taps) return;
            Napi::Object t = Napi::Object::New(e);
            for (auto & kv : *taps) t.Set(kv.first, f32_from_vector(e, std::move(kv.second)));
            r.Set("taps", t);
        });
}

Napi::Value ImageEncoderWrap::get_info(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    live(env);
    Napi::Object o = Napi::Object::New(env);
    set_encoder_geometry(env, o, *encoder_);
    o.Set("flopsPerImage", Napi::Number::New(env, encoder_->flops_per_image()));
    o.Set("backend", Napi::String::New(env, backend_->name()));
    o.Set("precision", Napi::String::New(env, precision_));
    return o;
}

}  // namespace saaddon
