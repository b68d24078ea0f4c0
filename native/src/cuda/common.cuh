// SPDX-License-Identifier: Apache-2.0
// Shared helpers of the CUDA backend: error checks that throw sa::Error (never abort), launch-size
// helpers and small device utilities (warp reductions, grid-stride loops).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "sa/status.h"

namespace sa {
namespace cuda {

// Throws sa::Error(SA_ERR_CUDA) naming the statement, the file/line and CUDA's error string.
[[noreturn]] void throw_cuda_error(cudaError_t err, const char * stmt, const char * file, int line);
// Same for cuBLAS / cuBLASLt status codes (cublasStatus_t passed as int to keep this header light).
[[noreturn]] void throw_cublas_error(int status, const char * stmt, const char * file, int line);

constexpr int kThreads = 256;

// Blocks for a grid-stride loop over n elements: enough to fill the device, never more than needed.
inline unsigned grid_for(int64_t n, int threads = kThreads) {
    const int64_t blocks = (n + threads - 1) / threads;
    constexpr int64_t kMaxBlocks = 132 * 32;  // a few waves on the largest current parts
    return (unsigned) (blocks < 1 ? 1 : (blocks > kMaxBlocks ? kMaxBlocks : blocks));
}

inline unsigned ceil_div_u(int64_t a, int64_t b) {
    return (unsigned) ((a + b - 1) / b);
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ double warp_sum(double v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Block-wide sum of a double for blocks of kThreads threads (all threads get the result). `smem`
// holds kThreads / 32 doubles.
__device__ __forceinline__ double block_sum(double v, double * smem) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) smem[warp] = v;
    __syncthreads();
    double r = 0.0;
    for (int w = 0; w < nwarps; ++w) r += smem[w];  // fixed order: deterministic
    return r;
}

}  // namespace cuda
}  // namespace sa

// Runs a CUDA runtime call; on failure throws sa::Error(SA_ERR_CUDA, "<stmt> failed at file:line: ...").
#define SA_CUDA_CHECK(stmt)                                                                                     \
    do {                                                                                                        \
        const cudaError_t sa_cuda_err_ = (stmt);                                                                \
        if (sa_cuda_err_ != cudaSuccess) ::sa::cuda::throw_cuda_error(sa_cuda_err_, #stmt, __FILE__, __LINE__); \
    } while (0)

// Runs a cuBLAS / cuBLASLt call; on failure throws sa::Error(SA_ERR_CUDA, ...).
#define SA_CUBLAS_CHECK(stmt)                                                                             \
    do {                                                                                                  \
        const int sa_cublas_st_ = (int) (stmt);                                                           \
        if (sa_cublas_st_ != 0) ::sa::cuda::throw_cublas_error(sa_cublas_st_, #stmt, __FILE__, __LINE__); \
    } while (0)

// After a kernel launch: surfaces launch-configuration errors as sa::Error.
#define SA_CUDA_LAUNCH_CHECK() SA_CUDA_CHECK(cudaGetLastError())
