// SPDX-License-Identifier: Apache-2.0
// Plain multi-head attention (SAM's mask decoder): q [B, Nq, nh*d], k/v [B, Nk, nh*d], head h in columns
// [h*d, (h+1)*d). out = softmax(q k^T / sqrt(d)) v per head; probs [B, nh, Nq, Nk] saved when non-null
// (they are small: tokens x 4096 at most). Per image, each product is one strided-batched GEMM over
// the heads (the head stride is d inside a row of nh*d).
// Backward from the saved probabilities P:
//   dP = dout v^T, dS = P (dP - rowsum(dP P)) / sqrt(d), dq = dS k, dk = dS^T q, dv = P^T dout.
#include <cmath>
#include <string>

#include "cuda/attention.cuh"
#include "cuda/backend-cuda.cuh"
#include "cuda/common.cuh"

namespace sa {

namespace cuda {

// One warp per row.
static __global__ void softmax_rows_kernel(float * __restrict__ p, int64_t rows, int64_t n) {
    const int lane = threadIdx.x & 31;
    const int64_t row = (blockIdx.x * (int64_t) blockDim.x + threadIdx.x) >> 5;
    if (row >= rows) return;
    float * r = p + row * n;
    float mx = -INFINITY;
    for (int64_t j = lane; j < n; j += 32) mx = fmaxf(mx, r[j]);
    mx = warp_max(mx);
    float s = 0.0f;
    for (int64_t j = lane; j < n; j += 32) {
        const float e = expf(r[j] - mx);
        r[j] = e;
        s += e;
    }
    const float inv = 1.0f / warp_sum(s);
    for (int64_t j = lane; j < n; j += 32) r[j] *= inv;
}

static __global__ void softmax_backward_rows_kernel(const float * __restrict__ p, float * __restrict__ ds, int64_t rows,
                                                    int64_t n, float scale) {
    const int lane = threadIdx.x & 31;
    const int64_t row = (blockIdx.x * (int64_t) blockDim.x + threadIdx.x) >> 5;
    if (row >= rows) return;
    const float * pr = p + row * n;
    float * dr = ds + row * n;
    float s = 0.0f;
    for (int64_t j = lane; j < n; j += 32) s += dr[j] * pr[j];
    s = warp_sum(s);
    for (int64_t j = lane; j < n; j += 32) dr[j] = pr[j] * (dr[j] - s) * scale;
}

void launch_softmax_rows(float * p, int64_t rows, int64_t n, cudaStream_t stream) {
    if (rows <= 0) return;
    softmax_rows_kernel<<<ceil_div_u(rows, kThreads / 32), kThreads, 0, stream>>>(p, rows, n);
    SA_CUDA_LAUNCH_CHECK();
}

void launch_softmax_backward_rows(const float * p, float * ds, int64_t rows, int64_t n, float scale,
                                  cudaStream_t stream) {
    if (rows <= 0) return;
    softmax_backward_rows_kernel<<<ceil_div_u(rows, kThreads / 32), kThreads, 0, stream>>>(p, ds, rows, n, scale);
    SA_CUDA_LAUNCH_CHECK();
}

}  // namespace cuda

namespace {
void check_cublas_range(const char * op, int64_t Nq, int64_t Nk, int64_t nh, int64_t d) {
    SA_CHECK_ARG(Nq * Nk <= INT32_MAX && nh * d <= INT32_MAX, std::string(op) + ": size exceeds the range of cuBLAS");
}
}  // namespace

void CudaBackend::attention_impl(const AttentionArgs & a) {
    const auto & [q, k, v, out, probs, B, Nq, Nk, nh, d] = a;
    check_cublas_range("attention", Nq, Nk, nh, d);
    activate();
    const int64_t D = nh * d, PS = Nq * Nk;
    const float scale = 1.0f / std::sqrt((float) d);
    Scratch own(*this, probs ? 0 : (size_t) (B * nh * PS) * sizeof(float));
    float * P = probs ? probs : own.as<float>();
    for (int64_t b = 0; b < B; ++b)
        gemm_rm_batched(false, true, Nq, Nk, d, scale, q + b * Nq * D, D, d, k + b * Nk * D, D, d, 0.0f,
                        P + b * nh * PS, Nk, PS, nh);
    cuda::launch_softmax_rows(P, B * nh * Nq, Nk, stream_);
    for (int64_t b = 0; b < B; ++b)
        gemm_rm_batched(false, false, Nq, d, Nk, 1.0f, P + b * nh * PS, Nk, PS, v + b * Nk * D, D, d, 0.0f,
                        out + b * Nq * D, D, d, nh);
}

void CudaBackend::attention_backward_impl(const AttentionBackwardArgs & a) {
    const auto & [q, k, v, probs, dout, dq, dk, dv, B, Nq, Nk, nh, d] = a;
    check_cublas_range("attention_backward", Nq, Nk, nh, d);
    activate();
    const int64_t D = nh * d, PS = Nq * Nk;
    if (Nq == 0) {
        if (dk) fill(dk, 0.0f, (size_t) (B * Nk * D));
        if (dv) fill(dv, 0.0f, (size_t) (B * Nk * D));
        return;
    }
    SA_CHECK_ARG(q && k && v && probs && dout, "attention_backward: null input");
    const float scale = 1.0f / std::sqrt((float) d);
    if (dv)
        for (int64_t b = 0; b < B; ++b)
            gemm_rm_batched(true, false, Nk, d, Nq, 1.0f, probs + b * nh * PS, Nk, PS, dout + b * Nq * D, D, d, 0.0f,
                            dv + b * Nk * D, D, d, nh);
    if (!dq && !dk) return;
    Scratch dS(*this, (size_t) (B * nh * PS) * sizeof(float));
    for (int64_t b = 0; b < B; ++b)
        gemm_rm_batched(false, true, Nq, Nk, d, 1.0f, dout + b * Nq * D, D, d, v + b * Nk * D, D, d, 0.0f,
                        dS.as<float>() + b * nh * PS, Nk, PS, nh);
    cuda::launch_softmax_backward_rows(probs, dS.as<float>(), B * nh * Nq, Nk, scale, stream_);
    for (int64_t b = 0; b < B; ++b) {
        const float * ds = dS.as<float>() + b * nh * PS;
        if (dq)
            gemm_rm_batched(false, false, Nq, d, Nk, 1.0f, ds, Nk, PS, k + b * Nk * D, D, d, 0.0f, dq + b * Nq * D, D,
                            d, nh);
        if (dk)
            gemm_rm_batched(true, false, Nk, d, Nq, 1.0f, ds, Nk, PS, q + b * Nq * D, D, d, 0.0f, dk + b * Nk * D, D, d,
                            nh);
    }
}

}  // namespace sa
