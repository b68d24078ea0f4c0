// SPDX-License-Identifier: Apache-2.0
// Module entry: registers the addon's functions and classes. The only folder that includes napi.h.
#include <napi.h>

#include <memory>
#include <string>
#include <thread>

#include "backends.h"
#include "napi-util.h"
#include "sa/build-info.h"
#include "sa/gemm.h"
#include "sa/isa.h"
#include "sa/threadpool.h"

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

// gemmPeak(seconds = 0.5, precision = "fp32"): the CPU GEMM micro-kernel's ceiling on setThreads'
// threads (sa/gemm.h; "bf16": the bf16 products kernel, rejected below avx512bf16), measured off the
// JS thread; resolves { gflops, threads, isa }.
static Napi::Value gemm_peak(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    double seconds = 0.5;
    if (info.Length() > 0 && !info[0].IsUndefined()) {
        SA_THROW_TYPEERROR_IF(!info[0].IsNumber(), env, "gemmPeak(seconds): seconds must be a number");
        seconds = info[0].As<Napi::Number>().DoubleValue();
        SA_THROW_RANGEERROR_IF(!(seconds > 0.0 && seconds <= 10.0), env,
                               "gemmPeak(seconds): seconds must be in (0, 10]");
    }
    bool bf16 = false;
    if (info.Length() > 1 && !info[1].IsUndefined()) {
        SA_THROW_TYPEERROR_IF(!info[1].IsString(), env, "gemmPeak(seconds, precision): precision must be a string");
        const std::string p = info[1].As<Napi::String>().Utf8Value();
        SA_THROW_RANGEERROR_IF(p != "fp32" && p != "bf16", env,
                               "gemmPeak(seconds, precision): precision must be \"fp32\" or \"bf16\"");
        bf16 = p == "bf16";
    }
    struct Result {
        double gflops = 0.0;
        std::string isa;
    };
    const int threads = cpu_threads();
    auto r = std::make_shared<Result>();
    return PromiseWorker::start(
        env,
        [r, threads, seconds, bf16] {
            r->isa = sa::isa_name(sa::cpu_isa());  // throws (a coded rejection) when SA_ISA cannot run here
            sa::ThreadPool pool(threads);
            r->gflops = sa::gemm_kernel_peak_gflops(pool, seconds, bf16);
        },
        [r, threads](Napi::Env e) -> Napi::Value {
            Napi::Object o = Napi::Object::New(e);
            o.Set("gflops", Napi::Number::New(e, r->gflops));
            o.Set("threads", Napi::Number::New(e, threads));
            o.Set("isa", Napi::String::New(e, r->isa));
            return o;
        });
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
    exports.Set("gemmPeak", Napi::Function::New(env, gemm_peak, "gemmPeak"));
    register_all(env, exports);
    return exports;
}

}  // namespace saaddon

static Napi::Object sa_module_init(Napi::Env env, Napi::Object exports) {
    return saaddon::init(env, exports);
}

NODE_API_MODULE(sam_ablate, sa_module_init)
