// SPDX-License-Identifier: Apache-2.0
// Backend::tinyvit_mbconv / tinyvit_patch_embed / tinyvit_mlp / tinyvit_merge / depthwise3x3_nhwc: the argument
// checks (once, for every backend), then the backend's kernel. The base-class kernels compose the
// backend's own ops with temporary buffers; backends with fused kernels override them.
#include <string>

#include "core/device-buffers.h"
#include "core/ops/compositions.h"
#include "sa/backend.h"

namespace sa {

void Backend::tinyvit_mbconv(const TinyVitMbconvArgs & a) {
    SA_CHECK_ARG(a.B >= 0 && a.C > 0 && a.H > 0 && a.W > 0 && a.hidden > 0, "tinyvit_mbconv: bad size");
    if (a.B == 0) return;
    SA_CHECK_ARG(a.x && a.w1 && a.b1 && a.w2 && a.b2 && a.w3 && a.b3 && a.y, "tinyvit_mbconv: null pointer");
    SA_CHECK_ARG(a.x != a.y, "tinyvit_mbconv: y must not alias x");
    tinyvit_mbconv_impl(a);
}

void Backend::tinyvit_patch_embed(const TinyVitPatchEmbedArgs & a) {
    SA_CHECK_ARG(a.B >= 0 && a.Cin > 0 && a.H > 0 && a.W > 0 && a.C0 > 0 && a.C1 > 0, "tinyvit_patch_embed: bad size");
    if (a.B == 0) return;
    SA_CHECK_ARG(a.x && a.w0 && a.b0 && a.w1 && a.b1 && a.y, "tinyvit_patch_embed: null pointer");
    SA_CHECK_ARG(a.x != a.y, "tinyvit_patch_embed: y must not alias x");
    tinyvit_patch_embed_impl(a);
}

void Backend::tinyvit_mlp(const TinyVitMlpArgs & a) {
    SA_CHECK_ARG(a.M >= 0 && a.C > 0 && a.hidden > 0, "tinyvit_mlp: bad size");
    SA_CHECK_ARG(a.eps >= 0.0f, "tinyvit_mlp: negative eps");
    if (a.M == 0) return;
    SA_CHECK_ARG(a.x && a.gamma && a.beta && a.w1 && a.b1 && a.w2 && a.b2, "tinyvit_mlp: null pointer");
    tinyvit_mlp_impl(a);
}

void Backend::tinyvit_merge(const TinyVitMergeArgs & a) {
    SA_CHECK_ARG(a.B >= 0 && a.H > 0 && a.W > 0 && a.C > 0 && a.O > 0, "tinyvit_merge: bad size");
    SA_CHECK_ARG(a.stride == 1 || a.stride == 2,
                 "tinyvit_merge: stride must be 1 or 2, got " + std::to_string(a.stride));
    if (a.B == 0) return;
    SA_CHECK_ARG(a.x && a.w1 && a.b1 && a.w2 && a.b2 && a.w3 && a.b3 && a.y, "tinyvit_merge: null pointer");
    SA_CHECK_ARG(a.x != a.y, "tinyvit_merge: y must not alias x");
    tinyvit_merge_impl(a);
}

void Backend::depthwise3x3_nhwc(const Depthwise3x3NhwcArgs & a) {
    SA_CHECK_ARG(a.B >= 0 && a.H > 0 && a.W > 0 && a.C > 0, "depthwise3x3_nhwc: bad size");
    if (a.B == 0) return;
    SA_CHECK_ARG(a.x && a.w && a.y, "depthwise3x3_nhwc: null pointer");
    SA_CHECK_ARG(a.x != a.y, "depthwise3x3_nhwc: y must not alias x");
    depthwise3x3_nhwc_impl(a);
}

void Backend::tinyvit_mbconv_impl(const TinyVitMbconvArgs & a) {
    compose::tinyvit_mbconv(*this, a);
}

void compose::tinyvit_mbconv(Backend & be, const TinyVitMbconvArgs & a) {
    const auto & [x, w1, b1, w2, b2, w3, b3, y, B, C, H, W, hidden] = a;
    const int64_t n = B * hidden * H * W;
    TempBuffer t1(be, n), t2(be, n);
    be.conv2d({x, w1, b1, t1.get(), B, C, H, W, hidden, 1, 1, 1, 0, 1});
    be.gelu(t1.get(), t1.get(), n);
    be.conv2d({t1.get(), w2, b2, t2.get(), B, hidden, H, W, hidden, 3, 3, 1, 1, hidden});
    be.gelu(t2.get(), t2.get(), n);
    be.conv2d({t2.get(), w3, b3, y, B, hidden, H, W, C, 1, 1, 1, 0, 1});
    be.add(x, y, y, B * C * H * W);
    be.gelu(y, y, B * C * H * W);
}

void Backend::tinyvit_patch_embed_impl(const TinyVitPatchEmbedArgs & a) {
    compose::tinyvit_patch_embed(*this, a);
}

void compose::tinyvit_patch_embed(Backend & be, const TinyVitPatchEmbedArgs & a) {
    const auto & [x, w0, b0, w1, b1, y, B, Cin, H, W, C0, C1] = a;
    const int64_t H1 = (H + 1) / 2, W1 = (W + 1) / 2;
    TempBuffer t(be, B * C0 * H1 * W1);
    be.conv2d({x, w0, b0, t.get(), B, Cin, H, W, C0, 3, 3, 2, 1, 1});
    be.gelu(t.get(), t.get(), B * C0 * H1 * W1);
    be.conv2d({t.get(), w1, b1, y, B, C0, H1, W1, C1, 3, 3, 2, 1, 1});
}

void Backend::tinyvit_merge_impl(const TinyVitMergeArgs & a) {
    compose::tinyvit_merge(*this, a);
}

void compose::tinyvit_merge(Backend & be, const TinyVitMergeArgs & a) {
    const auto & [x, w1, b1, w2, b2, w3, b3, y, B, H, W, C, O, stride] = a;
    const int64_t H2 = (H - 1) / stride + 1, W2 = (W - 1) / stride + 1, n1 = B * H * W * O, n2 = B * H2 * W2 * O;
    TempBuffer t1(be, n1), t2(be, n2);
    be.linear_prepared(x, w1, b1, t1.get(), B * H * W, C, O);
    be.gelu(t1.get(), t1.get(), n1);
    if (stride == 1) {
        be.depthwise3x3_nhwc({t1.get(), w2, b2, t2.get(), B, H, W, O});
    } else {
        TempBuffer c1(be, n1), c2(be, n2);
        be.transpose_last2(t1.get(), c1.get(), B, H * W, O);
        be.conv2d({c1.get(), w2, b2, c2.get(), B, O, H, W, O, 3, 3, stride, 1, O});
        be.transpose_last2(c2.get(), t2.get(), B, O, H2 * W2);
    }
    be.gelu(t2.get(), t2.get(), n2);
    be.linear_prepared(t2.get(), w3, b3, y, B * H2 * W2, O, O);
}

void Backend::tinyvit_mlp_impl(const TinyVitMlpArgs & a) {
    compose::tinyvit_mlp(*this, a);
}

void compose::tinyvit_mlp(Backend & be, const TinyVitMlpArgs & a) {
    const auto & [x, gamma, beta, eps, w1, b1, w2, b2, M, C, hidden] = a;
    TempBuffer t(be, M * C), h(be, M * hidden);
    be.layernorm({x, gamma, beta, t.get(), nullptr, nullptr, M, C, eps});
    be.linear_prepared(t.get(), w1, b1, h.get(), M, C, hidden);
    be.gelu(h.get(), h.get(), M * hidden);
    be.linear_prepared(h.get(), w2, b2, t.get(), M, hidden, C);
    be.add(x, t.get(), x, M * C);
}

void Backend::depthwise3x3_nhwc_impl(const Depthwise3x3NhwcArgs & a) {
    compose::depthwise3x3_nhwc(*this, a);
}

void compose::depthwise3x3_nhwc(Backend & be, const Depthwise3x3NhwcArgs & a) {
    const auto & [x, w, b, y, B, H, W, C] = a;
    const int64_t n = B * H * W * C;
    TempBuffer t1(be, n), t2(be, n);
    be.transpose_last2(x, t1.get(), B, H * W, C);
    be.conv2d({t1.get(), w, b, t2.get(), B, C, H, W, C, 3, 3, 1, 1, C});
    be.transpose_last2(t2.get(), y, B, C, H * W);
}

}  // namespace sa
