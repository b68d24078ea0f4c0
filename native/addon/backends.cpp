// SPDX-License-Identifier: Apache-2.0
#include "backends.h"

#include <mutex>

#include "napi-util.h"
#include "sa/threadpool.h"
#ifdef SA_USE_CUDA
#include "sa/backend-cuda.h"
#endif

namespace saaddon {

namespace {

// The addon's backends, one per kind and precision, shared by every wrap; created on first use.
std::mutex g_mu;
std::shared_ptr<sa::Backend> g_cpu[3][3];  // by sa::Precision of the encoder, then of the decoder
int g_cpu_threads = 0;                     // setThreads(n); 0: SA_NUM_THREADS, else all cores

// The backend in `slot`, made by make() on first use; a failure becomes a coded JS error.
template <class Make>
std::shared_ptr<sa::Backend> once(Napi::Env env, std::shared_ptr<sa::Backend> & slot, Make make) {
    if (!slot) {
        try {
            slot = make();
        } catch (const std::exception & e) {
            rethrow_as_js(env, e);
        }
    }
    return slot;
}

}  // namespace

int set_cpu_threads(int n) {
    std::lock_guard<std::mutex> lk(g_mu);
    g_cpu_threads = n;
    for (auto & row : g_cpu)
        for (auto & be : row)
            if (be) be->set_threads(n);
    return n > 0 ? n : sa::default_thread_count();
}

int cpu_threads() {
    std::lock_guard<std::mutex> lk(g_mu);
    return g_cpu_threads > 0 ? g_cpu_threads : sa::default_thread_count();
}

std::shared_ptr<sa::Backend> backend_for(Napi::Env env, const std::string & name, const std::string & precision,
                                         const std::string & decoder_precision) {
    std::lock_guard<std::mutex> lk(g_mu);
    SA_THROW_TYPEERROR_IF(precision != "fp32" && precision != "bf16" && precision != "tf32", env,
                          "precision must be 'fp32', 'bf16' or 'tf32' (CUDA only), got '" + precision + "'");
    SA_THROW_TYPEERROR_IF(decoder_precision != "fp32" && decoder_precision != "bf16", env,
                          "decoder precision must be 'fp32' or 'bf16' (CPU with AVX512_BF16 or AMX only), got '" +
                              decoder_precision + "'");
    if (name == "cpu") {
        // One instance per pair of precisions; tf32 is refused by make_cpu_backend, and so are bf16 encoder
        // and bf16 decoder products below avx512bf16.
        const auto parse = [](const std::string & s) {
            return s == "bf16" ? sa::Precision::bf16 : s == "tf32" ? sa::Precision::tf32 : sa::Precision::fp32;
        };
        const sa::Precision p = parse(precision), d = parse(decoder_precision);
        return once(env, g_cpu[(int) p][(int) d], [&] { return sa::make_cpu_backend(p, g_cpu_threads, d); });
    }
    if (name == "cuda" && decoder_precision != "fp32") {
        throw_coded(
            env, "ERR_SA_UNSUPPORTED",
            "decoder precision " + decoder_precision +
                " exists on the CPU backend only (AVX512_BF16 or AMX); the CUDA backend runs the decoder in fp32");
    }
    if (name == "cuda") {
#ifdef SA_USE_CUDA
        static std::shared_ptr<sa::Backend> cuda[3];
        const sa::CudaMath m = precision == "bf16"   ? sa::CudaMath::BF16
                               : precision == "tf32" ? sa::CudaMath::TF32
                                                     : sa::CudaMath::FP32;
        return once(env, cuda[(int) m], [&] {
            sa::CudaBackendOptions options;
            options.math = m;
            return sa::make_cuda_backend(0, options);
        });
#else
        throw_coded(env, "ERR_SA_UNSUPPORTED",
                    "backend 'cuda': this build has no CUDA backend (nvcc and cuBLAS were not found at build time); "
                    "rebuild with SA_CUDA=ON on a machine with the CUDA toolkit");
#endif
    }
    SA_THROW_TYPEERROR_IF(true, env, "backend must be 'cpu' or 'cuda', got '" + name + "'");
    return nullptr;
}

namespace {

// The names of the ops `supports` refuses.
template <class Supports>
Napi::Array unsupported_ops(Napi::Env env, Supports && supports) {
    Napi::Array a = Napi::Array::New(env);
    for (int i = 0; i < (int) sa::Op::count; ++i)
        if (!supports((sa::Op) i)) a.Set(a.Length(), Napi::String::New(env, sa::op_name((sa::Op) i)));
    return a;
}

}  // namespace

Napi::Value backends_info(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    Napi::Object cpu = Napi::Object::New(env);
    cpu.Set("unsupported", unsupported_ops(env, sa::cpu_supports));
    o.Set("cpu", cpu);
    Napi::Object cuda = Napi::Object::New(env);
#ifdef SA_USE_CUDA
    cuda.Set("built", Napi::Boolean::New(env, true));
    cuda.Set("unsupported", unsupported_ops(env, sa::cuda_supports));
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
