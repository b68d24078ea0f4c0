// SPDX-License-Identifier: Apache-2.0
#include "napi-util.h"

#include <cmath>

namespace saaddon {

void throw_coded(Napi::Env env, const std::string & code, const std::string & msg) {
    Napi::Error e = Napi::Error::New(env, msg);
    e.Set("code", Napi::String::New(env, code));
    throw e;
}

void throw_status(Napi::Env env, sa_status s, const std::string & msg) {
    throw_coded(env, sa_status_code_name(s), msg);
}

void rethrow_as_js(Napi::Env env, const std::exception & e) {
    if (auto * se = dynamic_cast<const sa::Error *>(&e)) throw_status(env, se->status(), se->what());
    if (dynamic_cast<const std::bad_alloc *>(&e)) throw_coded(env, "ERR_SA_OOM", "out of memory");
    throw_coded(env, "ERR_SA_INTERNAL", e.what());
}

Napi::Float32Array arg_f32(const Napi::CallbackInfo & info, size_t i, const char * what) {
    Napi::Env env = info.Env();
    bool ok = info.Length() > i && info[i].IsTypedArray() &&
              info[i].As<Napi::TypedArray>().TypedArrayType() == napi_float32_array;
    SA_THROW_TYPEERROR_IF(!ok, env, std::string(what) + ": expected a Float32Array");
    return info[i].As<Napi::Float32Array>();
}

Napi::Object arg_object(const Napi::CallbackInfo & info, size_t i, const char * what) {
    Napi::Env env = info.Env();
    if (info.Length() <= i || info[i].IsUndefined()) return Napi::Object::New(env);
    SA_THROW_TYPEERROR_IF(!info[i].IsObject(), env, std::string(what) + ": expected an object");
    return info[i].As<Napi::Object>();
}

int64_t get_int(Napi::Object o, const char * key, int64_t dflt, const char * what) {
    Napi::Env env = o.Env();
    if (!o.Has(key) || o.Get(key).IsUndefined()) return dflt;
    Napi::Value v = o.Get(key);
    SA_THROW_TYPEERROR_IF(!v.IsNumber(), env, std::string(what) + "." + key + ": expected a number");
    const double d = v.As<Napi::Number>().DoubleValue();
    // NaN, infinities and values past 2^63 have no int64 (converting them would be undefined)
    SA_THROW_RANGEERROR_IF(!(std::fabs(d) < 9.2e18) || d != std::trunc(d), env,
                           std::string(what) + "." + key + ": expected an integer");
    return (int64_t) d;
}

bool get_bool(Napi::Object o, const char * key, bool dflt) {
    if (!o.Has(key) || o.Get(key).IsUndefined()) return dflt;
    return o.Get(key).ToBoolean().Value();
}

std::string get_string(Napi::Object o, const char * key, const std::string & dflt) {
    if (!o.Has(key) || o.Get(key).IsUndefined()) return dflt;
    Napi::Value v = o.Get(key);
    SA_THROW_TYPEERROR_IF(!v.IsString(), o.Env(), std::string(key) + ": expected a string");
    return v.As<Napi::String>().Utf8Value();
}

const float * get_f32_opt(Napi::Object o, const char * key, int64_t expected, const char * what,
                          std::vector<Napi::Reference<Napi::Value>> * keep) {
    Napi::Env env = o.Env();
    if (!o.Has(key)) return nullptr;
    Napi::Value v = o.Get(key);
    if (v.IsUndefined() || v.IsNull()) return nullptr;
    bool ok = v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_float32_array;
    SA_THROW_TYPEERROR_IF(!ok, env, std::string(what) + "." + key + ": expected a Float32Array");
    Napi::Float32Array a = v.As<Napi::Float32Array>();
    SA_THROW_RANGEERROR_IF(expected >= 0 && (int64_t) a.ElementLength() != expected, env,
                           std::string(what) + "." + key + ": expected " + std::to_string(expected) +
                               " elements, got " + std::to_string(a.ElementLength()));
    if (keep) keep->push_back(Napi::Persistent(v));
    return a.Data();
}

int64_t weight_bytes(const sa::WeightMap & weights) {
    int64_t n = 0;
    for (const auto & kv : weights.all()) n += kv.second.numel();
    return n * (int64_t) sizeof(float);
}

void throw_disposed(Napi::Env env, const char * what) {
    throw_coded(env, "ERR_SA_STATE", std::string(what) + ": used after dispose()");
}

sa::WeightMap weight_map_from_js(Napi::Env env, Napi::Object weights) {
    sa::WeightMap map;
    Napi::Array names = weights.GetPropertyNames();
    for (uint32_t i = 0; i < names.Length(); ++i) {
        std::string name = names.Get(i).As<Napi::String>().Utf8Value();
        Napi::Value v = weights.Get(name);
        SA_THROW_TYPEERROR_IF(!v.IsObject(), env, "weights['" + name + "']: expected {shape, data}");
        Napi::Object t = v.As<Napi::Object>();
        Napi::Value shape_v = t.Get("shape");
        Napi::Value data_v = t.Get("data");
        SA_THROW_TYPEERROR_IF(!shape_v.IsArray(), env, "weights['" + name + "'].shape: expected an array");
        bool data_ok = data_v.IsTypedArray() && data_v.As<Napi::TypedArray>().TypedArrayType() == napi_float32_array;
        SA_THROW_TYPEERROR_IF(!data_ok, env, "weights['" + name + "'].data: expected a Float32Array");
        Napi::Array shape_a = shape_v.As<Napi::Array>();
        sa::WeightView view;
        int64_t n = 1;
        for (uint32_t d = 0; d < shape_a.Length(); ++d) {
            Napi::Value dv = shape_a.Get(d);
            SA_THROW_TYPEERROR_IF(!dv.IsNumber(), env, "weights['" + name + "'].shape: expected numbers");
            int64_t dim = dv.As<Napi::Number>().Int64Value();
            SA_THROW_RANGEERROR_IF(dim < 0, env, "weights['" + name + "'].shape: negative dimension");
            view.shape.push_back(dim);
            n *= dim;
        }
        Napi::Float32Array data = data_v.As<Napi::Float32Array>();
        SA_THROW_RANGEERROR_IF((int64_t) data.ElementLength() != n, env,
                               "weights['" + name + "']: shape " + sa::shape_str(view.shape) + " needs " +
                                   std::to_string(n) + " values, data has " + std::to_string(data.ElementLength()));
        view.data = data.Data();
        map.add(name, view);
    }
    return map;
}

Napi::Float32Array f32_from_vector(Napi::Env env, std::vector<float> && v) {
    auto * owned = new std::vector<float>(std::move(v));
    const size_t n = owned->size();
    Napi::ArrayBuffer buf;
    if (n == 0) {
        delete owned;
        buf = Napi::ArrayBuffer::New(env, 0);
    } else {
        buf = Napi::ArrayBuffer::New(
            env, owned->data(), n * sizeof(float), [](Napi::Env, void *, std::vector<float> * p) { delete p; }, owned);
    }
    return Napi::Float32Array::New(env, n, buf, 0);
}

PromiseWorker::PromiseWorker(Napi::Env env, std::function<void()> exec, std::function<Napi::Value(Napi::Env)> ok,
                             std::vector<Napi::Reference<Napi::Value>> keep)
    : Napi::AsyncWorker(env, "sam-ablate"),
      exec_(std::move(exec)),
      ok_(std::move(ok)),
      keep_(std::move(keep)),
      deferred_(Napi::Promise::Deferred::New(env)) {}

Napi::Promise PromiseWorker::start(Napi::Env env, std::function<void()> exec, std::function<Napi::Value(Napi::Env)> ok,
                                   std::vector<Napi::Reference<Napi::Value>> keep) {
    auto * w = new PromiseWorker(env, std::move(exec), std::move(ok), std::move(keep));
    Napi::Promise p = w->promise();
    w->Queue();
    return p;
}

void PromiseWorker::Execute() {
    try {
        exec_();
    } catch (const sa::Error & e) {
        code_ = sa_status_code_name(e.status());
        SetError(e.what());
    } catch (const std::bad_alloc &) {
        code_ = "ERR_SA_OOM";
        SetError("out of memory");
    } catch (const std::exception & e) {
        SetError(e.what());
    } catch (...) {
        SetError("unknown native error");
    }
}

void PromiseWorker::OnOK() {
    Napi::Env env = Env();
    try {
        deferred_.Resolve(ok_(env));
    } catch (const Napi::Error & e) {
        deferred_.Reject(e.Value());
    } catch (const std::exception & e) {
        Napi::Error err = Napi::Error::New(env, e.what());
        err.Set("code", Napi::String::New(env, "ERR_SA_INTERNAL"));
        deferred_.Reject(err.Value());
    }
}

void PromiseWorker::OnError(const Napi::Error & e) {
    Napi::Env env = Env();
    Napi::Error err = Napi::Error::New(env, e.Message());
    err.Set("code", Napi::String::New(env, code_));
    deferred_.Reject(err.Value());
}

}  // namespace saaddon

