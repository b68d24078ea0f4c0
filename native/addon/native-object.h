// SPDX-License-Identifier: Apache-2.0
// The skeleton every wrapped native object shares, so that a wrap keeps only what is its own: the
// core object and its backend held by shared pointers (work in flight keeps its own references), the
// mutex that orders work on the object, the native memory reported to V8 (AdjustExternalMemory),
// dispose() / nativeBytes, the refusal of calls after dispose() (ERR_SA_STATE), the class's
// constructor for instanceof checks, the Promise dispatch of long work to the libuv pool, and the JS
// members over named parameters (getParam, setParam, getGrad, getState, ...) that the core objects
// spell alike.
//
//   class FooWrap : public NativeObjectWrap<FooWrap, sa::Foo> {
//     public:
//       static void init(Napi::Env env, Napi::Object exports) {
//           define(env, exports, "Foo", {InstanceMethod<&FooWrap::bar>("bar"),
//           values<&sa::Foo::get_param>("getParam")});
//       }
//   };
#pragma once

#include <napi.h>

#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "napi-util.h"
#include "sa/backend.h"

namespace saaddon {

// What a wrap holds, for another wrap that takes it as an argument (a trainer takes a decoder).
template <class Native>
struct Held {
    std::shared_ptr<Native> native;  // null once disposed
    std::shared_ptr<sa::Backend> backend;
    std::shared_ptr<std::mutex> mu;
};

// The kind of a core method over a named parameter: how many float arrays it fills (const method)
// or reads (non-const).
template <class M>
struct ParamMethod;
template <class C>
struct ParamMethod<void (C::*)(const std::string &, float *) const> {
    static constexpr int arrays = 1;
    static constexpr bool writes = false;
};
template <class C>
struct ParamMethod<void (C::*)(const std::string &, float *, float *) const> {
    static constexpr int arrays = 2;
    static constexpr bool writes = false;
};
template <class C>
struct ParamMethod<void (C::*)(const std::string &, const float *)> {
    static constexpr int arrays = 1;
    static constexpr bool writes = true;
};
template <class C>
struct ParamMethod<void (C::*)(const std::string &, const float *, const float *)> {
    static constexpr int arrays = 2;
    static constexpr bool writes = true;
};

template <class Wrap, class Native>
class NativeObjectWrap : public Napi::ObjectWrap<Wrap> {
  public:
    explicit NativeObjectWrap(const Napi::CallbackInfo & info) : Napi::ObjectWrap<Wrap>(info) {}
    void Finalize(Napi::BasicEnv env) override { mem_.release(env); }

    Held<Native> held() const { return {native_, backend_, mu_}; }
    // The wrap behind v, or null when v is not an instance of this class.
    static Wrap * unwrap_if(const Napi::Value & v) {
        const bool is = constructor_ && v.IsObject() && v.As<Napi::Object>().InstanceOf(constructor_->Value());
        return is ? Napi::ObjectWrap<Wrap>::Unwrap(v.As<Napi::Object>()) : nullptr;
    }

    // What dispose() lets go of besides the core object (a wrap may hide this).
    void on_dispose() {}
    // A parameter's shape by name: the core object's param_shape (a wrap may hide this).
    auto shape_fn(Napi::Env env) const {
        Native & n = live(env);
        return [&n](const std::string & name) { return n.param_shape(name); };
    }

  protected:
    using Prop = Napi::ClassPropertyDescriptor<Wrap>;
    using Keep = std::vector<Napi::Reference<Napi::Value>>;

    // Defines and exports the JS class `name` with the wrap's members, dispose() and nativeBytes; keeps
    // its constructor for unwrap_if (for the life of the process).
    static void define(Napi::Env env, Napi::Object exports, const char * name, std::vector<Prop> props) {
        name_ = name;
        props.push_back(method("dispose", &NativeObjectWrap::dispose));
        props.push_back(accessor("nativeBytes", &NativeObjectWrap::native_bytes, nullptr));
        Napi::Function ctor = Napi::ObjectWrap<Wrap>::DefineClass(env, name, props);
        constructor_ = new Napi::FunctionReference(Napi::Persistent(ctor));
        exports.Set(name, ctor);
    }

