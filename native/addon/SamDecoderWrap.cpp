// SPDX-License-Identifier: Apache-2.0
#include "SamDecoderWrap.h"

#include "backends.h"
#include "napi-util.h"
#include "prompts-bridge.h"

namespace saaddon {

Napi::FunctionReference * SamDecoderWrap::constructor = nullptr;

void SamDecoderWrap::init(Napi::Env env, Napi::Object exports) {
    Napi::Function ctor = DefineClass(env, "SamDecoder",
                                      {
                                          InstanceMethod<&SamDecoderWrap::dense_pe>("densePe"),
                                          InstanceMethod<&SamDecoderWrap::encode_prompts>("encodePrompts"),
                                          InstanceMethod<&SamDecoderWrap::predict_all>("predictAll"),
                                          InstanceMethod<&SamDecoderWrap::param_names>("paramNames"),
                                          InstanceMethod<&SamDecoderWrap::param_shape>("paramShape"),
                                          InstanceMethod<&SamDecoderWrap::get_param>("getParam"),
                                          InstanceMethod<&SamDecoderWrap::set_param>("setParam"),
                                          InstanceMethod<&SamDecoderWrap::dispose>("dispose"),
                                          InstanceAccessor<&SamDecoderWrap::get_info>("info"),
                                          InstanceAccessor<&SamDecoderWrap::native_bytes>("nativeBytes"),
                                      });
    constructor = new Napi::FunctionReference(Napi::Persistent(ctor));
    env.SetInstanceData<Napi::FunctionReference>(constructor);
    exports.Set("SamDecoder", ctor);
}

SamDecoderWrap::SamDecoderWrap(const Napi::CallbackInfo & info) : Napi::ObjectWrap<SamDecoderWrap>(info) {
    Napi::Env env = info.Env();
    SA_THROW_TYPEERROR_IF(info.Length() < 1 || !info[0].IsObject(), env,
                          "new SamDecoder(weights, options): weights must be an object of {shape, data}");
    Napi::Object opts = arg_object(info, 1, "new SamDecoder options");
    const int64_t img_size = get_int(opts, "imgSize", 1024, "SamDecoder options");
    const int64_t embed_size = get_int(opts, "embedSize", img_size / 16, "SamDecoder options");
    SA_THROW_RANGEERROR_IF(img_size < 16 || img_size > 8192, env, "SamDecoder: imgSize must be in [16, 8192]");
    SA_THROW_RANGEERROR_IF(embed_size < 1 || embed_size > 512, env, "SamDecoder: embedSize must be in [1, 512]");
    sa::WeightMap weights = weight_map_from_js(env, info[0].As<Napi::Object>());
    backend_ = backend_for(env, get_string(opts, "backend", "cpu"));
    SA_NAPI_TRY(env, { decoder_ = std::make_shared<sa::SamDecoder>(*backend_, weights, img_size, embed_size); })
    mem_.set(env, weight_bytes(weights));
}

Napi::Value SamDecoderWrap::dispose(const Napi::CallbackInfo & info) {
    decoder_.reset();
    mem_.release(info.Env());
    return info.Env().Undefined();
}

Napi::Value SamDecoderWrap::get_info(const Napi::CallbackInfo & info) {
    live(info.Env());
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("imgSize", Napi::Number::New(env, (double) decoder_->img_size()));
    o.Set("embedSize", Napi::Number::New(env, (double) decoder_->embed_size()));
    o.Set("backend", Napi::String::New(env, backend_->name()));
    return o;
}

Napi::Value SamDecoderWrap::dense_pe(const Napi::CallbackInfo & info) {
    live(info.Env());
    Napi::Env env = info.Env();
    const int64_t E = decoder_->embed_size();
    std::vector<float> out((size_t) (decoder_->embed_dim() * E * E));
    SA_NAPI_TRY(env, {
        std::lock_guard<std::mutex> lk(*mu_);
        decoder_->dense_pe(out.data());
    })
    return f32_from_vector(env, std::move(out));
}

Napi::Value SamDecoderWrap::encode_prompts(const Napi::CallbackInfo & info) {
    live(info.Env());
    Napi::Env env = info.Env();
    SA_THROW_TYPEERROR_IF(info.Length() < 1, env, "encodePrompts(prompts): prompts required");
    const int64_t E = decoder_->embed_size();
    sa::Prompts p = prompts_from_js(env, info[0], E, "encodePrompts(prompts)", nullptr);
    std::vector<float> sparse;
    std::vector<float> dense((size_t) (p.B * decoder_->embed_dim() * E * E));
    int64_t ns = 0;
    SA_NAPI_TRY(env, {
        std::lock_guard<std::mutex> lk(*mu_);
        sparse.resize((size_t) (p.B * decoder_->num_sparse(p) * decoder_->embed_dim()));
        ns = decoder_->encode_prompts(p, sparse.data(), dense.data());
    })
    sparse.resize((size_t) (p.B * ns * decoder_->embed_dim()));
    Napi::Object r = Napi::Object::New(env);
    r.Set("sparse", f32_from_vector(env, std::move(sparse)));
    r.Set("nSparse", Napi::Number::New(env, (double) ns));
    r.Set("dense", f32_from_vector(env, std::move(dense)));
    return r;
}

Napi::Value SamDecoderWrap::predict_all(const Napi::CallbackInfo & info) {
    live(info.Env());
    Napi::Env env = info.Env();
    Napi::Float32Array emb = arg_f32(info, 0, "predictAll(embedding)");
    SA_THROW_TYPEERROR_IF(info.Length() < 2, env, "predictAll(embedding, prompts): prompts required");
    const int64_t E = decoder_->embed_size();
    std::vector<Napi::Reference<Napi::Value>> keep;
    sa::Prompts p = prompts_from_js(env, info[1], E, "predictAll(prompts)", &keep);
    Napi::Object opts = arg_object(info, 2, "predictAll options");
    const bool per_prompt = get_bool(opts, "perPromptEmbeddings", false);
    const int64_t C = decoder_->embed_dim();
    const int64_t per = C * E * E;
    const int64_t want = per_prompt ? p.B * per : per;
    SA_THROW_RANGEERROR_IF((int64_t) emb.ElementLength() != want, env,
                           "predictAll: embedding must hold " + std::to_string(want) + " floats (" +
                               (per_prompt ? "batch x " : "") + std::to_string(C) + " x " + std::to_string(E) + " x " +
                               std::to_string(E) + "), got " + std::to_string(emb.ElementLength()));
    keep.push_back(Napi::Persistent(emb.As<Napi::Value>()));
    const float * emb_ptr = emb.Data();
    auto dec = decoder_;
    auto be = backend_;
    auto mu = mu_;
    const int64_t m = 4 * E;
    auto low = std::make_shared<std::vector<float>>((size_t) (p.B * 4 * m * m));
    auto iou = std::make_shared<std::vector<float>>((size_t) (p.B * 4));
    return PromiseWorker::start(
        env,
        [=]() {
            std::lock_guard<std::mutex> lk(*mu);
            (void) be;
            dec->predict_all(emb_ptr, per_prompt, p, low->data(), iou->data());
        },
        [=](Napi::Env e) -> Napi::Value {
            Napi::Object r = Napi::Object::New(e);
            r.Set("lowRes", f32_from_vector(e, std::move(*low)));
            r.Set("iou", f32_from_vector(e, std::move(*iou)));
            return r;
        },
        std::move(keep));
}

Napi::Value SamDecoderWrap::param_names(const Napi::CallbackInfo & info) {
    live(info.Env());
    Napi::Env env = info.Env();
    auto names = decoder_->param_names();
    Napi::Array a = Napi::Array::New(env, names.size());
    for (size_t i = 0; i < names.size(); ++i) a.Set((uint32_t) i, Napi::String::New(env, names[i]));
    return a;
}

static std::string arg_name(const Napi::CallbackInfo & info, const char * what) {
    SA_THROW_TYPEERROR_IF(info.Length() < 1 || !info[0].IsString(), info.Env(),
                          std::string(what) + ": name must be a string");
    return info[0].As<Napi::String>().Utf8Value();
}

Napi::Value SamDecoderWrap::param_shape(const Napi::CallbackInfo & info) {
    live(info.Env());
    Napi::Env env = info.Env();
    std::string name = arg_name(info, "paramShape(name)");
    std::vector<int64_t> shape;
    SA_NAPI_TRY(env, { shape = decoder_->param_shape(name); })
    Napi::Array a = Napi::Array::New(env, shape.size());
    for (size_t i = 0; i < shape.size(); ++i) a.Set((uint32_t) i, Napi::Number::New(env, (double) shape[i]));
    return a;
}

Napi::Value SamDecoderWrap::get_param(const Napi::CallbackInfo & info) {
    live(info.Env());
    Napi::Env env = info.Env();
    std::string name = arg_name(info, "getParam(name)");
    std::vector<float> out;
    SA_NAPI_TRY(env, {
        std::lock_guard<std::mutex> lk(*mu_);
        auto shape = decoder_->param_shape(name);
        int64_t n = 1;
        for (auto d : shape) n *= d;
        out.resize((size_t) n);
        decoder_->get_param(name, out.data());
    })
    return f32_from_vector(env, std::move(out));
}

Napi::Value SamDecoderWrap::set_param(const Napi::CallbackInfo & info) {
    live(info.Env());
    Napi::Env env = info.Env();
    std::string name = arg_name(info, "setParam(name, data)");
    Napi::Float32Array data = arg_f32(info, 1, "setParam(name, data)");
    SA_NAPI_TRY(env, {
        std::lock_guard<std::mutex> lk(*mu_);
        auto shape = decoder_->param_shape(name);
        int64_t n = 1;
        for (auto d : shape) n *= d;
        SA_CHECK_ARG((int64_t) data.ElementLength() == n, "setParam('" + name + "'): expected " + std::to_string(n) +
                                                              " values, got " + std::to_string(data.ElementLength()));
        decoder_->set_param(name, data.Data());
    })
    return env.Undefined();
}

}  // namespace saaddon
