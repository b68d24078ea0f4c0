// SPDX-License-Identifier: Apache-2.0
// The CUDA backend (only in builds with SA_USE_CUDA). Implemented in src/cuda/.
// This header carries no CUDA types, so host-only code (the addon, tests, benchmarks) can include it.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "sa/backend.h"

namespace sa {

struct CudaDeviceInfo {
    std::string name;
    std::string compute_capability;  // "9.0"
    size_t memory_bytes = 0;
    int driver_version = 0;
    int runtime_version = 0;
};

// True when a CUDA device can be used; otherwise `reason` says why (no driver, no device, ...).
// Never throws, never aborts.
bool cuda_probe(CudaDeviceInfo * info, std::string * reason);

// Arithmetic of the matrix products (GEMMs, linear layers, convolutions) and of the ViT attention.
//   FP32: IEEE fp32 throughout (the default; bit-for-bit stable across runs).
//   TF32: fp32 storage, tensor-core products with 10-bit mantissas (about 1e-3 relative per product).
//   BF16: fp32 storage, bf16 tensor-core products with fp32 accumulation (the encoder's fast path; the
//         image embedding stays within about 1e-2 relative of FP32).
enum class CudaMath : int { FP32 = 0, TF32 = 1, BF16 = 2 };

// "fp32", "tf32", "bf16"
const char * cuda_math_name(CudaMath m);

struct CudaBackendOptions {
    CudaMath math = CudaMath::FP32;
    // Zero every buffer returned by alloc() (stream-ordered memset): a model that forgets to
    // initialise an accumulator then reads zeros, as from fresh host pages, rather than stale data.
    bool zero_alloc = true;
    // cuBLAS / cuBLASLt workspace (fixed, so GEMMs never allocate inside a CUDA-graph capture).
    size_t workspace_bytes = size_t(32) << 20;
};

// A backend on the given device (throws sa::Error(SA_ERR_CUDA / SA_ERR_UNSUPPORTED)).
// Whether the CUDA backend runs `op` (Backend::supports; answered without a device, for `doctor`).
bool cuda_supports(Op op);

std::unique_ptr<Backend> make_cuda_backend(int device);
std::unique_ptr<Backend> make_cuda_backend(int device, const CudaBackendOptions & options);

// Switches the GEMM / attention arithmetic of a CUDA backend and returns the previous mode. Takes
// effect for work issued afterwards. Throws sa::Error(SA_ERR_INVALID_ARG) when `be` is not a CUDA backend.
CudaMath cuda_set_math(Backend & be, CudaMath math);
CudaMath cuda_get_math(Backend & be);

// Device memory accounting of a CUDA backend's caching allocator, in bytes.
struct CudaMemoryStats {
    size_t in_use = 0;       // handed out by alloc() and not yet freed
    size_t reserved = 0;     // obtained from cudaMalloc (in use + cached)
    size_t peak_in_use = 0;  // since creation or the last cuda_reset_peak_memory
    size_t peak_reserved = 0;
    size_t device_total = 0;  // the device's memory
};
CudaMemoryStats cuda_memory_stats(Backend & be);
void cuda_reset_peak_memory(Backend & be);
// Returns cached, unused blocks to the driver (synchronises the backend's stream first).
void cuda_release_cached_memory(Backend & be);

}  // namespace sa
