// SPDX-License-Identifier: Apache-2.0
// SAM ViT attention with decomposed relative-position bias (segment-anything image_encoder.py):
//   attn = (q * hd^-0.5) @ k^T + rel_h[q, kh] + rel_w[q, kw];  out = softmax(attn) @ v
// with rel_h[(qh,qw), kh] = q[(qh,qw)] . Rh[qh - kh + H - 1] (unscaled q; likewise rel_w).
// Work is split into (batch, head, query row-block) tasks, so at most kRowBlock x N scores live per
// thread at any time, even for 4096-token global attention.
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

constexpr int64_t kRowBlock = 32;

// SAM's get_rel_pos table resampling: F.interpolate(mode="linear", align_corners=False) along the
// table length, from L rows to `out` rows of hd channels.
std::vector<float> resample_rel_pos(const float * table, int64_t L, int64_t out, int64_t hd) {
    std::vector<float> r((size_t) (out * hd));
    if (L == out) {
        std::copy(table, table + out * hd, r.begin());
        return r;
    }
    const float scale = (float) L / (float) out;
    for (int64_t i = 0; i < out; ++i) {
        float src = scale * ((float) i + 0.5f) - 0.5f;
        if (src < 0.0f) src = 0.0f;
        const int64_t i0 = std::min<int64_t>((int64_t) src, L - 1);
        const int64_t i1 = i0 + (i0 < L - 1 ? 1 : 0);
        const float l1 = src - (float) i0, l0 = 1.0f - l1;
        for (int64_t c = 0; c < hd; ++c) r[(size_t) (i * hd + c)] = l0 * table[i0 * hd + c] + l1 * table[i1 * hd + c];
    }
    return r;
}

inline float dot(const float * a, const float * b, int64_t n) {
    int64_t i = 0;
    float s = 0.0f;
#ifdef __AVX2__
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    }
    for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    s = cpu::hsum256(_mm256_add_ps(acc0, acc1));
#endif
    for (; i < n; ++i) s += a[i] * b[i];
    return s;
}

// In-place softmax of one row of n scores.
void softmax_row(float * s, int64_t n) {
    int64_t i = 0;
    float mx = -INFINITY;
#ifdef __AVX2__
    __m256 vmx = _mm256_set1_ps(-INFINITY);
    for (; i + 8 <= n; i += 8) vmx = _mm256_max_ps(vmx, _mm256_loadu_ps(s + i));
    mx = cpu::hmax256(vmx);
#endif
    for (; i < n; ++i) mx = std::max(mx, s[i]);
    i = 0;
    float sum = 0.0f;
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
    i = 0;
#ifdef __AVX2__
    const __m256 vinv = _mm256_set1_ps(inv);
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(s + i, _mm256_mul_ps(_mm256_loadu_ps(s + i), vinv));
#endif
    for (; i < n; ++i) s[i] *= inv;
}

}  // namespace

void CpuBackend::attention_vit(const float * qkv, float * out, int64_t B, int64_t H, int64_t W, int64_t nh,
                               int64_t hd, const float * rel_pos_h, int64_t rel_len_h, const float * rel_pos_w,
                               int64_t rel_len_w) {
    SA_CHECK_ARG(B >= 0 && H > 0 && W > 0 && nh > 0 && hd > 0, "attention_vit: bad size");
    SA_CHECK_ARG((rel_pos_h == nullptr) == (rel_pos_w == nullptr),
                 "attention_vit: rel_pos_h and rel_pos_w must both be given or both be null");
    const bool use_rel = rel_pos_h != nullptr;
    if (use_rel) {
        SA_CHECK_ARG(rel_len_h > 0 && rel_len_w > 0, "attention_vit: empty relative-position table");
    }
    if (B == 0) return;
    SA_CHECK_ARG(qkv && out, "attention_vit: null pointer");
    SA_CHECK_ARG(qkv != out, "attention_vit: out must not alias qkv");

    const int64_t N = H * W, C = nh * hd, ld = 3 * C;
    const float scale = 1.0f / std::sqrt((float) hd);
    std::vector<float> Rh, Rw;
    if (use_rel) {
        Rh = resample_rel_pos(rel_pos_h, rel_len_h, 2 * H - 1, hd);
        Rw = resample_rel_pos(rel_pos_w, rel_len_w, 2 * W - 1, hd);
    }
    const int64_t row_blocks = (N + kRowBlock - 1) / kRowBlock;
    default_pool().parallel_for(B * nh * row_blocks, [&](int64_t t0, int64_t t1) {
        std::vector<float> S((size_t) (kRowBlock * N));
        std::vector<float> rel((size_t) (H + W));
        for (int64_t t = t0; t < t1; ++t) {
            const int64_t bh = t / row_blocks, b = bh / nh, h = bh % nh;
            const int64_t n0 = (t % row_blocks) * kRowBlock, rows = std::min(kRowBlock, N - n0);
            const float * base = qkv + b * N * ld + h * hd;
            const float * q = base + n0 * ld;
            const float * k = base + C;
            const float * v = base + 2 * C;
            sgemm_serial(false, true, rows, N, hd, scale, q, ld, k, ld, 0.0f, S.data(), N);
            for (int64_t r = 0; r < rows; ++r) {
                float * srow = S.data() + r * N;
                if (use_rel) {
                    const int64_t n = n0 + r, qh = n / W, qw = n % W;
                    const float * qr = q + r * ld;
                    for (int64_t kh = 0; kh < H; ++kh) rel[kh] = dot(qr, Rh.data() + (qh - kh + H - 1) * hd, hd);
                    for (int64_t kw = 0; kw < W; ++kw) rel[H + kw] = dot(qr, Rw.data() + (qw - kw + W - 1) * hd, hd);
                    for (int64_t kh = 0; kh < H; ++kh) {
                        float * sr = srow + kh * W;
                        const float rh = rel[kh];
                        for (int64_t kw = 0; kw < W; ++kw) sr[kw] += rh + rel[H + kw];
                    }
                }
                softmax_row(srow, N);
            }
            sgemm_serial(false, false, rows, hd, N, 1.0f, S.data(), N, v, ld, 0.0f, out + (b * N + n0) * C + h * hd, C);
        }
    });
}

}  // namespace sa
