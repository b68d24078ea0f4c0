// SPDX-License-Identifier: Apache-2.0
// Adam / AdamW step over a flat parameter buffer on the CUDA backend.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "core/adam-update.h"

namespace sa {
namespace cuda {

void launch_adam_step(float * param, const float * grad, float * m, float * v, int64_t n, const AdamCoeffs & k,
                      cudaStream_t stream);

}  // namespace cuda
}  // namespace sa
