// SPDX-License-Identifier: Apache-2.0
// Segmentation losses on mask logits (definitions in sa/losses.h), in three stream-ordered kernels:
//   1. per (sample, candidate, chunk of kLossChunk pixels) partial sums in double;
//   2. one thread reduces the chunks in order, selects each sample's best candidate, writes the mean
//      loss, the IoU-prediction gradient and per-candidate gradient coefficients;
//   3. the logit gradient of the selected candidates (zero elsewhere), elementwise.
// d dice / d p_i = -2 g_i / den + num / den^2 * d(den)/d p_i,   d p / d x = p (1 - p)
// d BCE / d x = p - g
// d focal / d x = alpha_t [ (p - g) (1 - p_t)^2 - 2 ce (1 - p_t) (2g - 1) p (1 - p) ]
#include <string>

#include "cuda/backend-cuda.cuh"
#include "cuda/common.cuh"
#include "cuda/mask-loss.cuh"
#include "sa/losses.h"

namespace sa {

namespace cuda {

namespace {

enum Sum { kInter, kSumP, kSumG, kBce, kFocal, kIouInter, kIouUnion };

__device__ __forceinline__ float sigmoid_stable(float x) {
    if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
    const float e = expf(x);
    return e / (1.0f + e);
}

// max(x, 0) - x g + log(1 + exp(-|x|))
__device__ __forceinline__ float bce_logits(float x, float g) {
    return fmaxf(x, 0.0f) - x * g + log1pf(expf(-fabsf(x)));
}

}  // namespace

static __global__ void mask_loss_partial_kernel(MaskLossArgs a, int64_t chunks, double * __restrict__ partial) {
    __shared__ double sm[kThreads / 32];
    const int64_t pr = blockIdx.y, c = blockIdx.x;
    const int64_t b = pr / a.M;
    const int64_t i0 = c * kLossChunk, i1 = min(a.HW, i0 + kLossChunk);
    const float * x = a.logits + pr * a.HW;
    const float * g = a.target + b * a.HW;
    const bool sam = a.kind == (int) LossKind::SAM, squared = a.kind == (int) LossKind::MedSAM;
    double s[kLossSums] = {0, 0, 0, 0, 0, 0, 0};
    for (int64_t i = i0 + threadIdx.x; i < i1; i += blockDim.x) {
        const float xi = x[i], gi = g[i];
        const float p = sigmoid_stable(xi);
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
    double * out = partial + (pr * chunks + c) * kLossSums;
#pragma unroll
    for (int k = 0; k < kLossSums; ++k) {
        const double t = block_sum(s[k], sm);
        if (threadIdx.x == 0) out[k] = t;
    }
}

static __global__ void mask_loss_select_kernel(MaskLossArgs a, int64_t chunks, const double * __restrict__ partial,
                                               float4 * __restrict__ coef) {
    if (blockIdx.x != 0 || threadIdx.x != 0) return;
    const bool sam = a.kind == (int) LossKind::SAM;
    const double n = (double) a.HW, inv_b = 1.0 / (double) a.B;
    double total = 0.0;
    for (int64_t b = 0; b < a.B; ++b) {
        int64_t best = 0;
        double best_loss = 0.0, best_iou_target = 0.0;
        for (int64_t m = 0; m < a.M; ++m) {
            const int64_t pr = b * a.M + m;
            double s[kLossSums] = {0, 0, 0, 0, 0, 0, 0};
            for (int64_t c = 0; c < chunks; ++c)
                for (int k = 0; k < kLossSums; ++k) s[k] += partial[(pr * chunks + c) * kLossSums + k];
            const double num = 2.0 * s[kInter] + kDiceSmooth;
            const double den = s[kSumP] + s[kSumG] + kDiceSmooth;
            const double dice = 1.0 - num / den;
            double loss, iou_target = 0.0;
            if (sam) {
                iou_target = s[kIouUnion] > 0.0 ? s[kIouInter] / s[kIouUnion] : 1.0;
                const double e = (double) a.iou_pred[b * a.iou_ld + m] - iou_target;
                loss = (double) kSamFocalWeight * (s[kFocal] / n) + dice + e * e;
            } else {
                loss = dice + s[kBce] / n;
            }
            // Dice gradient coefficients of this candidate (used only if it is selected).
            coef[pr] = make_float4((float) (-2.0 / den * inv_b), (float) (num / (den * den) * inv_b), 0.0f, 0.0f);
            if (m == 0 || loss < best_loss) {
                best = m;
                best_loss = loss;
                best_iou_target = iou_target;
            }
            if (a.diou_pred) a.diou_pred[b * a.iou_ld + m] = 0.0f;
        }
        coef[b * a.M + best].z = 1.0f;
        if (a.diou_pred && sam)
            a.diou_pred[b * a.iou_ld + best] =
                (float) (2.0 * ((double) a.iou_pred[b * a.iou_ld + best] - best_iou_target) * inv_b);
        total += best_loss;
    }
    a.loss_out[0] = (float) (total * inv_b);
}

static __global__ void mask_loss_grad_kernel(MaskLossArgs a, const float4 * __restrict__ coef) {
    const int64_t n = a.B * a.M * a.HW;
    const bool sam = a.kind == (int) LossKind::SAM, squared = a.kind == (int) LossKind::MedSAM;
    const float ce_w = (sam ? kSamFocalWeight : 1.0f) / (float) a.B / (float) a.HW;
    for (int64_t i = blockIdx.x * (int64_t) blockDim.x + threadIdx.x; i < n; i += (int64_t) gridDim.x * blockDim.x) {
        const int64_t pr = i / a.HW, px = i - pr * a.HW;
        const float4 k = coef[pr];
        if (k.z == 0.0f) {
            a.dlogits[i] = 0.0f;
            continue;
        }
        const float xi = a.logits[i], gi = a.target[(pr / a.M) * a.HW + px];
        const float p = sigmoid_stable(xi);
        const float dden = squared ? 2.0f * p : 1.0f;
        float d = (k.x * gi + k.y * dden) * p * (1.0f - p);
        if (sam) {
            const float ce = bce_logits(xi, gi);
            const float pt = p * gi + (1.0f - p) * (1.0f - gi);
            const float at = kFocalAlpha * gi + (1.0f - kFocalAlpha) * (1.0f - gi);
            const float q = 1.0f - pt;
            d += ce_w * at * ((p - gi) * q * q - 2.0f * ce * q * (2.0f * gi - 1.0f) * p * (1.0f - p));
        } else {
            d += ce_w * (p - gi);
        }
        a.dlogits[i] = d;
    }
}

void launch_mask_loss(const MaskLossArgs & a, double * partial, float4 * coef, cudaStream_t stream) {
    const int64_t chunks = (a.HW + kLossChunk - 1) / kLossChunk;
    mask_loss_partial_kernel<<<dim3((unsigned) chunks, (unsigned) (a.B * a.M)), kThreads, 0, stream>>>(a, chunks,
                                                                                                       partial);
    SA_CUDA_LAUNCH_CHECK();
    mask_loss_select_kernel<<<1, 32, 0, stream>>>(a, chunks, partial, coef);
    SA_CUDA_LAUNCH_CHECK();
    if (a.dlogits) {
        const int64_t n = a.B * a.M * a.HW;
        mask_loss_grad_kernel<<<grid_for(n), kThreads, 0, stream>>>(a, coef);
        SA_CUDA_LAUNCH_CHECK();
    }
}

}  // namespace cuda

void CudaBackend::mask_loss(int kind, const float * logits, const float * target, float * loss_out, float * dlogits,
                            int64_t B, int64_t M, int64_t HW, const float * iou_pred, int64_t iou_ld,
                            float * diou_pred) {
    SA_CHECK_ARG(kind >= 0 && kind <= 2, "mask_loss: unknown loss kind " + std::to_string(kind));
    SA_CHECK_ARG(B > 0 && M > 0 && HW > 0, "mask_loss: bad size");
    SA_CHECK_ARG(logits && target && loss_out, "mask_loss: null pointer");
    const bool sam = static_cast<LossKind>(kind) == LossKind::SAM;
    if (sam) {
        SA_CHECK_ARG(iou_pred != nullptr, "mask_loss: the sam loss needs iou_pred");
        SA_CHECK_ARG(iou_ld >= M, "mask_loss: iou_ld smaller than M");
    }
    if (diou_pred) SA_CHECK_ARG(iou_ld >= M, "mask_loss: iou_ld smaller than M");
    const int64_t chunks = (HW + cuda::kLossChunk - 1) / cuda::kLossChunk;
    SA_CHECK_ARG(B * M <= 65535 && chunks <= INT32_MAX, "mask_loss: too many masks in one call (at most 65535)");
    activate();
    Scratch partial(*this, (size_t) (B * M * chunks * cuda::kLossSums) * sizeof(double));
    Scratch coef(*this, (size_t) (B * M) * sizeof(float4));
    const cuda::MaskLossArgs a{kind,   logits,   target, loss_out, dlogits, B, M, HW, sam ? iou_pred : nullptr,
                               iou_ld, diou_pred};
    cuda::launch_mask_loss(a, partial.as<double>(), coef.as<float4>(), stream_);
}

}  // namespace sa
