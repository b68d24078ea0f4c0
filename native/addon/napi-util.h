// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the addon's wrappers: argument validation that throws TypeError/RangeError,
// the mapping of core status codes to JS errors that carry a `code`, typed-array access, and a
// Promise-returning AsyncWorker that runs core work off the JS thread.
#pragma once

#include <napi.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "sa/status.h"
#include "sa/weights.h"

namespace saaddon {

// Throws a JS Error with err.code = code.
[[noreturn]] void throw_coded(Napi::Env env, const std::string & code, const std::string & msg);
[[noreturn]] void throw_status(Napi::Env env, sa_status s, const std::string & msg);
// Converts a C++ exception caught in the addon into a coded JS error.
[[noreturn]] void rethrow_as_js(Napi::Env env, const std::exception & e);

// Argument access with precise TypeErrors ("encode(images): expected Float32Array").
Napi::Float32Array arg_f32(const Napi::CallbackInfo & info, size_t i, const char * what);
Napi::Object arg_object(const Napi::CallbackInfo & info, size_t i, const char * what);
int64_t get_int(Napi::Object o, const char * key, int64_t dflt, const char * what);
bool get_bool(Napi::Object o, const char * key, bool dflt);
std::string get_string(Napi::Object o, const char * key, const std::string & dflt);
// Optional Float32Array property: data pointer or nullptr; checks the element count when expected >= 0.
const float * get_f32_opt(Napi::Object o, const char * key, int64_t expected, const char * what,
                          std::vector<Napi::Reference<Napi::Value>> * keep);

// Builds a WeightMap borrowing the Float32Arrays of {name: {shape: number[], data: Float32Array}}.
// The caller keeps `weights` alive while the map is used.
sa::WeightMap weight_map_from_js(Napi::Env env, Napi::Object weights);

// Bytes of float32 data in a weight map (what a model copies at construction).
int64_t weight_bytes(const sa::WeightMap & weights);

// The native memory a wrapped object holds, reported to V8 (AdjustExternalMemory) so that the GC
// weighs it; released by dispose() or by the finalizer, whichever comes first.
class ExternalMemory {
  public:
    void set(Napi::BasicEnv env, int64_t bytes) { adjust(env, bytes - bytes_); }
    void release(Napi::BasicEnv env) { adjust(env, -bytes_); }
    int64_t bytes() const { return bytes_; }

  private:
    void adjust(Napi::BasicEnv env, int64_t delta) {
        if (delta == 0) return;
        Napi::MemoryManagement::AdjustExternalMemory(env, delta);
        bytes_ += delta;
    }
    int64_t bytes_ = 0;
};

// Throws ERR_SA_STATE when a wrapped object is used after dispose().
[[noreturn]] void throw_disposed(Napi::Env env, const char * what);

// new <who>(weights, options): info[0] as the weights object, {name: {shape, data}} (TypeError otherwise).
Napi::Object arg_weights(const Napi::CallbackInfo & info, const std::string & who);

// new <who>(weights, options) of an image encoder: the weights (borrowing the caller's arrays, which
// outlive the constructor call), the options object and the model it names: arch "vit" | "tinyvit"
// (default "vit"; TypeError otherwise), prefix (default "image_encoder."), backend (default "cpu").
struct EncoderArgs {
    sa::WeightMap weights;
    Napi::Object opts;
    std::string arch, prefix, backend;
};
EncoderArgs encoder_args(const Napi::CallbackInfo & info, const std::string & who);

// Element count of a shape.
int64_t numel_of(const std::vector<int64_t> & shape);
// info[0] as a parameter name (TypeError naming `what` otherwise).
std::string name_arg(const Napi::CallbackInfo & info, const char * what);
// A JS array of strings (paramNames(), trainedParams(), loraNames()).
Napi::Array js_strings(Napi::Env env, const std::vector<std::string> & v);

// Checks images [B, 3, S, S] (B in [1, 4096]); RangeError with ERR_SA_INVALID_ARG naming `what`.
void check_image_batch(Napi::Env env, const Napi::Float32Array & images, int64_t B, int64_t S, const char * what);

// An image encoder's geometry as a JS object: {arch, imgSize, embedDim, embedSize, description}.
template <class Encoder>
Napi::Object encoder_geometry(Napi::Env env, const Encoder & enc) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("arch", Napi::String::New(env, enc.arch()));
    o.Set("imgSize", Napi::Number::New(env, (double) enc.img_size()));
    o.Set("embedDim", Napi::Number::New(env, (double) enc.embed_dim()));
    o.Set("embedSize", Napi::Number::New(env, (double) enc.embed_size()));
    o.Set("description", Napi::String::New(env, enc.describe()));
    return o;
}

// Float32Array that owns a moved std::vector (no copy).
Napi::Float32Array f32_from_vector(Napi::Env env, std::vector<float> && v);

// Runs `exec` on the libuv pool and settles a Promise: resolved with `ok(env)`, or rejected with an
// Error carrying `code`. Keeps the JS values in `keep` alive until it settles.
class PromiseWorker : public Napi::AsyncWorker {
  public:
    PromiseWorker(Napi::Env env, std::function<void()> exec, std::function<Napi::Value(Napi::Env)> ok,
                  std::vector<Napi::Reference<Napi::Value>> keep = {});
    Napi::Promise promise() { return deferred_.Promise(); }
    // Queues the worker and returns its promise.
    static Napi::Promise start(Napi::Env env, std::function<void()> exec, std::function<Napi::Value(Napi::Env)> ok,
                               std::vector<Napi::Reference<Napi::Value>> keep = {});

  protected:
    void Execute() override;
    void OnOK() override;
    void OnError(const Napi::Error & e) override;

  private:
    std::function<void()> exec_;
    std::function<Napi::Value(Napi::Env)> ok_;
    std::vector<Napi::Reference<Napi::Value>> keep_;
    Napi::Promise::Deferred deferred_;
    std::string code_ = "ERR_SA_INTERNAL";
};

}  // namespace saaddon

// Throws a TypeError / RangeError with code ERR_SA_INVALID_ARG when cond holds (msg is built only then).
#define SA_THROW_TYPEERROR_IF(cond, env, msg) SA_THROW_INVALID_IF_(TypeError, cond, env, msg)
#define SA_THROW_RANGEERROR_IF(cond, env, msg) SA_THROW_INVALID_IF_(RangeError, cond, env, msg)
#define SA_THROW_INVALID_IF_(Kind, cond, env, msg)                         \
    do {                                                                   \
        if (cond) {                                                        \
            Napi::Kind e = Napi::Kind::New((env), (msg));                  \
            e.Set("code", Napi::String::New((env), "ERR_SA_INVALID_ARG")); \
            throw e;                                                       \
        }                                                                  \
    } while (0)

// Wraps a method body: converts C++ exceptions from the core into coded JS errors.
#define SA_NAPI_TRY(env, body)                 \
    try {                                      \
        body                                   \
    } catch (const Napi::Error &) {            \
        throw;                                 \
    } catch (const std::exception & ex__) {    \
        ::saaddon::rethrow_as_js((env), ex__); \
    }
