// SPDX-License-Identifier: Apache-2.0
// SAM ViT attention with decomposed relative-position bias (segment-anything image_encoder.py):
//   attn = (q * hd^-0.5) @ k^T + rel_h[q, kh] + rel_w[q, kw];  out = softmax(attn) @ v
// with rel_h[(qh,qw), kh] = q[(qh,qw)] . Rh[qh - kh + H - 1] (unscaled q; likewise rel_w).
// Tasks are (batch, head) pairs, cut further into ranges of query rows when there are fewer pairs
// than threads. A task packs its head's k^T and v once into GEMM panels, then runs its queries in
// row blocks sized so that a block's scores stay cache-resident (all N rows for windows; 24 of 4096
// for global attention, so no N x N matrix is ever held). The relative-position terms come from
// two small GEMMs per block (each query against every table row), then are gathered by offset.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "cpu/backend-cpu.h"
#include "cpu/gemm-kernel.h"
#include "cpu/gemm-packed.h"
#include "cpu/kernels-avx512.h"
#include "cpu/simd.h"
#include "sa/threadpool.h"

namespace sa {

namespace {

// 64-byte aligned storage for packed GEMM panels.
class AlignedBuffer {
  public:
    explicit AlignedBuffer(size_t n)
        : p_(static_cast<float *>(std::aligned_alloc(64, std::max<size_t>(64, (n * sizeof(float) + 63) / 64 * 64)))) {
        if (!p_) fail(SA_ERR_OOM, "attention_vit: out of memory for packed keys/values");
    }
    ~AlignedBuffer() { std::free(p_); }
    AlignedBuffer(const AlignedBuffer &) = delete;
    AlignedBuffer & operator=(const AlignedBuffer &) = delete;
    float * data() { return p_; }

