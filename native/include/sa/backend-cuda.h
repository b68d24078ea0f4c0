// SPDX-License-Identifier: Apache-2.0
// The CUDA backend (only in builds with SA_USE_CUDA). Implemented in src/cuda/.
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

// A backend on the given device (throws sa::Error(SA_ERR_CUDA / SA_ERR_UNSUPPORTED)).
std::unique_ptr<Backend> make_cuda_backend(int device);

}  // namespace sa
