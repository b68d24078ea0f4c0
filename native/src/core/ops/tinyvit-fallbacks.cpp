// SPDX-License-Identifier: Apache-2.0
// Base-class versions of the TinyViT fused blocks and the channels-last depthwise convolution (see
// sa::Backend): composed of the backend's own ops, with temporary buffers. Backends without a
// dedicated kernel run these.
#include <string>

#include "core/device-buffers.h"
#include "sa/backend.h"

namespace sa {

void Backend::tinyvit_mbconv(const float * x, const float * w1, const float * b1, const float * w2, const float * b2,
                             const float * w3, const float * b3, float * y, int64_t B, int64_t C, int64_t H, int64_t W,
                             int64_t hidden) {
    SA_CHECK_ARG(B > 0 && C > 0 && H > 0 && W > 0 && hidden > 0, "tinyvit_mbconv: bad size");
    SA_CHECK_ARG(x != y, "tinyvit_mbconv: y must not alias x");
    const int64_t n = B * hidden * H * W;
    TempBuffer t1(*this, n), t2(*this, n);
    conv2d({x, w1, b1, t1.get(), B, C, H, W, hidden, 1, 1, 1, 0, 1});
    gelu(t1.get(), t1.get(), n);
    conv2d({t1.get(), w2, b2, t2.get(), B, hidden, H, W, hidden, 3, 3, 1, 1, hidden});
    gelu(t2.get(), t2.get(), n);
    conv2d({t2.get(), w3, b3, y, B, hidden, H, W, C, 1, 1, 1, 0, 1});
    add(x, y, y, B * C * H * W);
    gelu(y, y, B * C * H * W);
}

void Backend::tinyvit_patch_embed(const float * x, const float * w0, const float * b0, const float * w1,
                                  const float * b1, float * y, int64_t B, int64_t Cin, int64_t H, int64_t W, int64_t C0,
                                  int64_t C1) {
    SA_CHECK_ARG(B > 0 && Cin > 0 && H > 0 && W > 0 && C0 > 0 && C1 > 0, "tinyvit_patch_embed: bad size");
    const int64_t H1 = (H + 1) / 2, W1 = (W + 1) / 2;
    TempBuffer t(*this, B * C0 * H1 * W1);
    conv2d({x, w0, b0, t.get(), B, Cin, H, W, C0, 3, 3, 2, 1, 1});
    gelu(t.get(), t.get(), B * C0 * H1 * W1);
    conv2d({t.get(), w1, b1, y, B, C0, H1, W1, C1, 3, 3, 2, 1, 1});
}

void Backend::tinyvit_mlp(float * x, const float * gamma, const float * beta, float eps, const float * w1,
                          const float * b1, const float * w2, const float * b2, int64_t M, int64_t C, int64_t hidden) {
    SA_CHECK_ARG(M >= 0 && C > 0 && hidden > 0, "tinyvit_mlp: bad size");
    if (M == 0) return;
    TempBuffer t(*this, M * C), h(*this, M * hidden);
    layernorm({x, gamma, beta, t.get(), nullptr, nullptr, M, C, eps});
    linear_prepared(t.get(), w1, b1, h.get(), M, C, hidden);
    gelu(h.get(), h.get(), M * hidden);
    linear_prepared(h.get(), w2, b2, t.get(), M, hidden, C);
    add(x, t.get(), x, M * C);
}

void Backend::depthwise3x3_nhwc(const float * x, const float * w, const float * b, float * y, int64_t B, int64_t H,
                                int64_t W, int64_t C) {
    SA_CHECK_ARG(B > 0 && H > 0 && W > 0 && C > 0, "depthwise3x3_nhwc: bad size");
    SA_CHECK_ARG(x != y, "depthwise3x3_nhwc: y must not alias x");
    const int64_t n = B * H * W * C;
    TempBuffer t1(*this, n), t2(*this, n);
    transpose_last2(x, t1.get(), B, H * W, C);
    conv2d({t1.get(), w, b, t2.get(), B, C, H, W, C, 3, 3, 1, 1, C});
    transpose_last2(t2.get(), y, B, C, H * W);
}

}  // namespace sa
