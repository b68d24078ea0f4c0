// SPDX-License-Identifier: Apache-2.0
// Base-class versions of the row softmax and the fused mask head (see sa::Backend): compositions of the
// backend's own attention, gelu, gemm and transpose_last2, with temporary buffers where needed.
// Backends without dedicated kernels run these.
//
// Pixel orders of one 4E x 4E mask, as axes from slowest to fastest:
//   sub-pixel rows  (i, j, ki1, kj1, ki2, kj2)     raster  (i, ki1, ki2, j, kj1, kj2)
// Three transposes of adjacent axis groups map one to the other (and three back).
#include <cmath>
#include <string>

#include "core/device-buffers.h"
#include "core/ops/compositions.h"
#include "sa/backend.h"

namespace sa {

namespace {

// k = sqrt(n) I_n and v = I_n: single-head attention of queries x against them has logits
// x k^T / sqrt(n) = x and output P v = P, and its backward turns dout = dy into dq = y (dy - sum(dy y)).
// Device ops only (no host transfer, so the work can be captured in a CUDA graph): I_n is the leading
// n x n block, in flat order, of an n x (n + 1) matrix whose first column is one and the rest zero
// (its ones sit at flat positions r (n + 1), the diagonal of I_n). v needs n (n + 1) floats.
void identity_keys(Backend & be, int64_t n, float * k, float * v, float * row) {
    be.fill(row, 1.0f, 1);
    be.fill(row + 1, 0.0f, (size_t) n);
    be.fill(v, 0.0f, (size_t) (n * (n + 1)));
    be.add_bias(v, row, v, n, n + 1);
    be.scale(v, std::sqrt((float) n), k, n * n);
}

}  // namespace

void Backend::softmax_rows(const float * x, float * y, int64_t rows, int64_t n) {
    SA_CHECK_ARG(rows >= 0 && n > 0, "softmax_rows: bad size");
    if (rows == 0) return;
    SA_CHECK_ARG(x && y && x != y, "softmax_rows: null or aliased pointers");
    TempBuffer k(*this, n * n), v(*this, n * (n + 1)), row(*this, n + 1);
    identity_keys(*this, n, k.get(), v.get(), row.get());
    attention({x, k.get(), v.get(), y, nullptr, 1, rows, n, 1, n});
}

void Backend::softmax_rows_backward(const float * y, const float * dy, float * dx, int64_t rows, int64_t n) {
    SA_CHECK_ARG(rows >= 0 && n > 0, "softmax_rows_backward: bad size");
    if (rows == 0) return;
    SA_CHECK_ARG(y && dy && dx && dx != dy, "softmax_rows_backward: null or aliased pointers");
    TempBuffer k(*this, n * n), v(*this, n * (n + 1)), row(*this, n + 1);
    identity_keys(*this, n, k.get(), v.get(), row.get());
    attention_backward({y, k.get(), v.get(), y, dy, dx, nullptr, nullptr, 1, rows, n, 1, n});
}

void Backend::mask_head_impl(const MaskHeadArgs & a) {
    compose::mask_head(*this, a);
}

void Backend::mask_head_backward_impl(const MaskHeadBackwardArgs & a) {
    compose::mask_head_backward(*this, a);
}

void compose::mask_head(Backend & be, const MaskHeadArgs & args) {
    const auto & [feat, hyper, masks, B, M, E, Cf] = args;
    const int64_t P = 16 * E * E;
    TempBuffer up(be, P * Cf), a(be, M * P), c(be, M * P);
    for (int64_t b = 0; b < B; ++b) {
        be.gelu(feat + b * P * Cf, up.get(), P * Cf);
        be.gemm({false, true, M, P, Cf, 1.0f, {hyper + b * Cf, B * Cf}, {up.get(), Cf}, 0.0f, {a.get(), P}});
        be.transpose_last2(a.get(), c.get(), M * E, E, 16);                   // (i, ki1, kj1, ki2, kj2, j)
        be.transpose_last2(c.get(), a.get(), M * E * 2, 2, 4 * E);            // (i, ki1, ki2, kj2, j, kj1)
        be.transpose_last2(a.get(), masks + b * M * P, M * E * 4, 2, 2 * E);  // (i, ki1, ki2, j, kj1, kj2)
    }
}

void compose::mask_head_backward(Backend & be, const MaskHeadBackwardArgs & args) {
    const auto & [feat, hyper, dmasks, dfeat, dhyper, B, M, E, Cf] = args;
    const int64_t P = 16 * E * E;
    TempBuffer up(be, P * Cf), a(be, M * P), c(be, M * P);
    for (int64_t b = 0; b < B; ++b) {
        const float * fb = feat + b * P * Cf;
        be.transpose_last2(dmasks + b * M * P, a.get(), M * E * 4, 2 * E, 2);  // (i, ki1, ki2, kj2, j, kj1)
        be.transpose_last2(a.get(), c.get(), M * E * 2, 4 * E, 2);             // (i, ki1, kj1, ki2, kj2, j)
        be.transpose_last2(c.get(), a.get(), M * E, 16, E);                    // (i, j, ki1, kj1, ki2, kj2)
        if (dhyper) {
            be.gelu(fb, up.get(), P * Cf);
            be.gemm({false, false, M, Cf, P, 1.0f, {a.get(), P}, {up.get(), Cf}, 0.0f, {dhyper + b * Cf, B * Cf}});
        }
        if (dfeat) {
            be.gemm({true, false, P, Cf, M, 1.0f, {a.get(), P}, {hyper + b * Cf, B * Cf}, 0.0f, {up.get(), Cf}});
            be.gelu_backward(fb, up.get(), dfeat + b * P * Cf, P * Cf);
        }
    }
}

}  // namespace sa
