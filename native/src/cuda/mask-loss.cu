// SPDX-License-Identifier: Apache-2.0
// Segmentation losses on mask logits (definitions in sa/losses.h; the per-pixel and per-candidate terms
// in core/loss-terms.h), in three stream-ordered kernels:
//   1. per (sample, candidate, chunk of kLossChunk pixels) partial sums in double;
//   2. one thread reduces the chunks in order, selects each sample's best candidate, writes the mean
//      loss, the IoU-prediction gradient and per-candidate gradient coefficients;
//   3. the logit gradient of the selected candidates (zero elsewhere), elementwise.
#include <string>

#include "core/loss-terms.h"
#include "cuda/backend-cuda.cuh"
#include "cuda/common.cuh"
#include "cuda/mask-loss.cuh"
#include "sa/losses.h"

namespace sa {

namespace cuda {

static __global__ void mask_loss_partial_kernel(MaskLossArgs a, int64_t chunks, double * __restrict__ partial) {
    __shared__ double sm[kThreads / 32];
    const int64_t pr = blockIdx.y, c = blockIdx.x;
    const int64_t b = pr / a.M;
    const int64_t i0 = c * kLossChunk, i1 = min(a.HW, i0 + kLossChunk);
    const float * x = a.logits + pr * a.HW;
    const float * g = a.target + b * a.HW;
    const LossTerms terms = loss_terms(a.kind);
    double s[kLossSums] = {0, 0, 0, 0, 0, 0, 0};
    for (int64_t i = i0 + threadIdx.x; i < i1; i += blockDim.x) mask_loss_accumulate(s, x[i], g[i], terms);
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
    const LossTerms terms = loss_terms(a.kind);
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
            const LossPair st = mask_loss_pair(s, n, terms, terms.sam ? a.iou_pred[b * a.iou_ld + m] : 0.0f);
            // Dice gradient coefficients of this candidate (used only if it is selected).
            coef[pr] =
                make_float4((float) (-2.0 / st.den * inv_b), (float) (st.num / (st.den * st.den) * inv_b), 0.0f, 0.0f);
            if (m == 0 || st.loss < best_loss) {
                best = m;
                best_loss = st.loss;
                best_iou_target = st.iou_target;
            }
            if (a.diou_pred) a.diou_pred[b * a.iou_ld + m] = 0.0f;
        }
        coef[b * a.M + best].z = 1.0f;
        if (a.diou_pred && terms.sam)
            a.diou_pred[b * a.iou_ld + best] =
                (float) (2.0 * ((double) a.iou_pred[b * a.iou_ld + best] - best_iou_target) * inv_b);
        total += best_loss;
    }
    a.loss_out[0] = (float) (total * inv_b);
}

static __global__ void mask_loss_grad_kernel(MaskLossArgs a, const float4 * __restrict__ coef) {
    const int64_t n = a.B * a.M * a.HW;
    const LossTerms terms = loss_terms(a.kind);
    const float ce_w = (terms.sam ? kSamFocalWeight : 1.0f) / (float) a.B / (float) a.HW;
    for (int64_t i = blockIdx.x * (int64_t) blockDim.x + threadIdx.x; i < n; i += (int64_t) gridDim.x * blockDim.x) {
        const int64_t pr = i / a.HW, px = i - pr * a.HW;
        const float4 k = coef[pr];
        if (k.z == 0.0f) {
            a.dlogits[i] = 0.0f;
            continue;
        }
        a.dlogits[i] = mask_loss_grad(a.logits[i], a.target[(pr / a.M) * a.HW + px], k.x, k.y, ce_w, terms);
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

void CudaBackend::mask_loss_impl(const MaskLossArgs & args) {
    const int64_t chunks = (args.HW + kLossChunk - 1) / kLossChunk;
    SA_CHECK_ARG(args.B * args.M <= 65535 && chunks <= INT32_MAX,
                 "mask_loss: too many masks in one call (at most 65535)");
    activate();
    Scratch partial(*this, (size_t) (args.B * args.M * chunks * kLossSums) * sizeof(double));
    Scratch coef(*this, (size_t) (args.B * args.M) * sizeof(float4));
    MaskLossArgs a = args;
    if (static_cast<LossKind>(a.kind) != LossKind::SAM) a.iou_pred = nullptr;
    cuda::launch_mask_loss(a, partial.as<double>(), coef.as<float4>(), stream_);
}

}  // namespace sa
