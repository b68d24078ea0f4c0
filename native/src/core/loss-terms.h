// SPDX-License-Identifier: Apache-2.0
// The per-pixel and per-candidate terms of the segmentation losses (definitions in sa/losses.h), shared
// by the CPU (cpu/ops/mask-loss.cpp) and CUDA (cuda/mask-loss.cu) kernels. Per (sample, candidate) the
// kernels accumulate the kLossSums sums of mask_loss_accumulate in double, in a fixed order, then
// mask_loss_pair turns them into the candidate's loss and mask_loss_grad gives d loss / d logit.
//   d dice / d p_i = -2 g_i / den + num / den^2 * d(den)/d p_i,   d p / d x = p (1 - p)
//   d BCE / d x = p - g
//   d focal / d x = alpha_t [ (p - g) (1 - p_t)^2 - 2 ce (1 - p_t) (2g - 1) p (1 - p) ],
//     p_t = p g + (1 - p)(1 - g), alpha_t = alpha g + (1 - alpha)(1 - g)
#pragma once

#include <cmath>
#include <cstdint>

#include "core/hd.h"
#include "sa/losses.h"

namespace sa {

// The sums per (sample, candidate): sum(p g), sum(p) or sum(p^2), sum(g) or sum(g^2), sum BCE, sum
// focal, |pred & g|, |pred | g|.
enum LossSum { kInter, kSumP, kSumG, kBce, kFocal, kIouInter, kIouUnion, kLossSums };
// Pixels per partial sum.
constexpr int64_t kLossChunk = 4096;

// Which terms a loss kind needs: the SAM loss (focal + dice + IoU regression), MedSAM's squared dice
// denominator; the others plain dice + BCE.
struct LossTerms {
    bool sam = false, squared = false;
};
SA_HD LossTerms loss_terms(int kind) {
    return LossTerms{kind == (int) LossKind::SAM, kind == (int) LossKind::MedSAM};
}

SA_HD float sigmoid_stable(float x) {
    if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
    const float e = expf(x);
    return e / (1.0f + e);
}

// max(x, 0) - x g + log(1 + exp(-|x|))
SA_HD float bce_logits(float x, float g) {
    return (x < 0.0f ? 0.0f : x) - x * g + log1pf(expf(-fabsf(x)));
}

// Adds pixel (logit x, target g) to the sums s[kLossSums].
SA_HD void mask_loss_accumulate(double * s, float x, float g, LossTerms k) {
    const float p = sigmoid_stable(x);
    const float ce = bce_logits(x, g);
    s[kInter] += (double) (p * g);
    s[kSumP] += k.squared ? (double) (p * p) : (double) p;
    s[kSumG] += k.squared ? (double) (g * g) : (double) g;
    s[kBce] += (double) ce;
    if (k.sam) {
        const float pt = p * g + (1.0f - p) * (1.0f - g);
        const float at = kFocalAlpha * g + (1.0f - kFocalAlpha) * (1.0f - g);
        s[kFocal] += (double) (at * ce * (1.0f - pt) * (1.0f - pt));
        const bool pm = x > 0.0f, gm = g > 0.5f;
        s[kIouInter] += (pm && gm) ? 1.0 : 0.0;
        s[kIouUnion] += (pm || gm) ? 1.0 : 0.0;
    }
}

// One candidate's loss from its sums over n pixels (iou_pred: its predicted IoU, read for the SAM
// loss only), with what its gradient needs.
struct LossPair {
    double num, den;    // dice numerator 2 sum(p g) + smooth and denominator
    double iou_target;  // IoU of the thresholded mask with the target (SAM loss; else 0)
    double loss;
};
SA_HD LossPair mask_loss_pair(const double * s, double n, LossTerms k, float iou_pred) {
    LossPair r;
    r.num = 2.0 * s[kInter] + kDiceSmooth;
    r.den = s[kSumP] + s[kSumG] + kDiceSmooth;
    const double dice = 1.0 - r.num / r.den;
    if (k.sam) {
        r.iou_target = s[kIouUnion] > 0.0 ? s[kIouInter] / s[kIouUnion] : 1.0;
        const double e = (double) iou_pred - r.iou_target;
        r.loss = (double) kSamFocalWeight * (s[kFocal] / n) + dice + e * e;
    } else {
        r.iou_target = 0.0;
        r.loss = dice + s[kBce] / n;
    }
    return r;
}

// d loss / d x at pixel (x, g) of a selected candidate: a_g, a_p the dice coefficients -2 / den and
// num / den^2, ce_w the weight of the cross-entropy term (all already divided by the batch size).
SA_HD float mask_loss_grad(float x, float g, float a_g, float a_p, float ce_w, LossTerms k) {
    const float p = sigmoid_stable(x);
    const float dden = k.squared ? 2.0f * p : 1.0f;
    float d = (a_g * g + a_p * dden) * p * (1.0f - p);
    if (k.sam) {
        const float ce = bce_logits(x, g);
        const float pt = p * g + (1.0f - p) * (1.0f - g);
        const float at = kFocalAlpha * g + (1.0f - kFocalAlpha) * (1.0f - g);
        const float q = 1.0f - pt;
        d += ce_w * at * ((p - g) * q * q - 2.0f * ce * q * (2.0f * g - 1.0f) * p * (1.0f - p));
    } else {
        d += ce_w * (p - g);
    }
    return d;
}

}  // namespace sa
