// SPDX-License-Identifier: Apache-2.0
// Segmentation losses on mask logits (see sa/losses.h for the definitions; the per-pixel and
// per-candidate terms in core/loss-terms.h). Two passes per call:
//   1. per (sample, candidate, chunk of kLossChunk pixels) partial sums in double (mask_loss_accumulate);
//      the chunk partials are then reduced in chunk order, so the result does not depend on the thread
//      count;
//   2. the gradient of the selected candidate of each sample, elementwise (mask_loss_grad).
// With AVX2 both passes take eight pixels at a time: one exp per pixel serves the sigmoid and the
// cross-entropy's log(1 + exp(-|x|)) (an atanh series), and the partial sums stay in double lanes; the
// last pixels of a chunk go through the scalar terms. The lane split depends on the chunk only.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/loss-terms.h"
#include "cpu/backend-cpu.h"
#include "sa/losses.h"
#include "sa/threadpool.h"

#ifdef __AVX2__
#include "cpu/simd.h"
#endif

namespace sa {

namespace {

#ifdef __AVX2__
// The per-pixel values of eight pixels: p = sigmoid(x), ce = BCE with logits (core/loss-terms.h).
struct PixelTerms8 {
    __m256 p, ce;
};

// log(1 + t) for t in [0, 1]: 2 atanh(u) with u = t / (2 + t) <= 1/3, the odd series to u^15
// (truncation below 2e-9 relative; exact as t -> 0, unlike log of 1 + t).
inline __m256 log1p_unit(__m256 t) {
    const __m256 u = _mm256_div_ps(t, _mm256_add_ps(_mm256_set1_ps(2.0f), t));
    const __m256 w = _mm256_mul_ps(u, u);
    __m256 s = _mm256_set1_ps(1.0f / 15.0f);
    for (const float c : {1.0f / 13.0f, 1.0f / 11.0f, 1.0f / 9.0f, 1.0f / 7.0f, 1.0f / 5.0f, 1.0f / 3.0f, 1.0f})
        s = _mm256_fmadd_ps(s, w, _mm256_set1_ps(c));
    return _mm256_mul_ps(_mm256_add_ps(u, u), s);
}

inline PixelTerms8 pixel_terms8(__m256 x, __m256 g, bool need_ce) {
    const __m256 ax = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
    const __m256 e = cpu::exp256(_mm256_sub_ps(_mm256_setzero_ps(), ax));  // exp(-|x|)
    const __m256 r = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
    const __m256 pos = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GE_OQ);
    PixelTerms8 t;
    t.p = _mm256_blendv_ps(_mm256_mul_ps(e, r), r, pos);
    t.ce = need_ce ? _mm256_add_ps(_mm256_fnmadd_ps(x, g, _mm256_max_ps(x, _mm256_setzero_ps())), log1p_unit(e))
                   : _mm256_setzero_ps();
    return t;
}

// acc[0:2] += the eight values v, as doubles.
inline void add_pd(__m256d * acc, __m256 v) {
    acc[0] = _mm256_add_pd(acc[0], _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
    acc[1] = _mm256_add_pd(acc[1], _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
}

// s[kLossSums] = the sums of pixels [0, n) (mask_loss_accumulate's terms).
void accumulate_chunk(const float * x, const float * g, int64_t n, LossTerms k, double * s) {
    __m256d acc[kLossSums][2];
    for (auto & a : acc) a[0] = a[1] = _mm256_setzero_pd();
    const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 xv = _mm256_loadu_ps(x + i), gv = _mm256_loadu_ps(g + i);
        const PixelTerms8 t = pixel_terms8(xv, gv, true);
        add_pd(acc[kInter], _mm256_mul_ps(t.p, gv));
        add_pd(acc[kSumP], k.squared ? _mm256_mul_ps(t.p, t.p) : t.p);
        add_pd(acc[kSumG], k.squared ? _mm256_mul_ps(gv, gv) : gv);
        add_pd(acc[kBce], t.ce);
        if (k.sam) {
            const __m256 omp = _mm256_sub_ps(one, t.p), omg = _mm256_sub_ps(one, gv);
            const __m256 pt = _mm256_fmadd_ps(t.p, gv, _mm256_mul_ps(omp, omg));
            const __m256 at = _mm256_fmadd_ps(_mm256_set1_ps(kFocalAlpha), gv,
                                              _mm256_mul_ps(_mm256_set1_ps(1.0f - kFocalAlpha), omg));
            const __m256 q = _mm256_sub_ps(one, pt);
            add_pd(acc[kFocal], _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(at, t.ce), q), q));
            const __m256 pm = _mm256_cmp_ps(xv, zero, _CMP_GT_OQ),
                         gm = _mm256_cmp_ps(gv, _mm256_set1_ps(0.5f), _CMP_GT_OQ);
            add_pd(acc[kIouInter], _mm256_and_ps(_mm256_and_ps(pm, gm), one));
            add_pd(acc[kIouUnion], _mm256_and_ps(_mm256_or_ps(pm, gm), one));
        }
    }
    for (int j = 0; j < kLossSums; ++j) {
        alignas(32) double l[8];
        _mm256_store_pd(l, acc[j][0]);
        _mm256_store_pd(l + 4, acc[j][1]);
        s[j] = ((l[0] + l[4]) + (l[1] + l[5])) + ((l[2] + l[6]) + (l[3] + l[7]));
    }
    for (; i < n; ++i) mask_loss_accumulate(s, x[i], g[i], k);
}

