// SPDX-License-Identifier: Apache-2.0
// ConvTranspose2d with kernel == stride == 2 (SAM's output upscaling), W [C, O, 2, 2] (PyTorch layout).
// Every output pixel receives exactly one input pixel, so per image
//   Z[O*4, HW] = W^T[O*4, C] X[C, HW],   y[o, 2i+ki, 2j+kj] = Z[o*4 + ki*2 + kj, i*W + j] + b[o]
// and the backward pass is GEMMs on the de-interleaved gradient dZ:
//   dX[C, HW] = W[C, O*4] dZ (overwrite),  dW[C, O*4] += X dZ^T,  db[o] += sum dy[o].
#include <string>

#include "cuda/backend-cuda.cuh"
#include "cuda/common.cuh"
#include "cuda/conv-transpose.cuh"
#include "cuda/reduce.cuh"

namespace sa {

namespace cuda {

static __global__ void k2s2_interleave_kernel(const float * __restrict__ z, const float * __restrict__ bias,
                                              float * __restrict__ y, int64_t O, int64_t H, int64_t W, int64_t n) {
    const int64_t W2 = 2 * W, H2 = 2 * H, HW = H * W;
    for (int64_t i = blockIdx.x * (int64_t) blockDim.x + threadIdx.x; i < n; i += (int64_t) gridDim.x * blockDim.x) {
        const int64_t x2 = i % W2;
        int64_t t = i / W2;
        const int64_t y2 = t % H2;
        t /= H2;
        const int64_t o = t % O, b = t / O;
        const int64_t ki = y2 & 1, kj = x2 & 1;
        const float v = z[(b * O * 4 + o * 4 + ki * 2 + kj) * HW + (y2 >> 1) * W + (x2 >> 1)];
        y[i] = bias ? v + bias[o] : v;
    }
}

static __global__ void k2s2_deinterleave_kernel(const float * __restrict__ dy, float * __restrict__ dz, int64_t O,
                                                int64_t H, int64_t W, int64_t n) {
    const int64_t W2 = 2 * W, H2 = 2 * H, HW = H * W;
    for (int64_t i = blockIdx.x * (int64_t) blockDim.x + threadIdx.x; i < n; i += (int64_t) gridDim.x * blockDim.x) {
        const int64_t x2 = i % W2;
        int64_t t = i / W2;
        const int64_t y2 = t % H2;
        t /= H2;
        const int64_t o = t % O, b = t / O;
        const int64_t ki = y2 & 1, kj = x2 & 1;
        dz[(b * O * 4 + o * 4 + ki * 2 + kj) * HW + (y2 >> 1) * W + (x2 >> 1)] = dy[i];
    }
}

void launch_k2s2_interleave(const float * z, const float * bias, float * y, int64_t B, int64_t O, int64_t H, int64_t W,
                            cudaStream_t stream) {
    const int64_t n = B * O * 4 * H * W;
    if (n <= 0) return;
    k2s2_interleave_kernel<<<grid_for(n), kThreads, 0, stream>>>(z, bias, y, O, H, W, n);
    SA_CUDA_LAUNCH_CHECK();
}

void launch_k2s2_deinterleave(const float * dy, float * dz, int64_t B, int64_t O, int64_t H, int64_t W,
                              cudaStream_t stream) {
    const int64_t n = B * O * 4 * H * W;
    if (n <= 0) return;
    k2s2_deinterleave_kernel<<<grid_for(n), kThreads, 0, stream>>>(dy, dz, O, H, W, n);
    SA_CUDA_LAUNCH_CHECK();
}

}  // namespace cuda

namespace {
void check_cublas_range(const char * op, int64_t B, int64_t H, int64_t Wd, int64_t O) {
    SA_CHECK_ARG(H * Wd <= INT32_MAX && O * 4 <= INT32_MAX && B <= INT32_MAX,
                 std::string(op) + ": size exceeds the range of cuBLAS");
}

struct ChannelValue {
    const float * dy;
    int64_t O, P;
    __device__ float2 operator()(int64_t b, int64_t o, int64_t p) const {
        return make_float2(dy[(b * O + o) * P + p], 0.0f);
    }
};
}  // namespace

void CudaBackend::conv_transpose_k2s2_impl(const ConvTransposeArgs & a) {
    const auto & [x, W, b, y, B, C, H, Wd, O] = a;
    check_cublas_range("conv_transpose_k2s2", B, H, Wd, O);
    const int64_t HW = H * Wd;
    activate();
    Scratch z(*this, (size_t) (B * O * 4 * HW) * sizeof(float));
    gemm_rm_batched(true, false, O * 4, HW, C, 1.0f, W, O * 4, 0, x, HW, C * HW, 0.0f, z.as<float>(), HW, O * 4 * HW,
                    B);
    cuda::launch_k2s2_interleave(z.as<float>(), b, y, B, O, H, Wd, stream_);
}

void CudaBackend::conv_transpose_k2s2_backward_impl(const ConvTransposeBackwardArgs & a) {
    const auto & [x, W, dy, dx, dW, db, B, C, H, Wd, O] = a;
    check_cublas_range("conv_transpose_k2s2_backward", B, H, Wd, O);
    const int64_t HW = H * Wd;
    activate();
    if (db) cuda::launch_channel_reduce(*this, ChannelValue{dy, O, 4 * HW}, B, O, 4 * HW, db, nullptr, true);
    if (!dx && !dW) return;
    Scratch dz(*this, (size_t) (B * O * 4 * HW) * sizeof(float));
    cuda::launch_k2s2_deinterleave(dy, dz.as<float>(), B, O, H, Wd, stream_);
    if (dx)
        gemm_rm_batched(false, false, C, HW, O * 4, 1.0f, W, O * 4, 0, dz.as<float>(), HW, O * 4 * HW, 0.0f, dx, HW,
                        C * HW, B);
    if (dW)
        for (int64_t n = 0; n < B; ++n)
            gemm_rm(false, true, C, O * 4, HW, 1.0f, x + n * C * HW, HW, dz.as<float>() + n * O * 4 * HW, HW, 1.0f, dW,
                    O * 4);
}

}  // namespace sa
