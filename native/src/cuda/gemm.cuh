// SPDX-License-Identifier: Apache-2.0
// GEMMs of the CUDA backend through cuBLAS (cublasGemmEx / cublasGemmStridedBatchedEx) and cuBLASLt
// (linear layers with a fused bias epilogue). Row-major operands are passed to the column-major
// libraries as the transposed problem: C^T = op(B)^T op(A)^T.
#pragma once

#include <cublasLt.h>
#include <cublas_v2.h>

#include "sa/backend-cuda.h"

namespace sa {
namespace cuda {

// The cuBLAS compute type for a math mode (FP32: CUBLAS_COMPUTE_32F, TF32: ..._FAST_TF32,
// BF16: ..._FAST_16BF; storage stays fp32 in every mode).
cublasComputeType_t compute_type(CudaMath m);

}  // namespace cuda
}  // namespace sa