namespace saaddon {

void check_image_batch(Napi::Env env, const Napi::Float32Array & images, int64_t B, int64_t S, const char * what) {
    SA_THROW_RANGEERROR_IF(B < 1 || B > 4096, env, std::string(what) + ": batch must be in [1, 4096]");
    SA_THROW_RANGEERROR_IF((int64_t) images.ElementLength() != B * 3 * S * S, env,
                           std::string(what) + ": images must hold batch x 3 x " + std::to_string(S) + " x " +
                               std::to_string(S) + " = " + std::to_string(B * 3 * S * S) + " floats, got " +
                               std::to_string(images.ElementLength()));
}

Napi::Object arg_weights(const Napi::CallbackInfo & info, const std::string & who) {
    SA_THROW_TYPEERROR_IF(info.Length() < 1 || !info[0].IsObject(), info.Env(),
                          "new " + who + "(weights, options): weights must be an object of {shape, data}");
    return info[0].As<Napi::Object>();
}

EncoderArgs encoder_args(const Napi::CallbackInfo & info, const std::string & who) {
    Napi::Env env = info.Env();
    Napi::Object w = arg_weights(info, who);
    EncoderArgs a;
    a.opts = arg_object(info, 1, ("new " + who + " options").c_str());
    a.arch = get_string(a.opts, "arch", "vit");
    a.prefix = get_string(a.opts, "prefix", "image_encoder.");
    a.backend = get_string(a.opts, "backend", "cpu");
    SA_THROW_TYPEERROR_IF(a.arch != "vit" && a.arch != "tinyvit", env,
                          "arch must be 'vit' or 'tinyvit', got '" + a.arch + "'");
    a.weights = weight_map_from_js(env, w);
    return a;
}

int64_t numel_of(const std::vector<int64_t> & shape) {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
}

std::string name_arg(const Napi::CallbackInfo & info, const char * what) {
    SA_THROW_TYPEERROR_IF(info.Length() < 1 || !info[0].IsString(), info.Env(),
                          std::string(what) + ": name must be a string");
    return info[0].As<Napi::String>().Utf8Value();
}

Napi::Array js_strings(Napi::Env env, const std::vector<std::string> & v) {
    Napi::Array a = Napi::Array::New(env, v.size());
    for (size_t i = 0; i < v.size(); ++i) a.Set((uint32_t) i, Napi::String::New(env, v[i]));
    return a;
}

}  // namespace saaddon
