// SPDX-License-Identifier: Apache-2.0
// Backend::attention, attention_backward and attention_backward_kv_acc (the decoder's attention): the
// argument checks, then the backend's kernel. The base attention_backward_kv_acc_impl runs
// attention_backward_impl into scratch and adds.
#include <string>

#include "core/ops/compositions.h"
#include "sa/backend.h"

namespace sa {

namespace {

void check_sizes(const char * op, int64_t B, int64_t Nq, int64_t Nk, int64_t nh, int64_t d) {
    SA_CHECK_ARG(B >= 0 && Nq >= 0 && Nk > 0 && nh > 0 && d > 0, std::string(op) + ": bad size");
}

}  // namespace

void Backend::attention(const AttentionArgs & a) {
    check_sizes("attention", a.B, a.Nq, a.Nk, a.nh, a.d);
    if (a.B == 0 || a.Nq == 0) return;
    SA_CHECK_ARG(a.q && a.k && a.v && a.out, "attention: null pointer");
    SA_CHECK_ARG(a.out != a.q && a.out != a.k && a.out != a.v, "attention: out must not alias an input");
    attention_impl(a);
}

void Backend::attention_backward(const AttentionBackwardArgs & a) {
    check_sizes("attention_backward", a.B, a.Nq, a.Nk, a.nh, a.d);
    if (a.B == 0) return;
    SA_CHECK_ARG(!a.dk || a.dk != a.dv, "attention_backward: dk and dv must not alias");
    attention_backward_impl(a);
}

void Backend::attention_backward_kv_acc(const AttentionKvAccArgs & a) {
    check_sizes("attention_backward_kv_acc", a.B, a.Nq, a.Nk, a.nh, a.d);
    if (a.B == 0) return;
    SA_CHECK_ARG(a.dkv != nullptr, "attention_backward_kv_acc: null gradient");
    attention_backward_kv_acc_impl(a);
}

void Backend::attention_backward_kv_acc_impl(const AttentionKvAccArgs & a) {
    compose::attention_backward_kv_acc(*this, a);
}

void compose::attention_backward_kv_acc(Backend & be, const AttentionKvAccArgs & a) {
    SA_CHECK_ARG(a.scratch != nullptr, "attention_backward_kv_acc: null scratch buffer");
    const int64_t n = a.B * a.Nk * a.nh * a.d;
    be.attention_backward({a.q, a.k, a.v, a.probs, a.dout, a.dq, a.scratch, a.scratch + n, a.B, a.Nq, a.Nk, a.nh, a.d});
    be.add(a.dkv, a.scratch, a.dkv, n);
    be.add(a.dkv, a.scratch + n, a.dkv, n);
}

}  // namespace sa
