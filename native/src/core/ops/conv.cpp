// SPDX-License-Identifier: Apache-2.0
// Backend::conv2d, conv2d_backward, depthwise_conv2d_backward, conv_transpose_k2s2 (+ backward): the
// argument checks, then the backend's kernel (nothing to do: no call).
#include <string>

#include "sa/backend.h"

namespace sa {

void Backend::conv2d(const Conv2dArgs & a) {
    SA_CHECK_ARG(a.B >= 0 && a.C > 0 && a.H > 0 && a.Wd > 0 && a.O > 0, "conv2d: bad size");
    SA_CHECK_ARG(a.kh > 0 && a.kw > 0 && a.stride > 0 && a.pad >= 0, "conv2d: bad kernel, stride or padding");
    SA_CHECK_ARG(a.groups > 0 && a.C % a.groups == 0 && a.O % a.groups == 0,
                 "conv2d: groups (" + std::to_string(a.groups) + ") must divide C (" + std::to_string(a.C) +
                     ") and O (" + std::to_string(a.O) + ")");
    SA_CHECK_ARG(a.H + 2 * a.pad >= a.kh && a.Wd + 2 * a.pad >= a.kw, "conv2d: kernel larger than the padded input");
    if (a.B == 0) return;
    SA_CHECK_ARG(a.x && a.W && a.y, "conv2d: null pointer");
    SA_CHECK_ARG(a.x != a.y, "conv2d: y must not alias x");
    conv2d_impl(a);
}

void Backend::conv2d_backward(const Conv2dBackwardArgs & a) {
    SA_CHECK_ARG(
        a.B >= 0 && a.C > 0 && a.H > 0 && a.Wd > 0 && a.O > 0 && a.kh > 0 && a.kw > 0 && a.stride > 0 && a.pad >= 0,
        "conv2d_backward: bad size");
    const int64_t Ho = (a.H + 2 * a.pad - a.kh) / a.stride + 1, Wo = (a.Wd + 2 * a.pad - a.kw) / a.stride + 1;
    SA_CHECK_ARG(Ho > 0 && Wo > 0, "conv2d_backward: kernel larger than the padded input");
    if (a.B == 0) return;
    SA_CHECK_ARG(a.dy && (!a.dW || a.x) && (!a.dx || a.W), "conv2d_backward: null pointer");
    conv2d_backward_impl(a);
}

void Backend::depthwise_conv2d_backward(const DepthwiseConv2dBackwardArgs & a) {
    SA_CHECK_ARG(a.B >= 0 && a.C > 0 && a.H > 0 && a.Wd > 0 && a.k > 0 && a.stride > 0 && a.pad >= 0,
                 "depthwise_conv2d_backward: bad size");
    const int64_t Ho = (a.H + 2 * a.pad - a.k) / a.stride + 1, Wo = (a.Wd + 2 * a.pad - a.k) / a.stride + 1;
    SA_CHECK_ARG(Ho > 0 && Wo > 0, "depthwise_conv2d_backward: kernel larger than the padded input");
    if (a.B == 0) return;
    SA_CHECK_ARG(a.dy && (!a.dW || a.x) && (!a.dx || a.W), "depthwise_conv2d_backward: null pointer");
    SA_CHECK_ARG(a.dx != a.dy && (!a.x || a.dx != a.x), "depthwise_conv2d_backward: dx must not alias x or dy");
    depthwise_conv2d_backward_impl(a);
}

namespace {

// false: an empty problem (nothing to do).
bool check_conv_transpose(const char * op, int64_t B, int64_t C, int64_t H, int64_t Wd, int64_t O) {
    SA_CHECK_ARG(B >= 0 && C > 0 && H >= 0 && Wd >= 0 && O > 0, std::string(op) + ": bad size");
    return B > 0 && H * Wd > 0;
}

}  // namespace

void Backend::conv_transpose_k2s2(const ConvTransposeArgs & a) {
    if (!check_conv_transpose("conv_transpose_k2s2", a.B, a.C, a.H, a.Wd, a.O)) return;
    SA_CHECK_ARG(a.x && a.W && a.y, "conv_transpose_k2s2: null pointer");
    SA_CHECK_ARG(a.x != a.y, "conv_transpose_k2s2: y must not alias x");
    conv_transpose_k2s2_impl(a);
}

void Backend::conv_transpose_k2s2_backward(const ConvTransposeBackwardArgs & a) {
    if (!check_conv_transpose("conv_transpose_k2s2_backward", a.B, a.C, a.H, a.Wd, a.O)) return;
    SA_CHECK_ARG(a.dy != nullptr, "conv_transpose_k2s2_backward: null dy");
    SA_CHECK_ARG(!a.dx || a.W, "conv_transpose_k2s2_backward: dx needs W");
    SA_CHECK_ARG(!a.dW || a.x, "conv_transpose_k2s2_backward: dW needs x");
    conv_transpose_k2s2_backward_impl(a);
}

}  // namespace sa