// dx[0:n] = mask_loss_grad of pixels [0, n).
void grad_chunk(const float * x, const float * g, int64_t n, float a_g, float a_p, float ce_w, LossTerms k,
                float * dx) {
    const __m256 one = _mm256_set1_ps(1.0f), vag = _mm256_set1_ps(a_g), vap = _mm256_set1_ps(a_p);
    const __m256 vce = _mm256_set1_ps(ce_w);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 xv = _mm256_loadu_ps(x + i), gv = _mm256_loadu_ps(g + i);
        const PixelTerms8 t = pixel_terms8(xv, gv, k.sam);
        const __m256 omp = _mm256_sub_ps(one, t.p);
        const __m256 dden = k.squared ? _mm256_add_ps(t.p, t.p) : one;
        __m256 d = _mm256_mul_ps(_mm256_mul_ps(_mm256_fmadd_ps(vag, gv, _mm256_mul_ps(vap, dden)), t.p), omp);
        const __m256 pmg = _mm256_sub_ps(t.p, gv);
        if (k.sam) {
            const __m256 omg = _mm256_sub_ps(one, gv);
            const __m256 pt = _mm256_fmadd_ps(t.p, gv, _mm256_mul_ps(omp, omg));
            const __m256 at = _mm256_fmadd_ps(_mm256_set1_ps(kFocalAlpha), gv,
                                              _mm256_mul_ps(_mm256_set1_ps(1.0f - kFocalAlpha), omg));
            const __m256 q = _mm256_sub_ps(one, pt);
            const __m256 twog1 = _mm256_sub_ps(_mm256_add_ps(gv, gv), one);
            const __m256 a = _mm256_mul_ps(_mm256_mul_ps(pmg, q), q);
            const __m256 b = _mm256_mul_ps(
                _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(_mm256_add_ps(t.ce, t.ce), q), twog1), t.p), omp);
            d = _mm256_fmadd_ps(_mm256_mul_ps(vce, at), _mm256_sub_ps(a, b), d);
        } else {
            d = _mm256_fmadd_ps(vce, pmg, d);
        }
        _mm256_storeu_ps(dx + i, d);
    }
    for (; i < n; ++i) dx[i] = mask_loss_grad(x[i], g[i], a_g, a_p, ce_w, k);
}
#endif

struct Partial {
    double s[kLossSums];
};

std::vector<Partial> & partials(size_t n) {
    thread_local std::vector<Partial> buf;
    if (buf.size() < n) buf.resize(n);
    return buf;
}

}  // namespace

