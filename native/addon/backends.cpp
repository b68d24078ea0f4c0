// SPDX-License-Identifier: Apache-2.0
#include "backends.h"

#include <mutex>

#include "napi-util.h"
#ifdef SA_USE_CUDA
#include "sa/backend-cuda.h"
#endif

namespace saaddon {

std::shared_ptr<sa::Backend> backend_for(Napi::Env env, const std::string & name) {
    static std::mutex mu;
    static std::shared_ptr<sa::Backend> cpu;
    std::lock_guard<std::mutex> lk(mu);
    if (name == "cpu") {
        if (!cpu) cpu = sa::make_cpu_backend();
        return cpu;
    }
    if (name == "cuda") {
#ifdef SA_USE_CUDA
        static std::shared_ptr<sa::Backend> cuda;
        if (!cuda) {
            try {
                cuda = sa::make_cuda_backend(0);
            } catch (const std::exception & e) {
                rethrow_as_js(env, e);
            }
        }
        return cuda;
#else
        throw_coded(env, "ERR_SA_UNSUPPORTED",
                    "backend 'cuda': this build has no CUDA backend (nvcc and cuBLAS were not found at build time); "
                    "rebuild with SA_CUDA=ON on a machine with the CUDA toolkit");
#endif
    }
    Napi::TypeError e = Napi::TypeError::New(env, "backend must be 'cpu' or 'cuda', got '" + name + "'");
    e.Set("code", Napi::String::New(env, "ERR_SA_INVALID_ARG"));
    throw e;
}

Napi::Value backends_info(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("cpu", Napi::Boolean::New(env, true));
    Napi::Object cuda = Napi::Object::New(env);
#ifdef SA_USE_CUDA
    cuda.Set("built", Napi::Boolean::New(env, true));
    sa::CudaDeviceInfo dev;
    std::string reason;
    bool ok = sa::cuda_probe(&dev, &reason);
    cuda.Set("available", Napi::Boolean::New(env, ok));
    if (ok) {
        Napi::Object d = Napi::Object::New(env);
        d.Set("name", Napi::String::New(env, dev.name));
        d.Set("computeCapability", Napi::String::New(env, dev.compute_capability));
        d.Set("memoryBytes", Napi::Number::New(env, (double) dev.memory_bytes));
        d.Set("driverVersion", Napi::Number::New(env, dev.driver_version));
        d.Set("runtimeVersion", Napi::Number::New(env, dev.runtime_version));
        cuda.Set("device", d);
    } else {
        cuda.Set("reason", Napi::String::New(env, reason));
    }
#else
    cuda.Set("built", Napi::Boolean::New(env, false));
    cuda.Set("available", Napi::Boolean::New(env, false));
    cuda.Set("reason", Napi::String::New(env, "built without the CUDA backend (nvcc/cuBLAS not found at build time)"));
#endif
    o.Set("cuda", cuda);
    return o;
}

}  // namespace saaddon
