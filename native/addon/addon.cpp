// SPDX-License-Identifier: Apache-2.0
// Module entry: registers the addon's functions and classes. The only folder that includes napi.h.
#include <napi.h>

#include <thread>

#include "backends.h"
#include "napi-util.h"
#include "sa/build-info.h"
#include "sa/isa.h"

namespace saaddon {

static Napi::Value system_info(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("threads", Napi::Number::New(env, cpu_threads()));
    o.Set("hardwareConcurrency", Napi::Number::New(env, std::thread::hardware_concurrency()));
    o.Set("simd", Napi::String::New(env, sa::build_simd()));
    // The CPU kernels' level (chosen once per process; SA_ISA forces one) and what else could run.
    try {
        o.Set("isa", Napi::String::New(env, sa::isa_name(sa::cpu_isa())));
    } catch (const std::exception & e) {
        o.Set("isa", env.Null());
        o.Set("isaError", Napi::String::New(env, e.what()));
    }
    o.Set("isaAvailable", Napi::String::New(env, sa::isa_name(sa::cpu_isa_available())));
    Napi::Array levels = Napi::Array::New(env);
    for (int l = 0; l <= (int) sa::cpu_isa_available(); ++l) levels.Set((uint32_t) l, sa::isa_name((sa::Isa) l));
    o.Set("isaLevels", levels);
    o.Set("isaCompiled", Napi::String::New(env, sa::isa_compiled()));
#ifdef SA_USE_CUDA
    o.Set("cuda", Napi::Boolean::New(env, true));
#else
    o.Set("cuda", Napi::Boolean::New(env, false));
#endif
    o.Set("napiVersion", Napi::Number::New(env, NAPI_VERSION));
    return o;
}

static Napi::Value set_threads(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    SA_THROW_TYPEERROR_IF(info.Length() < 1 || !info[0].IsNumber(), env, "setThreads(n): n must be a number");
    int n = info[0].As<Napi::Number>().Int32Value();
    SA_THROW_RANGEERROR_IF(n < 0 || n > 1024, env, "setThreads(n): n must be in [0, 1024] (0 = all cores)");
    return Napi::Number::New(env, set_cpu_threads(n));
}

void register_all(Napi::Env env, Napi::Object exports);

static Napi::Object init(Napi::Env env, Napi::Object exports) {
    exports.Set("systemInfo", Napi::Function::New(env, system_info, "systemInfo"));
    exports.Set("setThreads", Napi::Function::New(env, set_threads, "setThreads"));
    register_all(env, exports);
    return exports;
}

}  // namespace saaddon

static Napi::Object sa_module_init(Napi::Env env, Napi::Object exports) {
    return saaddon::init(env, exports);
}

NODE_API_MODULE(sam_ablate, sa_module_init)
