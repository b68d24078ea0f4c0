// SPDX-License-Identifier: Apache-2.0
// NCHW 2-D convolution on the CUDA backend: im2col + cuBLAS for dense / grouped convolutions, a
// direct kernel for depthwise ones.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace sa {
namespace cuda {

struct ConvShape {
    int64_t B, C, H, W, O, kh, kw, stride, pad, groups, Ho, Wo;
};

// col[n][(c*kh + i)*kw + j][oy*Wo + ox] = x[b0 + n][g*Cg + c][oy*s + i - pad][ox*s + j - pad] (0 outside)
// for images b0 .. b0 + nb - 1 of group g.
void launch_im2col(const float * x, float * col, const ConvShape & s, int64_t b0, int64_t nb, int64_t g,
                   cudaStream_t stream);
// Depthwise convolution (groups == C): output channel o reads input channel o / (O / C); bias nullable.
void launch_depthwise_conv2d(const float * x, const float * W, const float * bias, float * y, const ConvShape & s,
                             cudaStream_t stream);

}  // namespace cuda
}  // namespace sa
