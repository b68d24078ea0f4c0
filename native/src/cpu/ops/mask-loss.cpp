// SPDX-License-Identifier: Apache-2.0
// Segmentation losses on mask logits (see sa/losses.h for the definitions). Two passes per call:
//   1. per (sample, candidate, chunk of kChunk pixels) partial sums in double: sum(p g), sum(p) or
//      sum(p^2), sum(g) or sum(g^2), sum BCE, sum focal, |pred & g|, |pred | g|; the chunk partials are
//      then reduced in chunk order, so the result does not depend on the thread count;
//   2. the gradient of the selected candidate of each sample, elementwise.
// d dice / d p_i = -2 g_i / den + num / den^2 * d(den)/d p_i,   d p / d x = p (1 - p)
// d BCE / d x = p - g
// d focal / d x = alpha_t [ (p - g) (1 - p_t)^2 - 2 ce (1 - p_t) (2g - 1) p (1 - p) ],
//   p_t = p g + (1 - p)(1 - g), alpha_t = alpha g + (1 - alpha)(1 - g)
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "cpu/backend-cpu.h"
#include "sa/losses.h"
#include "sa/threadpool.h"

namespace sa {

namespace {

constexpr int64_t kChunk = 4096;

enum Sum { kInter, kSumP, kSumG, kBce, kFocal, kIouInter, kIouUnion, kNumSums };

struct Partial {
    double s[kNumSums];
};

inline float sigmoid(float x) {
    if (x >= 0.0f) return 1.0f / (1.0f + std::exp(-x));
    const float e = std::exp(x);
    return e / (1.0f + e);
}

// max(x, 0) - x g + log(1 + exp(-|x|))
inline float bce_logits(float x, float g) {
    return std::max(x, 0.0f) - x * g + std::log1p(std::exp(-std::fabs(x)));
}

std::vector<Partial> & partials(size_t n) {
    thread_local std::vector<Partial> buf;
    if (buf.size() < n) buf.resize(n);
    return buf;
}

struct PairStats {
    double num, den, bce_mean, focal_mean, iou_target, loss;
};

}  // namespace

void CpuBackend::mask_loss(int kind, const float * logits, const float * target, float * loss_out, float * dlogits,
                           int64_t B, int64_t M, int64_t HW, const float * iou_pred, int64_t iou_ld,
                           float * diou_pred) {
    SA_CHECK_ARG(kind >= 0 && kind <= 2, "mask_loss: unknown loss kind " + std::to_string(kind));
    SA_CHECK_ARG(B > 0 && M > 0 && HW > 0, "mask_loss: bad size");
    SA_CHECK_ARG(logits && target && loss_out, "mask_loss: null pointer");
    const LossKind lk = static_cast<LossKind>(kind);
    const bool sam = lk == LossKind::SAM;
    const bool squared = lk == LossKind::MedSAM;
    if (sam) {
        SA_CHECK_ARG(iou_pred != nullptr, "mask_loss: the sam loss needs iou_pred");
        SA_CHECK_ARG(iou_ld >= M, "mask_loss: iou_ld smaller than M");
    }
    const int64_t chunks = (HW + kChunk - 1) / kChunk;
    const int64_t pairs = B * M;
    std::vector<Partial> & part = partials((size_t) (pairs * chunks));
    const std::shared_ptr<ThreadPool> held = pool();
    ThreadPool & pool = *held;

    pool.parallel_for(pairs * chunks, [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
            const int64_t pr = t / chunks, c = t % chunks;
            const int64_t b = pr / M;
            const int64_t i0 = c * kChunk, i1 = std::min(HW, i0 + kChunk);
            const float * x = logits + pr * HW;
            const float * g = target + b * HW;
            double s[kNumSums] = {0, 0, 0, 0, 0, 0, 0};
            for (int64_t i = i0; i < i1; ++i) {
                const float xi = x[i], gi = g[i];
                const float p = sigmoid(xi);
                const float ce = bce_logits(xi, gi);
                s[kInter] += (double) (p * gi);
                s[kSumP] += squared ? (double) (p * p) : (double) p;
                s[kSumG] += squared ? (double) (gi * gi) : (double) gi;
                s[kBce] += (double) ce;
                if (sam) {
                    const float pt = p * gi + (1.0f - p) * (1.0f - gi);
                    const float at = kFocalAlpha * gi + (1.0f - kFocalAlpha) * (1.0f - gi);
                    s[kFocal] += (double) (at * ce * (1.0f - pt) * (1.0f - pt));
                    const bool pm = xi > 0.0f, gm = gi > 0.5f;
                    s[kIouInter] += (pm && gm) ? 1.0 : 0.0;
                    s[kIouUnion] += (pm || gm) ? 1.0 : 0.0;
                }
            }
            std::copy(s, s + kNumSums, part[(size_t) t].s);
        }
    });