  private:
    float * p_;
};

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

inline float row_max(const float * s, int64_t n) {
    int64_t i = 0;
    float mx = -INFINITY;
#ifdef __AVX2__
    __m256 vmx = _mm256_set1_ps(-INFINITY);
    for (; i + 8 <= n; i += 8) vmx = _mm256_max_ps(vmx, _mm256_loadu_ps(s + i));
    mx = cpu::hmax256(vmx);
#endif
    for (; i < n; ++i) mx = std::max(mx, s[i]);
    return mx;
}

// s[i] = exp(s[i] - mx); returns the sum.
inline float exp_shift_sum(float * s, int64_t n, float mx) {
    int64_t i = 0;
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
    return sum;
}

// Rows of queries per block: as many as keep the block's scores within kScoreBudget floats (at least
// kMinRows), a multiple of the GEMM micro-tile height mr (6 for AVX2, 14 for AVX-512), or all N when
// they fit. Row blocks only group queries: every score and output row gets the same bits either way.
constexpr int64_t kScoreBudget = 1 << 16;
constexpr int64_t kMinRows = 24;

int64_t rows_per_block(int64_t N, int64_t mr) {
    if (N * N <= kScoreBudget || N <= kMinRows) return N;
    return std::max((kMinRows + mr - 1) / mr * mr, kScoreBudget / N / mr * mr);
}

}  // namespace

void CpuBackend::attention_vit_impl(const AttentionVitArgs & a) {
    const auto & [qkv, out, B, H, W, nh, hd, rel_pos_h, rel_len_h, rel_pos_w, rel_len_w] = a;
    const bool use_rel = rel_pos_h != nullptr;
    const int64_t N = H * W, C = nh * hd, ld = 3 * C;
    const float scale = 1.0f / std::sqrt((float) hd);
    std::vector<float> Rh, Rw;
    if (use_rel) {
        Rh = resample_rel_pos(rel_pos_h, rel_len_h, 2 * H - 1, hd);
        Rw = resample_rel_pos(rel_pos_w, rel_len_w, 2 * W - 1, hd);
    }
    const int64_t pairs = B * nh;
    const int64_t rb = rows_per_block(N, cpu::gemm_kernel().mr), row_blocks = (N + rb - 1) / rb;
    const int64_t Lh = 2 * H - 1, Lw = 2 * W - 1;
    const std::shared_ptr<ThreadPool> held = pool();
    const int nt = held->size();
#if defined(SA_HAVE_AVX512)
    const bool avx512 = cpu::use_avx512();
#endif
    const int64_t splits = std::min<int64_t>(row_blocks, std::max<int64_t>(1, (nt + pairs - 1) / pairs));
    held->parallel_for(pairs * splits, [&](int64_t t0, int64_t t1) {
        std::vector<float> S((size_t) (rb * N)), ph, pw, rw_row((size_t) W), inv_sum((size_t) rb);
        AlignedBuffer kp(cpu::packed_b_size(hd, N)), vp(cpu::packed_b_size(N, hd));
        AlignedBuffer rhp(use_rel ? cpu::packed_b_size(hd, Lh) : 0), rwp(use_rel ? cpu::packed_b_size(hd, Lw) : 0);
        if (use_rel) {
            // Every query's dot products with every table row: q . Rh[j] for j < 2H-1 (likewise w).
            cpu::pack_b_full(true, hd, Lh, Rh.data(), hd, rhp.data());
            cpu::pack_b_full(true, hd, Lw, Rw.data(), hd, rwp.data());
            ph.resize((size_t) (rb * Lh));
            pw.resize((size_t) (rb * Lw));
        }
        for (int64_t t = t0; t < t1; ++t) {
            const int64_t bh = t / splits, b = bh / nh, h = bh % nh, part = t % splits;
            const int64_t blk0 = row_blocks * part / splits, blk1 = row_blocks * (part + 1) / splits;
            const float * base = qkv + b * N * ld + h * hd;
            cpu::pack_b_full(true, hd, N, base + C, ld, kp.data());       // k^T [hd, N]
            cpu::pack_b_full(false, N, hd, base + 2 * C, ld, vp.data());  // v [N, hd]
            for (int64_t blk = blk0; blk < blk1; ++blk) {
                const int64_t n0 = blk * rb, rows = std::min(rb, N - n0);
                const float * q = base + n0 * ld;
                cpu::gemm_prepacked_b(false, rows, N, hd, scale, q, ld, kp.data(), 0.0f, S.data(), N);
                if (use_rel) {
                    cpu::gemm_prepacked_b(false, rows, Lh, hd, 1.0f, q, ld, rhp.data(), 0.0f, ph.data(), Lh);
                    cpu::gemm_prepacked_b(false, rows, Lw, hd, 1.0f, q, ld, rwp.data(), 0.0f, pw.data(), Lw);
                }
                for (int64_t r = 0; r < rows; ++r) {
                    float * srow = S.data() + r * N;
#if defined(SA_HAVE_AVX512)
                    if (avx512) {
                        const int64_t n = n0 + r, qh = n / W, qw = n % W;
                        inv_sum[(size_t) r] =
                            cpu::avx512::attention_vit_row(srow, use_rel ? ph.data() + r * Lh + qh + H - 1 : nullptr,
                                                           use_rel ? pw.data() + r * Lw + qw + W - 1 : nullptr, H, W);
                        continue;
                    }
#endif
                    if (use_rel) {
                        // rel_h[kh] = q . Rh[qh - kh + H - 1], rel_w[kw] = q . Rw[qw - kw + W - 1]
                        const int64_t n = n0 + r, qh = n / W, qw = n % W;
                        const float * phr = ph.data() + r * Lh + qh + H - 1;
                        const float * pwr = pw.data() + r * Lw + qw + W - 1;
                        for (int64_t kw = 0; kw < W; ++kw) rw_row[(size_t) kw] = pwr[-kw];
                        for (int64_t kh = 0; kh < H; ++kh) {
                            float * sr = srow + kh * W;
                            const float rh = phr[-kh];
                            for (int64_t kw = 0; kw < W; ++kw) sr[kw] += rh + rw_row[(size_t) kw];
                        }
                    }
                    inv_sum[(size_t) r] = 1.0f / exp_shift_sum(srow, N, row_max(srow, N));
                }
                // out = softmax(S) v: unnormalised product, then each row scaled by 1 / sum.
                float * o = out + (b * N + n0) * C + h * hd;
                cpu::gemm_prepacked_b(false, rows, hd, N, 1.0f, S.data(), N, vp.data(), 0.0f, o, C);
                for (int64_t r = 0; r < rows; ++r) {
                    float * orow = o + r * C;
                    const float inv = inv_sum[(size_t) r];
                    for (int64_t c = 0; c < hd; ++c) orow[c] *= inv;
                }
            }
        }
    });
}

}  // namespace sa