    // name(paramName, ...) over a core method M of a named parameter (see ParamMethod): a getter
    // returns the values (one array, or {m, v} for two); a setter takes them, each checked against
    // the parameter's size. Both run under the object's mutex; the core checks the name.
    template <auto M>
    static Prop values(const char * name) {
        return Napi::ObjectWrap<Wrap>::InstanceMethod(
            name,
            static_cast<typename Napi::ObjectWrap<Wrap>::InstanceMethodCallback>(&NativeObjectWrap::param_values<M>),
            napi_default, (void *) name);
    }
    // paramShape(name) -> number[]
    static Prop shape_member() { return method("paramShape", &NativeObjectWrap::param_shape); }
    // A counter property (an optimiser's step count) read by Get and set by Set (a number >= 0).
    template <auto Get, auto Set>
    static Prop counter(const char * name) {
        return accessor(name, &NativeObjectWrap::get_counter<Get>, &NativeObjectWrap::set_counter<Set>);
    }

    // The core object; ERR_SA_STATE after dispose().
    Native & live(Napi::Env env) const {
        if (!native_) throw_disposed(env, name_);
        return *native_;
    }

    // Takes the core object once built, with the bytes to report to V8.
    void hold(Napi::Env env, std::shared_ptr<Native> native, int64_t bytes) {
        native_ = std::move(native);
        mem_.set(env, bytes);
    }

    // Runs work(native) on the libuv pool under the object's mutex and settles a Promise with ok(env).
    // The core object, the backend, this wrap and the JS values in `keep` stay alive until it settles,
    // whatever dispose() does meanwhile.
    template <class Work, class Ok>
    Napi::Promise start(Napi::Env env, Keep keep, Work work, Ok ok) {
        live(env);
        keep.push_back(Napi::Persistent(this->Value().template As<Napi::Value>()));
        auto obj = native_;
        auto be = backend_;
        auto mu = mu_;
        return PromiseWorker::start(
            env,
            [=]() {
                std::lock_guard<std::mutex> lk(*mu);
                (void) be;
                work(*obj);
            },
            ok, std::move(keep));
    }

    // start() for a training computation that returns its loss; resolves with the loss.
    template <class Work>
    Napi::Promise start_loss(Napi::Env env, Keep keep, Work work) {
        auto loss = std::make_shared<float>(0.f);
        return start(
            env, std::move(keep), [=](Native & n) { *loss = work(n); },
            [=](Napi::Env e) -> Napi::Value { return Napi::Number::New(e, *loss); });
    }

    // An encoder's encode(images, batch): fn(native, images, B, out) with out holding
    // B x embedDim x E x E floats; resolves with {embedding: out} and whatever extra(env, result) adds.
    template <class Fn, class Extra>
    Napi::Promise encode_images(const Napi::CallbackInfo & info, Fn fn, Extra extra) {
        Napi::Env env = info.Env();
        const Native & enc = live(env);
        Napi::Float32Array images = arg_f32(info, 0, "encode(images, batch)");
        SA_THROW_TYPEERROR_IF(info.Length() < 2 || !info[1].IsNumber(), env,
                              "encode(images, batch): batch must be a number");
        const int64_t B = info[1].As<Napi::Number>().Int64Value();
        check_image_batch(env, images, B, enc.img_size(), "encode");
        const int64_t E = enc.embed_size();
        const size_t out_len = (size_t) (B * enc.embed_dim() * E * E);
        const float * src = images.Data();
        auto out = std::make_shared<std::vector<float>>();
        Keep keep;
        keep.push_back(Napi::Persistent(images.As<Napi::Value>()));
        return start(
            env, std::move(keep),
            [=](Native & n) {
                out->resize(out_len);
                fn(n, src, B, out->data());
            },
            [=](Napi::Env e) -> Napi::Value {
                Napi::Object r = Napi::Object::New(e);
                r.Set("embedding", f32_from_vector(e, std::move(*out)));
                extra(e, r);
                return r;
            });
    }

    std::shared_ptr<sa::Backend> backend_;
    std::shared_ptr<Native> native_;
    std::shared_ptr<std::mutex> mu_ = std::make_shared<std::mutex>();

