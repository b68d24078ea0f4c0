// SPDX-License-Identifier: Apache-2.0
// Deterministic parameter-gradient reductions shared by the backward ops (bias, LayerNorm gamma/beta).
// Two stages: fixed chunks of the reduced range produce partial sums, which a second kernel adds in
// chunk order, so results do not depend on scheduling (no atomics).
//
//   column reduction:  out[c] (+)= sum_r f(r, c)             for matrices [rows, cols] (row-major)
//   channel reduction: out[c] (+)= sum_{b, p} f(b, c, p)     for tensors [B, C, P] (channels first)
//
// f returns a float2: .x goes to out0, .y to out1 (either output may be null). Include this header
// only from .cu files.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "cuda/backend-cuda.cuh"
#include "cuda/common.cuh"

namespace sa {
namespace cuda {

template <typename F>
static __global__ void col_partial_kernel(F f, int64_t rows, int64_t cols, int64_t rows_per_chunk,
                                          float2 * __restrict__ partial) {
    __shared__ float2 sm[8][33];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int64_t c = (int64_t) blockIdx.x * 32 + tx;
    const int64_t r0 = (int64_t) blockIdx.y * rows_per_chunk;
    const int64_t r1 = min(rows, r0 + rows_per_chunk);
    float2 acc = make_float2(0.0f, 0.0f);
    if (c < cols)
        for (int64_t r = r0 + ty; r < r1; r += 8) {
            const float2 v = f(r, c);
            acc.x += v.x;
            acc.y += v.y;
        }
    sm[ty][tx] = acc;
    __syncthreads();
    if (ty == 0 && c < cols) {
        float2 s = sm[0][tx];
        for (int k = 1; k < 8; ++k) {
            s.x += sm[k][tx].x;
            s.y += sm[k][tx].y;
        }
        partial[(int64_t) blockIdx.y * cols + c] = s;
    }
}

template <typename F>
static __global__ void channel_partial_kernel(F f, int64_t B, int64_t C, int64_t P, int64_t per_chunk,
                                              float2 * __restrict__ partial) {
    __shared__ double smx[kThreads / 32], smy[kThreads / 32];
    const int64_t c = blockIdx.x;
    const int64_t total = B * P;
    const int64_t i0 = (int64_t) blockIdx.y * per_chunk, i1 = min(total, i0 + per_chunk);
    float ax = 0.0f, ay = 0.0f;
    for (int64_t i = i0 + threadIdx.x; i < i1; i += blockDim.x) {
        const int64_t b = i / P, p = i - b * P;
        const float2 v = f(b, c, p);
        ax += v.x;
        ay += v.y;
    }
    const double sx = block_sum((double) ax, smx);
    const double sy = block_sum((double) ay, smy);
    if (threadIdx.x == 0) partial[(int64_t) blockIdx.y * C + c] = make_float2((float) sx, (float) sy);
}

// out[c] = (accumulate ? out[c] : 0) + sum over chunks of partial[chunk, c], chunks in order.
static __global__ void finish_partials_kernel(const float2 * __restrict__ partial, int64_t chunks, int64_t cols,
                                              float * out0, float * out1, bool accumulate) {
    const int64_t c = blockIdx.x * (int64_t) blockDim.x + threadIdx.x;
    if (c >= cols) return;
    float sx = 0.0f, sy = 0.0f;
    for (int64_t k = 0; k < chunks; ++k) {
        const float2 v = partial[k * cols + c];
        sx += v.x;
        sy += v.y;
    }
    if (out0) out0[c] = accumulate ? out0[c] + sx : sx;
    if (out1) out1[c] = accumulate ? out1[c] + sy : sy;
}

template <typename F>
void launch_col_reduce(CudaBackend & be, F f, int64_t rows, int64_t cols, float * out0, float * out1, bool accumulate) {
    if (cols <= 0 || (!out0 && !out1)) return;
    const int64_t col_blocks = (cols + 31) / 32;
    const int64_t target_blocks = 2 * (int64_t) be.props().multiProcessorCount;
    int64_t chunks = std::max<int64_t>(1, std::min<int64_t>((rows + 127) / 128, target_blocks / col_blocks));
    const int64_t per_chunk = std::max<int64_t>(1, (rows + chunks - 1) / chunks);
    chunks = std::max<int64_t>(1, (rows + per_chunk - 1) / per_chunk);
    CudaBackend::Scratch part(be, (size_t) (chunks * cols) * sizeof(float2));
    col_partial_kernel<<<dim3((unsigned) col_blocks, (unsigned) chunks), dim3(32, 8), 0, be.stream()>>>(
        f, rows, cols, per_chunk, part.as<float2>());
    SA_CUDA_LAUNCH_CHECK();
    finish_partials_kernel<<<ceil_div_u(cols, kThreads), kThreads, 0, be.stream()>>>(part.as<float2>(), chunks, cols,
                                                                                     out0, out1, accumulate);
    SA_CUDA_LAUNCH_CHECK();
}

template <typename F>
void launch_channel_reduce(CudaBackend & be, F f, int64_t B, int64_t C, int64_t P, float * out0, float * out1,
                           bool accumulate) {
    if (C <= 0 || (!out0 && !out1)) return;
    const int64_t total = B * P;
    const int64_t target_blocks = 2 * (int64_t) be.props().multiProcessorCount;
    int64_t chunks = std::max<int64_t>(1, std::min<int64_t>((total + 2047) / 2048, (target_blocks + C - 1) / C));
    const int64_t per_chunk = std::max<int64_t>(1, (total + chunks - 1) / chunks);
    chunks = std::max<int64_t>(1, (total + per_chunk - 1) / per_chunk);
    CudaBackend::Scratch part(be, (size_t) (chunks * C) * sizeof(float2));
    channel_partial_kernel<<<dim3((unsigned) C, (unsigned) chunks), kThreads, 0, be.stream()>>>(f, B, C, P, per_chunk,
                                                                                                part.as<float2>());
    SA_CUDA_LAUNCH_CHECK();
    finish_partials_kernel<<<ceil_div_u(C, kThreads), kThreads, 0, be.stream()>>>(part.as<float2>(), chunks, C, out0,
                                                                                  out1, accumulate);
    SA_CUDA_LAUNCH_CHECK();
}

}  // namespace cuda
}  // namespace sa