    // Reduce in chunk order, select the best candidate per sample.
    // Host-side bookkeeping of the calling thread (the gradient pass below reads it through these
    // references from the pool's threads).
    thread_local std::vector<PairStats> stats_buf;
    thread_local std::vector<int64_t> chosen_buf;
    stats_buf.resize((size_t) pairs);
    chosen_buf.resize((size_t) B);
    std::vector<PairStats> & stats = stats_buf;
    std::vector<int64_t> & chosen = chosen_buf;
    const double n = (double) HW;
    double total = 0.0;
    for (int64_t b = 0; b < B; ++b) {
        int64_t best = 0;
        for (int64_t m = 0; m < M; ++m) {
            const int64_t pr = b * M + m;
            double s[kNumSums] = {0, 0, 0, 0, 0, 0, 0};
            for (int64_t c = 0; c < chunks; ++c)
                for (int k = 0; k < kNumSums; ++k) s[k] += part[(size_t) (pr * chunks + c)].s[k];
            PairStats & st = stats[(size_t) pr];
            st.num = 2.0 * s[kInter] + kDiceSmooth;
            st.den = s[kSumP] + s[kSumG] + kDiceSmooth;
            st.bce_mean = s[kBce] / n;
            st.focal_mean = s[kFocal] / n;
            const double dice = 1.0 - st.num / st.den;
            if (sam) {
                st.iou_target = s[kIouUnion] > 0.0 ? s[kIouInter] / s[kIouUnion] : 1.0;
                const double e = (double) iou_pred[b * iou_ld + m] - st.iou_target;
                st.loss = (double) kSamFocalWeight * st.focal_mean + dice + e * e;
            } else {
                st.iou_target = 0.0;
                st.loss = dice + st.bce_mean;
            }
            if (st.loss < stats[(size_t) (b * M + best)].loss) best = m;
        }
        chosen[(size_t) b] = best;
        total += stats[(size_t) (b * M + best)].loss;
    }
    loss_out[0] = (float) (total / (double) B);

    if (diou_pred && sam) {
        for (int64_t b = 0; b < B; ++b)
            for (int64_t m = 0; m < M; ++m) {
                const PairStats & st = stats[(size_t) (b * M + m)];
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
            const int64_t i0 = c * kChunk, i1 = std::min(HW, i0 + kChunk);
            float * dx = dlogits + pr * HW;
            if (m != chosen[(size_t) b]) {
                std::fill(dx + i0, dx + i1, 0.0f);
                continue;
            }
            const PairStats & st = stats[(size_t) pr];
            const float * x = logits + pr * HW;
            const float * g = target + b * HW;
            const float inv_b = 1.0f / (float) B;
            // dice terms: -2 g / den + num / den^2 * d(den)/dp
            const float a_g = (float) (-2.0 / st.den) * inv_b;
            const float a_p = (float) (st.num / (st.den * st.den)) * inv_b;
            const float ce_w = (sam ? kSamFocalWeight : 1.0f) * inv_b / (float) HW;
            for (int64_t i = i0; i < i1; ++i) {
                const float xi = x[i], gi = g[i];
                const float p = sigmoid(xi);
                const float dden = squared ? 2.0f * p : 1.0f;
                float d = (a_g * gi + a_p * dden) * p * (1.0f - p);
                if (sam) {
                    const float ce = bce_logits(xi, gi);
                    const float pt = p * gi + (1.0f - p) * (1.0f - gi);
                    const float at = kFocalAlpha * gi + (1.0f - kFocalAlpha) * (1.0f - gi);
                    const float q = 1.0f - pt;
                    d += ce_w * at * ((p - gi) * q * q - 2.0f * ce * q * (2.0f * gi - 1.0f) * p * (1.0f - p));
                } else {
                    d += ce_w * (p - gi);
                }
                dx[i] = d;
            }
        }
    });
}

}  // namespace sa
