// SPDX-License-Identifier: Apache-2.0
// NCHW 2-D convolution with zero padding, stride and groups. Depthwise convolutions (groups == C) run a
// direct kernel (one thread per output pixel); everything else is im2col (skipped for 1x1 / stride 1 /
// no padding) followed by strided-batched GEMMs over a chunk of images per group:
//   Y[b, g] [O/g, Ho*Wo] = W_g [O/g, C/g*kh*kw] * col[b] [C/g*kh*kw, Ho*Wo]  (+ bias broadcast first).
#include <algorithm>
#include <string>

#include "cuda/backend-cuda.cuh"
#include "cuda/common.cuh"
#include "cuda/conv2d.cuh"
#include "cuda/elementwise.cuh"

namespace sa {

namespace cuda {

namespace {
constexpr int64_t kMaxColFloats = int64_t(64) << 20;  // im2col scratch per chunk of images (256 MiB)
}

static __global__ void im2col_kernel(const float * __restrict__ x, float * __restrict__ col, ConvShape s, int64_t b0,
                                     int64_t g, int64_t n) {
    const int64_t Cg = s.C / s.groups, HWo = s.Ho * s.Wo, rows = Cg * s.kh * s.kw;
    for (int64_t i = blockIdx.x * (int64_t) blockDim.x + threadIdx.x; i < n; i += (int64_t) gridDim.x * blockDim.x) {
        const int64_t p = i % HWo;
        int64_t t = i / HWo;
        const int64_t r = t % rows;
        const int64_t img = t / rows;
        const int64_t c = r / (s.kh * s.kw), ij = r - c * (s.kh * s.kw), ki = ij / s.kw, kj = ij - ki * s.kw;
        const int64_t oy = p / s.Wo, ox = p - oy * s.Wo;
        const int64_t iy = oy * s.stride + ki - s.pad, ix = ox * s.stride + kj - s.pad;
        float v = 0.0f;
        if (iy >= 0 && iy < s.H && ix >= 0 && ix < s.W) v = x[(((b0 + img) * s.C + g * Cg + c) * s.H + iy) * s.W + ix];
        col[i] = v;
    }
}

static __global__ void depthwise_conv2d_kernel(const float * __restrict__ x, const float * __restrict__ Wt,
                                               const float * __restrict__ bias, float * __restrict__ y, ConvShape s,
                                               int64_t n) {
    const int64_t mult = s.O / s.C, HWo = s.Ho * s.Wo;
    for (int64_t i = blockIdx.x * (int64_t) blockDim.x + threadIdx.x; i < n; i += (int64_t) gridDim.x * blockDim.x) {
        const int64_t p = i % HWo;
        const int64_t bo = i / HWo;
        const int64_t o = bo % s.O, b = bo / s.O, c = o / mult;
        const int64_t oy = p / s.Wo, ox = p - oy * s.Wo;
        const float * xc = x + (b * s.C + c) * s.H * s.W;
        const float * wo = Wt + o * s.kh * s.kw;
        float acc = bias ? bias[o] : 0.0f;
        for (int64_t ki = 0; ki < s.kh; ++ki) {
            const int64_t iy = oy * s.stride + ki - s.pad;
            if (iy < 0 || iy >= s.H) continue;
            for (int64_t kj = 0; kj < s.kw; ++kj) {
                const int64_t ix = ox * s.stride + kj - s.pad;
                if (ix < 0 || ix >= s.W) continue;
                acc += wo[ki * s.kw + kj] * xc[iy * s.W + ix];
            }
        }
        y[i] = acc;
    }
}

void launch_im2col(const float * x, float * col, const ConvShape & s, int64_t b0, int64_t nb, int64_t g,
                   cudaStream_t stream) {
    const int64_t n = nb * (s.C / s.groups) * s.kh * s.kw * s.Ho * s.Wo;
    if (n <= 0) return;
    im2col_kernel<<<grid_for(n), kThreads, 0, stream>>>(x, col, s, b0, g, n);
    SA_CUDA_LAUNCH_CHECK();
}

void launch_depthwise_conv2d(const float * x, const float * W, const float * bias, float * y, const ConvShape & s,
                             cudaStream_t stream) {
    const int64_t n = s.B * s.O * s.Ho * s.Wo;
    if (n <= 0) return;
    depthwise_conv2d_kernel<<<grid_for(n), kThreads, 0, stream>>>(x, W, bias, y, s, n);
    SA_CUDA_LAUNCH_CHECK();
}

}  // namespace cuda

void CudaBackend::conv2d_impl(const Conv2dArgs & a) {
    const auto & [x, W, b, y, B, C, H, Wd, O, kh, kw, stride, pad, groups] = a;
    activate();
    const cuda::ConvShape s{
        B, C, H, Wd, O, kh, kw, stride, pad, groups, (H + 2 * pad - kh) / stride + 1, (Wd + 2 * pad - kw) / stride + 1};
    if (groups == C && groups > 1) {
        cuda::launch_depthwise_conv2d(x, W, b, y, s, stream_);
        return;
    }
    const int64_t Cg = C / groups, Og = O / groups, HWo = s.Ho * s.Wo, Kg = Cg * kh * kw;
    SA_CHECK_ARG(HWo <= INT32_MAX && Kg <= INT32_MAX && Og <= INT32_MAX, "conv2d: size exceeds the range of cuBLAS");
    if (b) cuda::launch_broadcast_cols(y, b, B, O, HWo, stream_);
    const float beta = b ? 1.0f : 0.0f;
    const bool direct = kh == 1 && kw == 1 && stride == 1 && pad == 0;
    if (direct) {
        for (int64_t g = 0; g < groups; ++g)
            gemm_rm_batched(false, false, Og, HWo, Kg, 1.0f, W + g * Og * Kg, Kg, 0, x + g * Cg * H * Wd, HWo,
                            C * H * Wd, beta, y + g * Og * HWo, HWo, O * HWo, B);
        return;
    }
    const int64_t per_image = Kg * HWo;
    const int64_t chunk =
        std::max<int64_t>(1, std::min<int64_t>(B, cuda::kMaxColFloats / std::max<int64_t>(per_image, 1)));
    Scratch col(*this, (size_t) (chunk * per_image) * sizeof(float));
    for (int64_t b0 = 0; b0 < B; b0 += chunk) {
        const int64_t nb = std::min(chunk, B - b0);
        for (int64_t g = 0; g < groups; ++g) {
            cuda::launch_im2col(x, col.as<float>(), s, b0, nb, g, stream_);
            gemm_rm_batched(false, false, Og, HWo, Kg, 1.0f, W + g * Og * Kg, Kg, 0, col.as<float>(), HWo, per_image,
                            beta, y + b0 * O * HWo + g * Og * HWo, HWo, O * HWo, nb);
        }
    }
}

}  // namespace sa
