// SPDX-License-Identifier: Apache-2.0
// Segmentation losses on mask logits (see sa/losses.h for the definitions; the per-pixel and
// per-candidate terms in core/loss-terms.h). Two passes per call:
//   1. per (sample, candidate, chunk of kLossChunk pixels) partial sums in double (mask_loss_accumulate);
//      the chunk partials are then reduced in chunk order, so the result does not depend on the thread
//      count;
//   2. the gradient of the selected candidate of each sample, elementwise (mask_loss_grad).
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/loss-terms.h"
#include "cpu/backend-cpu.h"
#include "sa/losses.h"
#include "sa/threadpool.h"

namespace sa {

namespace {

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
            for (int64_t i = i0; i < i1; ++i) mask_loss_accumulate(s, x[i], g[i], terms);
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
            for (int64_t i = i0; i < i1; ++i) dx[i] = mask_loss_grad(x[i], g[i], a_g, a_p, ce_w, terms);
        }
    });
}

}  // namespace sa
