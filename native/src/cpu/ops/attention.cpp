// SPDX-License-Identifier: Apache-2.0
// Plain multi-head attention (SAM's mask decoder): q [B, Nq, nh*d], k/v [B, Nk, nh*d], head h in columns
// [h*d, (h+1)*d). out = softmax(q k^T / sqrt(d)) v per head; probs [B, nh, Nq, Nk] saved when non-null.
// Backward from the saved probabilities P:
//   dP = dout v^T, dS = P (dP - rowsum(dP P)) / sqrt(d), dq = dS k, dk = dS^T q, dv = P^T dout.
// The forward pass is split over (batch, head, query block); the backward pass over (batch, head) so
// that each task owns its slice of dk/dv and sums over queries in a fixed order (per head, dS is formed
// in a scratch buffer first, so every gradient row is written once).
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "cpu/backend-cpu.h"
#include "cpu/simd.h"
#include "sa/threadpool.h"

namespace sa {

namespace {

constexpr int64_t kQueryBlock = 64;
constexpr int64_t kMaxVecHead = 128;  // head dims up to this accumulate in a local buffer

float * scratch(size_t n) {
    thread_local std::vector<float> buf;
    if (buf.size() < n) buf.resize(n);
    return buf.data();
}

inline float dot(const float * a, const float * b, int64_t d) {
    int64_t c = 0;
    float s = 0.0f;
#ifdef __AVX2__
    if (d >= 8) {
        __m256 acc = _mm256_mul_ps(_mm256_loadu_ps(a), _mm256_loadu_ps(b));
        for (c = 8; c + 8 <= d; c += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + c), _mm256_loadu_ps(b + c), acc);
        s = cpu::hsum256(acc);
    }
#endif
    for (; c < d; ++c) s += a[c] * b[c];
    return s;
}

// y[0:d] += alpha * x[0:d]
inline void axpy(float alpha, const float * x, float * y, int64_t d) {
    int64_t c = 0;
#ifdef __AVX2__
    const __m256 va = _mm256_set1_ps(alpha);
    for (; c + 8 <= d; c += 8) _mm256_storeu_ps(y + c, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + c), _mm256_loadu_ps(y + c)));
#endif
    for (; c < d; ++c) y[c] += alpha * x[c];
}

// p[0:n] = exp(p - mx) / sum, in place.
inline void softmax_row(float * p, int64_t n) {
    float mx = -INFINITY;
    for (int64_t j = 0; j < n; ++j) mx = std::max(mx, p[j]);
    int64_t j = 0;
    float sum = 0.0f;
#ifdef __AVX2__
    const __m256 vm = _mm256_set1_ps(mx);
    __m256 acc = _mm256_setzero_ps();
    for (; j + 8 <= n; j += 8) {
        const __m256 e = cpu::exp256(_mm256_sub_ps(_mm256_loadu_ps(p + j), vm));
        _mm256_storeu_ps(p + j, e);
        acc = _mm256_add_ps(acc, e);
    }
    sum = cpu::hsum256(acc);
#endif
    for (; j < n; ++j) {
        p[j] = std::exp(p[j] - mx);
        sum += p[j];
    }
    const float inv = 1.0f / sum;
    for (j = 0; j < n; ++j) p[j] *= inv;
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
                for (int64_t j = 0; j < Nk; ++j) p[j] = dot(qi, kb + j * D, d) * scale;
                softmax_row(p, Nk);
                float * oi = out + (b * Nq + i) * D + h * d;
                float acc[kMaxVecHead];
                if (d <= kMaxVecHead) {
                    std::fill(acc, acc + d, 0.0f);
                    for (int64_t j = 0; j < Nk; ++j) axpy(p[j], vb + j * D, acc, d);
                    std::copy(acc, acc + d, oi);
                } else {
                    std::fill(oi, oi + d, 0.0f);
                    for (int64_t j = 0; j < Nk; ++j) axpy(p[j], vb + j * D, oi, d);
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
        // dS for the whole head, then every gradient row is written once from register accumulators.
        float * ds = scratch((size_t) (Nq * Nk));
        for (int64_t t = t0; t < t1; ++t) {
            const int64_t b = t / nh, h = t % nh;
            const float * qb = q + b * Nq * D + h * d;
            const float * kb = k + b * Nk * D + h * d;
            const float * vb = v + b * Nk * D + h * d;
            const float * db = dout + b * Nq * D + h * d;
            const float * pb = probs + (b * nh + h) * Nq * Nk;
            for (int64_t i = 0; i < Nq; ++i) {
                const float * p = pb + i * Nk;
                const float * doi = db + i * D;
                float * dsi = ds + i * Nk;
                float rs = 0.0f;
                for (int64_t j = 0; j < Nk; ++j) {
                    dsi[j] = dot(doi, vb + j * D, d);
                    rs += dsi[j] * p[j];
                }
                for (int64_t j = 0; j < Nk; ++j) dsi[j] = p[j] * (dsi[j] - rs) * scale;
            }
            float acc[kMaxVecHead];
            auto reduce_rows = [&](float * dst, const float * coef, int64_t stride_coef, int64_t n, const float * src) {
                // dst[0:d] = sum_r coef[r * stride_coef] * src[r * D]
                float * a = d <= kMaxVecHead ? acc : dst;
                std::fill(a, a + d, 0.0f);
                for (int64_t r = 0; r < n; ++r) axpy(coef[r * stride_coef], src + r * D, a, d);
                if (a != dst) std::copy(a, a + d, dst);
            };
            if (dq)
                for (int64_t i = 0; i < Nq; ++i) reduce_rows(dq + (b * Nq + i) * D + h * d, ds + i * Nk, 1, Nk, kb);
            if (dk)
                for (int64_t j = 0; j < Nk; ++j) reduce_rows(dk + (b * Nk + j) * D + h * d, ds + j, Nk, Nq, qb);
            if (dv)
                for (int64_t j = 0; j < Nk; ++j) reduce_rows(dv + (b * Nk + j) * D + h * d, pb + j, Nk, Nq, db);
        }
    });
}

}  // namespace sa