  private:
    using OW = Napi::ObjectWrap<Wrap>;
    using Method = Napi::Value (NativeObjectWrap::*)(const Napi::CallbackInfo &);
    using Setter = void (NativeObjectWrap::*)(const Napi::CallbackInfo &, const Napi::Value &);
    static Prop method(const char * name, Method m) {
        return OW::InstanceMethod(name, static_cast<typename OW::InstanceMethodCallback>(m));
    }
    static Prop accessor(const char * name, Method get, Setter set) {
        return OW::InstanceAccessor(name, static_cast<typename OW::InstanceGetterCallback>(get),
                                    static_cast<typename OW::InstanceSetterCallback>(set));
    }
    Wrap & self() { return *static_cast<Wrap *>(this); }

    // Frees the core object now (work in flight holds its own reference and finishes first).
    Napi::Value dispose(const Napi::CallbackInfo & info) {
        native_.reset();
        self().on_dispose();
        mem_.release(info.Env());
        return info.Env().Undefined();
    }
    Napi::Value native_bytes(const Napi::CallbackInfo & info) {
        return Napi::Number::New(info.Env(), (double) mem_.bytes());
    }

    Napi::Value param_shape(const Napi::CallbackInfo & info) {
        Napi::Env env = info.Env();
        auto shape_of = self().shape_fn(env);
        const std::string name = name_arg(info, "paramShape(name)");
        std::vector<int64_t> shape;
        SA_NAPI_TRY(env, { shape = shape_of(name); })
        Napi::Array a = Napi::Array::New(env, shape.size());
        for (size_t i = 0; i < shape.size(); ++i) a.Set((uint32_t) i, Napi::Number::New(env, (double) shape[i]));
        return a;
    }

    template <auto M>
    Napi::Value param_values(const Napi::CallbackInfo & info) {
        using Kind = ParamMethod<decltype(M)>;
        constexpr int K = Kind::arrays;
        Napi::Env env = info.Env();
        Native & n = live(env);
        auto shape_of = self().shape_fn(env);
        const std::string what = std::string((const char *) info.Data()) +
                                 (Kind::writes ? (K == 1 ? "(name, data)" : "(name, m, v)") : "(name)");
        const std::string name = name_arg(info, what.c_str());
        if constexpr (Kind::writes) {
            Napi::Float32Array in[K];
            for (int k = 0; k < K; ++k) in[k] = arg_f32(info, (size_t) k + 1, what.c_str());
            SA_NAPI_TRY(env, {
                std::lock_guard<std::mutex> lk(*mu_);
                const int64_t count = numel_of(shape_of(name));
                for (int k = 0; k < K; ++k)
                    SA_CHECK_ARG((int64_t) in[k].ElementLength() == count, what + " '" + name + "': expected " +
                                                                               std::to_string(count) + " values, got " +
                                                                               std::to_string(in[k].ElementLength()));
                if constexpr (K == 1) (n.*M)(name, in[0].Data());
                else (n.*M)(name, in[0].Data(), in[1].Data());
            })
            return env.Undefined();
        } else {
            std::vector<float> out[K];
            SA_NAPI_TRY(env, {
                std::lock_guard<std::mutex> lk(*mu_);
                for (auto & o : out) o.resize((size_t) numel_of(shape_of(name)));
                if constexpr (K == 1) (n.*M)(name, out[0].data());
                else (n.*M)(name, out[0].data(), out[1].data());
            })
            if constexpr (K == 1) return f32_from_vector(env, std::move(out[0]));
            Napi::Object r = Napi::Object::New(env);
            r.Set("m", f32_from_vector(env, std::move(out[0])));
            r.Set("v", f32_from_vector(env, std::move(out[K - 1])));
            return r;
        }
    }

    template <auto Get>
    Napi::Value get_counter(const Napi::CallbackInfo & info) {
        return Napi::Number::New(info.Env(), (double) (live(info.Env()).*Get)());
    }
    template <auto Set>
    void set_counter(const Napi::CallbackInfo & info, const Napi::Value & v) {
        Napi::Env env = info.Env();
        Native & n = live(env);
        SA_THROW_TYPEERROR_IF(!v.IsNumber(), env, "stepCount must be a number");
        const int64_t c = v.As<Napi::Number>().Int64Value();
        SA_THROW_RANGEERROR_IF(c < 0, env, "stepCount must be >= 0");
        std::lock_guard<std::mutex> lk(*mu_);
        (n.*Set)(c);
    }

    ExternalMemory mem_;
    static inline Napi::FunctionReference * constructor_ = nullptr;
    static inline const char * name_ = "";  // the JS class name
};

}  // namespace saaddon
