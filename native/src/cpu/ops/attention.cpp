// SPDX-License-Identifier: Apache-2.0
// Plain multi-head attention (SAM's mask decoder): q [B, Nq, nh*d], k/v [B, Nk, nh*d], head h in columns
// [h*d, (h+1)*d). out = softmax(q k^T / sqrt(d)) v per head; probs [B, nh, Nq, Nk] saved when non-null.
// Backward from the saved probabilities P:
//   dP = dout v^T, dS = P (dP - rowsum(dP P)) / sqrt(d), dq = dS k, dk = dS^T q, dv = P^T dout.
// The forward pass is split over (batch, head, query block); the backward pass over (batch, head) so
// that each task owns its slice of dk/dv and sums over queries in a fixed order.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "cpu/backend-cpu.h"
#include "sa/threadpool.h"

namespace sa {

namespace {

constexpr int64_t kQueryBlock = 64;

float * scratch(size_t n) {
    thread_local std::vector<float> buf;
    if (buf.size() < n) buf.resize(n);
    return buf.data();
}

inline float dot(const float * a, const float * b, int64_t d) {
    float s = 0.0f;
    for (int64_t i = 0; i < d; ++i) s += a[i] * b[i];
    return s;
}

void check_args(const char * op, int64_t B, int64_t Nq, int64_t Nk, int64_t nh, int64_t d) {
    SA_CHECK_ARG(B >= 0 && Nq >= 0 && Nk > 0 && nh > 0 && d > 0, std::string(op) + ": bad size");
}

}  // namespace

void CpuBackend::attention(const float * q, const float * k, const float * v, float * out, float * probs, int64_t B,
                           int64_t Nq, int64_t Nk, int64_t nh, int64_t d) {
    check_args("attention", B, Nq, Nk, nh, d);
    if (B == 0 || Nq == 0) return;
    SA_CHECK_ARG(q && k && v && out, "attention: null pointer");
    SA_CHECK_ARG(out != q && out != k && out != v, "attention: out must not alias an input");
    const int64_t D = nh * d;
    const float scale = 1.0f / std::sqrt((float) d);
    const int64_t qblocks = (Nq + kQueryBlock - 1) / kQueryBlock;
    default_pool().parallel_for(B * nh * qblocks, [&](int64_t t0, int64_t t1) {
        float * own = probs ? nullptr : scratch((size_t) Nk);
        for (int64_t t = t0; t < t1; ++t) {
            const int64_t b = t / (nh * qblocks);
            const int64_t h = (t / qblocks) % nh;
            const int64_t i0 = (t % qblocks) * kQueryBlock;
            const int64_t i1 = std::min(Nq, i0 + kQueryBlock);
            const float * kb = k + b * Nk * D + h * d;
            const float * vb = v + b * Nk * D + h * d;
            for (int64_t i = i0; i < i1; ++i) {
                const float * qi = q + (b * Nq + i) * D + h * d;
                float * p = probs ? probs + ((b * nh + h) * Nq + i) * Nk : own;
                float mx = -INFINITY;
                for (int64_t j = 0; j < Nk; ++j) {
                    p[j] = dot(qi, kb + j * D, d) * scale;
                    mx = std::max(mx, p[j]);
                }
                float sum = 0.0f;
                for (int64_t j = 0; j < Nk; ++j) {
                    p[j] = std::exp(p[j] - mx);
                    sum += p[j];
                }
                const float inv = 1.0f / sum;
                for (int64_t j = 0; j < Nk; ++j) p[j] *= inv;
                float * oi = out + (b * Nq + i) * D + h * d;
                std::fill(oi, oi + d, 0.0f);
                for (int64_t j = 0; j < Nk; ++j) {
                    const float pj = p[j];
                    const float * vj = vb + j * D;
                    for (int64_t c = 0; c < d; ++c) oi[c] += pj * vj[c];
                }
            }
        }
    });
}

void CpuBackend::attention_backward(const float * q, const float * k, const float * v, const float * probs,
                                    const float * dout, float * dq, float * dk, float * dv, int64_t B, int64_t Nq,
                                    int64_t Nk, int64_t nh, int64_t d) {
    check_args("attention_backward", B, Nq, Nk, nh, d);
    if (B == 0) return;
    const int64_t D = nh * d;
    if (Nq == 0) {
        if (dk) fill(dk, 0.0f, (size_t) (B * Nk * D));
        if (dv) fill(dv, 0.0f, (size_t) (B * Nk * D));
        return;
    }
    SA_CHECK_ARG(q && k && v && probs && dout, "attention_backward: null input");
    const float scale = 1.0f / std::sqrt((float) d);
    default_pool().parallel_for(B * nh, [&](int64_t t0, int64_t t1) {
        float * ds = scratch((size_t) Nk);
        for (int64_t t = t0; t < t1; ++t) {
            const int64_t b = t / nh, h = t % nh;
            const float * kb = k + b * Nk * D + h * d;
            const float * vb = v + b * Nk * D + h * d;
            float * dkb = dk ? dk + b * Nk * D + h * d : nullptr;
            float * dvb = dv ? dv + b * Nk * D + h * d : nullptr;
            for (int64_t j = 0; j < Nk; ++j) {
                if (dkb) std::fill(dkb + j * D, dkb + j * D + d, 0.0f);
                if (dvb) std::fill(dvb + j * D, dvb + j * D + d, 0.0f);
            }
            for (int64_t i = 0; i < Nq; ++i) {
                const float * p = probs + ((b * nh + h) * Nq + i) * Nk;
                const float * doi = dout + (b * Nq + i) * D + h * d;
                const float * qi = q + (b * Nq + i) * D + h * d;
                float rs = 0.0f;
                for (int64_t j = 0; j < Nk; ++j) {
                    ds[j] = dot(doi, vb + j * D, d);
                    rs += ds[j] * p[j];
                }
                for (int64_t j = 0; j < Nk; ++j) ds[j] = p[j] * (ds[j] - rs) * scale;
                if (dq) {
                    float * dqi = dq + (b * Nq + i) * D + h * d;
                    std::fill(dqi, dqi + d, 0.0f);
                    for (int64_t j = 0; j < Nk; ++j) {
                        const float * kj = kb + j * D;
                        for (int64_t c = 0; c < d; ++c) dqi[c] += ds[j] * kj[c];
                    }
                }
                if (dkb)
                    for (int64_t j = 0; j < Nk; ++j) {
                        float * dkj = dkb + j * D;
                        for (int64_t c = 0; c < d; ++c) dkj[c] += ds[j] * qi[c];
                    }
                if (dvb)
                    for (int64_t j = 0; j < Nk; ++j) {
                        float * dvj = dvb + j * D;
                        for (int64_t c = 0; c < d; ++c) dvj[c] += p[j] * doi[c];
                    }
            }
        }
    });
}

}  // namespace sa
