// SPDX-License-Identifier: Apache-2.0
// Backend::layernorm, layernorm2d, layernorm_gelu and their backward passes, layernorm_add and
// keys_from_embedding: the argument checks, then the backend's kernel (nothing to do: no call); the base
// layernorm_gelu composes layernorm and gelu, layernorm_add layernorm and add, keys_from_embedding
// transpose_last2, add_bias and add.
#include "core/ops/compositions.h"
#include "sa/backend.h"

namespace sa {

void Backend::layernorm(const LayerNormArgs & a) {
    SA_CHECK_ARG(a.rows >= 0 && a.C > 0, "layernorm: bad size");
    SA_CHECK_ARG(a.eps >= 0.0f, "layernorm: negative eps");
    if (a.rows == 0) return;
    SA_CHECK_ARG(a.x && a.y, "layernorm: null pointer");
    layernorm_impl(a);
}

void Backend::layernorm_backward(const LayerNormBackwardArgs & a) {
    SA_CHECK_ARG(a.rows >= 0 && a.C > 0, "layernorm_backward: bad size");
    if (a.rows == 0) return;
    SA_CHECK_ARG(a.x && a.mean && a.rstd && a.dy, "layernorm_backward: null input");
    SA_CHECK_ARG(a.dx != a.x, "layernorm_backward: dx must not alias x");
    if (!a.dx && !a.dgamma && !a.dbeta) return;
    layernorm_backward_impl(a);
}

void Backend::layernorm_gelu(const LayerNormGeluArgs & a) {
    SA_CHECK_ARG(a.rows >= 0 && a.C > 0, "layernorm_gelu: bad size");
    SA_CHECK_ARG(a.eps >= 0.0f, "layernorm_gelu: negative eps");
    if (a.rows == 0) return;
    SA_CHECK_ARG(a.x && a.g && a.mean && a.rstd && a.y, "layernorm_gelu: null pointer");
    SA_CHECK_ARG(a.g != a.x && a.y != a.x && a.y != a.g, "layernorm_gelu: x, g and y must not alias");
    layernorm_gelu_impl(a);
}

void Backend::layernorm_gelu_backward(const LayerNormGeluBackwardArgs & a) {
    SA_CHECK_ARG(a.rows >= 0 && a.C > 0, "layernorm_gelu_backward: bad size");
    if (a.rows == 0) return;
    SA_CHECK_ARG(a.x && a.mean && a.rstd && a.y && a.dg && a.dy_scratch, "layernorm_gelu_backward: null input");
    SA_CHECK_ARG(a.dx != a.x && a.dx != a.dg && a.dx != a.dy_scratch && a.dy_scratch != a.dg && a.dy_scratch != a.y,
                 "layernorm_gelu_backward: dx, dg, y and dy_scratch must not alias");
    if (!a.dx && !a.dgamma && !a.dbeta) return;
    layernorm_gelu_backward_impl(a);
}

void Backend::layernorm_gelu_impl(const LayerNormGeluArgs & a) {
    compose::layernorm_gelu(*this, a);
}

void Backend::layernorm_gelu_backward_impl(const LayerNormGeluBackwardArgs & a) {
    compose::layernorm_gelu_backward(*this, a);
}

void compose::layernorm_gelu(Backend & be, const LayerNormGeluArgs & a) {
    be.layernorm({a.x, a.gamma, a.beta, a.y, a.mean, a.rstd, a.rows, a.C, a.eps});
    be.gelu(a.y, a.g, a.rows * a.C);
}

void compose::layernorm_gelu_backward(Backend & be, const LayerNormGeluBackwardArgs & a) {
    be.gelu_backward(a.y, a.dg, a.dy_scratch, a.rows * a.C);
    be.layernorm_backward({a.x, a.gamma, a.mean, a.rstd, a.dy_scratch, a.dx, a.dgamma, a.dbeta, a.rows, a.C});
}

void Backend::layernorm_add(const LayerNormAddArgs & a) {
    const LayerNormArgs & ln = a.ln;
    SA_CHECK_ARG(ln.rows >= 0 && ln.C > 0, "layernorm_add: bad size");
    SA_CHECK_ARG(ln.eps >= 0.0f, "layernorm_add: negative eps");
    SA_CHECK_ARG(a.add_rows > 0 && ln.rows % a.add_rows == 0, "layernorm_add: rows must be a multiple of add_rows");
    if (ln.rows == 0) return;
    SA_CHECK_ARG(ln.x && ln.y && a.addend && a.y2, "layernorm_add: null pointer");
    SA_CHECK_ARG(a.y2 != ln.x && a.y2 != ln.y && a.y2 != a.addend, "layernorm_add: y2 must not alias x, y or addend");
    layernorm_add_impl(a);
}

void Backend::keys_from_embedding(const KeysFromEmbeddingArgs & a) {
    SA_CHECK_ARG(a.B >= 0 && a.C > 0 && a.HW > 0 && a.emb_stride >= 0, "keys_from_embedding: bad size");
    if (a.B == 0) return;
    SA_CHECK_ARG(a.emb && a.keys && (!a.keys_pe || a.pe), "keys_from_embedding: null pointer");
    SA_CHECK_ARG(a.keys != a.emb && a.keys_pe != a.emb && a.keys_pe != a.keys,
                 "keys_from_embedding: outputs must not alias the embedding or each other");
    keys_from_embedding_impl(a);
}

void Backend::layernorm_add_impl(const LayerNormAddArgs & a) {
    compose::layernorm_add(*this, a);
}

void Backend::keys_from_embedding_impl(const KeysFromEmbeddingArgs & a) {
    compose::keys_from_embedding(*this, a);
}

void compose::layernorm_add(Backend & be, const LayerNormAddArgs & a) {
    const LayerNormArgs & ln = a.ln;
    be.layernorm(ln);
    const int64_t block = a.add_rows * ln.C;
    for (int64_t r = 0; r < ln.rows; r += a.add_rows) be.add(ln.y + r * ln.C, a.addend, a.y2 + r * ln.C, block);
}

void compose::keys_from_embedding(Backend & be, const KeysFromEmbeddingArgs & a) {
    const int64_t n = a.HW * a.C;
    if (a.emb_stride == n) {
        be.transpose_last2(a.emb, a.keys, a.B, a.C, a.HW);
    } else {
        for (int64_t b = 0; b < a.B; ++b) be.transpose_last2(a.emb + b * a.emb_stride, a.keys + b * n, 1, a.C, a.HW);
    }
    if (a.bias) be.add_bias(a.keys, a.bias, a.keys, a.B * a.HW, a.C);
    if (a.keys_pe)
        for (int64_t b = 0; b < a.B; ++b) be.add(a.keys + b * n, a.pe, a.keys_pe + b * n, n);
}

void Backend::layernorm2d(const LayerNorm2dArgs & a) {
    SA_CHECK_ARG(a.B >= 0 && a.C > 0 && a.HW >= 0, "layernorm2d: bad size");
    SA_CHECK_ARG(a.eps >= 0.0f, "layernorm2d: negative eps");
    if (a.B == 0 || a.HW == 0) return;
    SA_CHECK_ARG(a.x && a.y, "layernorm2d: null pointer");
    layernorm2d_impl(a);
}

void Backend::layernorm2d_backward(const LayerNorm2dBackwardArgs & a) {
    SA_CHECK_ARG(a.B >= 0 && a.C > 0 && a.HW >= 0, "layernorm2d_backward: bad size");
    if (a.B == 0 || a.HW == 0) return;
    SA_CHECK_ARG(a.x && a.mean && a.rstd && a.dy, "layernorm2d_backward: null input");
    SA_CHECK_ARG(a.dx != a.x, "layernorm2d_backward: dx must not alias x");
    if (!a.dx && !a.dgamma && !a.dbeta) return;
    layernorm2d_backward_impl(a);
}

}  // namespace sa
