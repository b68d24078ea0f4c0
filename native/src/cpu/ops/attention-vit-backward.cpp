// SPDX-License-Identifier: Apache-2.0
// Backward pass of SAM ViT attention with decomposed relative positions (CpuBackend::attention_vit).
// Forward, per head:  S = scale q k^T + relh + relw,  P = softmax(S),  out = P v, with
//   relh[(qh,qw), (kh,kw)] = q[(qh,qw)] . Rh[qh - kh + H - 1]   (likewise relw with Rw[qw - kw + W - 1]).
// Backward from dout, per block of query rows (the probabilities are recomputed, never stored whole):
//   dP = dout v^T,  dS = P (dP - rowsum(P dP)),
//   dq = scale dS k + dRelH Rh + dRelW Rw,  dk += scale dS^T q,  dv += P^T dout,
//   dRh[qh - kh + H - 1] += dRelH[q, kh] q with dRelH[q, kh] = sum_kw dS[q, (kh, kw)] (likewise w).
// Tasks are (batch, head) pairs; each keeps its own table gradients, summed in pair order at the end,
// so the result does not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "cpu/backend-cpu.h"
#include "cpu/simd.h"
#include "sa/gemm.h"
#include "sa/threadpool.h"

namespace sa {

namespace {

// Query rows per block: the block's scores and their gradients stay within about 2 x 256K floats
// (64 rows of a 64 x 64 global grid), so the key/value gradient products see a useful depth.
int64_t backward_rows_per_block(int64_t N) {
    constexpr int64_t kBudget = 1 << 18;
    if (N * N <= kBudget) return N;
    return std::max<int64_t>(8, kBudget / N);
}

// Row softmax in place.
void softmax_row(float * s, int64_t n) {
    int64_t i = 0;
    float mx = -INFINITY, sum = 0.0f;
#ifdef __AVX2__
    __m256 vmx = _mm256_set1_ps(-INFINITY);
    for (; i + 8 <= n; i += 8) vmx = _mm256_max_ps(vmx, _mm256_loadu_ps(s + i));
    mx = cpu::hmax256(vmx);
#endif
    for (; i < n; ++i) mx = std::max(mx, s[i]);
    i = 0;
#ifdef __AVX2__
    const __m256 vm = _mm256_set1_ps(mx);
    __m256 vsum = _mm256_setzero_ps();
    for (; i + 8 <= n; i += 8) {
        const __m256 e = cpu::exp256(_mm256_sub_ps(_mm256_loadu_ps(s + i), vm));
        _mm256_storeu_ps(s + i, e);
        vsum = _mm256_add_ps(vsum, e);
    }
    sum = cpu::hsum256(vsum);
#endif
    for (; i < n; ++i) {
        s[i] = std::exp(s[i] - mx);
        sum += s[i];
    }
    const float inv = 1.0f / sum;
    for (i = 0; i < n; ++i) s[i] *= inv;
}

// d = p (d - sum(p d)) in place.
void softmax_row_backward(const float * p, float * d, int64_t n) {
    int64_t i = 0;
    float dot = 0.0f;
#ifdef __AVX2__
    __m256 acc = _mm256_setzero_ps();
    for (; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(p + i), _mm256_loadu_ps(d + i), acc);
    dot = cpu::hsum256(acc);
#endif
    for (; i < n; ++i) dot += p[i] * d[i];
    for (i = 0; i < n; ++i) d[i] = p[i] * (d[i] - dot);
}

}  // namespace

void CpuBackend::attention_vit_backward_impl(const AttentionVitBackwardArgs & a) {
    const auto & [qkv, dout, dqkv, B, H, W, nh, hd, rel_pos_h, rel_len_h, rel_pos_w, rel_len_w, drel_pos_h,
                  drel_pos_w] = a;
    const bool use_rel = rel_pos_h != nullptr;
    const int64_t N = H * W, C = nh * hd, ld = 3 * C;
    const float scale = 1.0f / std::sqrt((float) hd);
    const int64_t Lh = 2 * H - 1, Lw = 2 * W - 1;
    const int64_t pairs = B * nh;
    const int64_t rb = backward_rows_per_block(N);
    // Per pair table gradients (reduced in pair order below).
    std::vector<float> tab_grads(use_rel && (drel_pos_h || drel_pos_w) ? (size_t) (pairs * (Lh + Lw) * hd) : 0);

    pool()->parallel_for(pairs, [&](int64_t t0, int64_t t1) {
        std::vector<float> S((size_t) (rb * N)), dP((size_t) (rb * N)), dq((size_t) (rb * hd));
        std::vector<float> ph, pw, dph, dpw;
        if (use_rel) {
            ph.resize((size_t) (rb * Lh));
            pw.resize((size_t) (rb * Lw));
            dph.resize((size_t) (rb * Lh));
            dpw.resize((size_t) (rb * Lw));
        }
        for (int64_t t = t0; t < t1; ++t) {
            const int64_t b = t / nh, h = t % nh;
            const float * q = qkv + b * N * ld + h * hd;
            const float * k = q + C;
            const float * v = q + 2 * C;
            const float * go = dout + b * N * C + h * hd;
            float * dqh = dqkv + b * N * ld + h * hd;
            float * dkh = dqh + C;
            float * dvh = dqh + 2 * C;
            for (int64_t n = 0; n < N; ++n) {
                std::fill(dkh + n * ld, dkh + n * ld + hd, 0.0f);
                std::fill(dvh + n * ld, dvh + n * ld + hd, 0.0f);
            }
            float * gRh = tab_grads.empty() ? nullptr : tab_grads.data() + t * (Lh + Lw) * hd;
            float * gRw = gRh ? gRh + Lh * hd : nullptr;
            if (gRh) std::fill(gRh, gRh + (Lh + Lw) * hd, 0.0f);
            for (int64_t n0 = 0; n0 < N; n0 += rb) {
                const int64_t rows = std::min(rb, N - n0);
                const float * qb = q + n0 * ld;
                const float * gob = go + n0 * C;
                // scores and probabilities, as in the forward pass
                sgemm_serial(false, true, rows, N, hd, scale, qb, ld, k, ld, 0.0f, S.data(), N);
                if (use_rel) {
                    sgemm_serial(false, true, rows, Lh, hd, 1.0f, qb, ld, rel_pos_h, hd, 0.0f, ph.data(), Lh);
                    sgemm_serial(false, true, rows, Lw, hd, 1.0f, qb, ld, rel_pos_w, hd, 0.0f, pw.data(), Lw);
                }
                for (int64_t r = 0; r < rows; ++r) {
                    float * s = S.data() + r * N;
                    if (use_rel) {
                        const int64_t n = n0 + r, qh = n / W, qw = n % W;
                        const float * phr = ph.data() + r * Lh + qh + H - 1;
                        const float * pwr = pw.data() + r * Lw + qw + W - 1;
                        for (int64_t kh = 0; kh < H; ++kh)
                            for (int64_t kw = 0; kw < W; ++kw) s[kh * W + kw] += phr[-kh] + pwr[-kw];
                    }
                    softmax_row(s, N);
                }
                // dP = dout v^T, then dS = P (dP - sum(P dP)) in place
                sgemm_serial(false, true, rows, N, hd, 1.0f, gob, C, v, ld, 0.0f, dP.data(), N);
                for (int64_t r = 0; r < rows; ++r) softmax_row_backward(S.data() + r * N, dP.data() + r * N, N);
                // dv += P^T dout, dk += scale dS^T q, dq = scale dS k
                sgemm_serial(true, false, N, hd, rows, 1.0f, S.data(), N, gob, C, 1.0f, dvh, ld);
                sgemm_serial(true, false, N, hd, rows, scale, dP.data(), N, qb, ld, 1.0f, dkh, ld);
                sgemm_serial(false, false, rows, hd, N, scale, dP.data(), N, k, ld, 0.0f, dq.data(), hd);
                if (use_rel) {
                    // dRelH / dRelW scattered to table offsets: dph[r, qh - kh + H - 1] = sum_kw dS[r, kh, kw]
                    std::fill(dph.begin(), dph.end(), 0.0f);
                    std::fill(dpw.begin(), dpw.end(), 0.0f);
                    for (int64_t r = 0; r < rows; ++r) {
                        const int64_t n = n0 + r, qh = n / W, qw = n % W;
                        const float * d = dP.data() + r * N;
                        float * dphr = dph.data() + r * Lh + qh + H - 1;
                        float * dpwr = dpw.data() + r * Lw + qw + W - 1;
                        for (int64_t kh = 0; kh < H; ++kh) {
                            float acc = 0.0f;
                            for (int64_t kw = 0; kw < W; ++kw) {
                                acc += d[kh * W + kw];
                                dpwr[-kw] += d[kh * W + kw];
                            }
                            dphr[-kh] = acc;
                        }
                    }
                    sgemm_serial(false, false, rows, hd, Lh, 1.0f, dph.data(), Lh, rel_pos_h, hd, 1.0f, dq.data(), hd);
                    sgemm_serial(false, false, rows, hd, Lw, 1.0f, dpw.data(), Lw, rel_pos_w, hd, 1.0f, dq.data(), hd);
                    if (gRh) {
                        sgemm_serial(true, false, Lh, hd, rows, 1.0f, dph.data(), Lh, qb, ld, 1.0f, gRh, hd);
                        sgemm_serial(true, false, Lw, hd, rows, 1.0f, dpw.data(), Lw, qb, ld, 1.0f, gRw, hd);
                    }
                }
                for (int64_t r = 0; r < rows; ++r)
                    std::copy(dq.data() + r * hd, dq.data() + (r + 1) * hd, dqh + (n0 + r) * ld);
            }
        }
    });
    if (!tab_grads.empty()) {
        for (int64_t t = 0; t < pairs; ++t) {
            const float * g = tab_grads.data() + t * (Lh + Lw) * hd;
            if (drel_pos_h)
                for (int64_t i = 0; i < Lh * hd; ++i) drel_pos_h[i] += g[i];
            if (drel_pos_w)
                for (int64_t i = 0; i < Lw * hd; ++i) drel_pos_w[i] += g[Lh * hd + i];
        }
    }
}

}  // namespace sa
