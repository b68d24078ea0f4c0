// SPDX-License-Identifier: Apache-2.0
// Backend selection for the wrappers: "cpu" always; "cuda" when the addon was built with the CUDA
// backend and a device is present.
#pragma once

#include <napi.h>

#include <memory>
#include <string>

#include "sa/backend.h"

namespace saaddon {

// Shared backend instance for a name ("cpu" | "cuda"), an encoder precision ("fp32" | "bf16" on both;
// "tf32" on CUDA only) and a decoder precision ("fp32"; "bf16" on the CPU at level amx: the products of
// the decoder's ops, sa::make_cpu_backend's `products`); throws a coded JS error when unavailable.
std::shared_ptr<sa::Backend> backend_for(Napi::Env env, const std::string & name,
                                         const std::string & precision = "fp32",
                                         const std::string & decoder_precision = "fp32");
// setThreads(n): the thread count of every CPU backend, now and when created (n <= 0: SA_NUM_THREADS,
// else all cores; safe while work runs, see Backend::set_threads). Returns the count in effect.
int set_cpu_threads(int n);
int cpu_threads();
// {cpu: true, cuda: {built, available, devices: [...], reason}}
Napi::Value backends_info(const Napi::CallbackInfo & info);

}  // namespace saaddon