void CpuBackend::mask_loss_impl(const MaskLossArgs & a) {
    const auto & [kind, logits, target, loss_out, dlogits, B, M, HW, iou_pred, iou_ld, diou_pred] = a;
    const LossTerms terms = loss_terms(kind);
    const bool sam = terms.sam;
    const int64_t chunks = (HW + kLossChunk - 1) / kLossChunk;
    const int64_t pairs = B * M;
    std::vector<Partial> & part = partials((size_t) (pairs * chunks));
    const std::shared_ptr<ThreadPool> held = pool();
    ThreadPool & pool = *held;

    pool.parallel_for(pairs * chunks, [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
            const int64_t pr = t / chunks, c = t % chunks;
            const int64_t b = pr / M;
            const int64_t i0 = c * kLossChunk, i1 = std::min(HW, i0 + kLossChunk);
            const float * x = logits + pr * HW;
            const float * g = target + b * HW;
            double s[kLossSums] = {0, 0, 0, 0, 0, 0, 0};
#ifdef __AVX2__
            accumulate_chunk(x + i0, g + i0, i1 - i0, terms, s);
#else
            for (int64_t i = i0; i < i1; ++i) mask_loss_accumulate(s, x[i], g[i], terms);
#endif
            std::copy(s, s + kLossSums, part[(size_t) t].s);
        }
    });

    // Reduce in chunk order, select the best candidate per sample.
    // Host-side bookkeeping of the calling thread (the gradient pass below reads it through these
    // references from the pool's threads).
    thread_local std::vector<LossPair> stats_buf;
    thread_local std::vector<int64_t> chosen_buf;
    stats_buf.resize((size_t) pairs);
    chosen_buf.resize((size_t) B);
    std::vector<LossPair> & stats = stats_buf;
    std::vector<int64_t> & chosen = chosen_buf;
    const double n = (double) HW;
    double total = 0.0;
    for (int64_t b = 0; b < B; ++b) {
        int64_t best = 0;
        for (int64_t m = 0; m < M; ++m) {
            const int64_t pr = b * M + m;
            double s[kLossSums] = {0, 0, 0, 0, 0, 0, 0};
            for (int64_t c = 0; c < chunks; ++c)
                for (int k = 0; k < kLossSums; ++k) s[k] += part[(size_t) (pr * chunks + c)].s[k];
            const LossPair & st = stats[(size_t) pr] =
                mask_loss_pair(s, n, terms, sam ? iou_pred[b * iou_ld + m] : 0.0f);
            if (st.loss < stats[(size_t) (b * M + best)].loss) best = m;
        }
        chosen[(size_t) b] = best;
        total += stats[(size_t) (b * M + best)].loss;
    }
    loss_out[0] = (float) (total / (double) B);

    if (diou_pred && sam) {
        for (int64_t b = 0; b < B; ++b)
            for (int64_t m = 0; m < M; ++m) {
                const LossPair & st = stats[(size_t) (b * M + m)];
                diou_pred[b * iou_ld + m] =
                    m == chosen[(size_t) b]
                        ? (float) (2.0 * ((double) iou_pred[b * iou_ld + m] - st.iou_target) / (double) B)
                        : 0.0f;
            }
    } else if (diou_pred) {
        for (int64_t b = 0; b < B; ++b)
            for (int64_t m = 0; m < M; ++m) diou_pred[b * iou_ld + m] = 0.0f;
    }
    if (!dlogits) return;

    pool.parallel_for(pairs * chunks, [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
            const int64_t pr = t / chunks, c = t % chunks;
            const int64_t b = pr / M, m = pr % M;
            const int64_t i0 = c * kLossChunk, i1 = std::min(HW, i0 + kLossChunk);
            float * dx = dlogits + pr * HW;
            if (m != chosen[(size_t) b]) {
                std::fill(dx + i0, dx + i1, 0.0f);
                continue;
            }
            const LossPair & st = stats[(size_t) pr];
            const float * x = logits + pr * HW;
            const float * g = target + b * HW;
            const float inv_b = 1.0f / (float) B;
            // dice terms: -2 g / den + num / den^2 * d(den)/dp
            const float a_g = (float) (-2.0 / st.den) * inv_b;
            const float a_p = (float) (st.num / (st.den * st.den)) * inv_b;
            const float ce_w = (sam ? kSamFocalWeight : 1.0f) * inv_b / (float) HW;
#ifdef __AVX2__
            grad_chunk(x + i0, g + i0, i1 - i0, a_g, a_p, ce_w, terms, dx + i0);
#else
            for (int64_t i = i0; i < i1; ++i) dx[i] = mask_loss_grad(x[i], g[i], a_g, a_p, ce_w, terms);
#endif
        }
    });
}

}  // namespace sa
