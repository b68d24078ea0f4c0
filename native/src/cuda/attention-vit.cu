// SPDX-License-Identifier: Apache-2.0
// SAM ViT attention with decomposed relative-position bias (segment-anything image_encoder.py):
//   attn = (q * hd^-0.5) @ k^T + rel_h[q, kh] + rel_w[q, kw];  out = softmax(attn) @ v
// with rel_h[(qh,qw), kh] = q[(qh,qw)] . Rh[qh - kh + H - 1] (unscaled q; likewise rel_w).
//
// Fused kernel, one block per (64 queries, head, image), 256 threads:
//   * the block first computes its queries' rel_h [64, H] and rel_w [64, W] terms into shared memory
//     (H + W dot products per query instead of H * W bias entries);
//   * it then walks the keys in tiles of 64: S = scale q k^T + rel_h + rel_w for a 64x64 tile, an online
//     softmax (running row max and sum, rescaling the output accumulators), and O += P V;
//   * each thread owns a 4x4 block of the score tile and 4 rows x (HDP/16) columns of the output.
// Scores never leave shared memory/registers, so global attention over 4096 tokens needs no N x N buffer.
// This is the FP32/TF32 path (and the fallback for shapes the tensor-core kernel does not take); the
// BF16 math mode runs attention-vit-bf16.cu.
#include <algorithm>
#include <string>

#include "cuda/attention-vit-bf16.cuh"
#include "cuda/attention-vit.cuh"
#include "cuda/backend-cuda.cuh"
#include "cuda/common.cuh"

namespace sa {

namespace cuda {

namespace {
constexpr int kBQ = 64;  // queries per block
constexpr int kBK = 64;  // keys per tile
constexpr int kVitThreads = 256;

template <int HDP>
struct VitSmem {
    static constexpr int kQStride = HDP + 4;  // float4-aligned rows, shifted banks between rows
    static constexpr int kPStride = kBQ + 4;
    static constexpr int64_t floats(int64_t H, int64_t W) {
        return (int64_t) kBQ * kQStride + (int64_t) kBK * kQStride + (int64_t) kBK * HDP + (int64_t) kBK * kPStride +
               (int64_t) kBQ * (H + W);
    }
};
}  // namespace

static __global__ void resample_rel_pos_kernel(const float * __restrict__ table, int64_t L, float * __restrict__ dst,
                                               int64_t out, int64_t hd) {
    const int64_t n = out * hd;
    const float scale = (float) L / (float) out;
    for (int64_t t = blockIdx.x * (int64_t) blockDim.x + threadIdx.x; t < n; t += (int64_t) gridDim.x * blockDim.x) {
        const int64_t i = t / hd, c = t - i * hd;
        float src = scale * ((float) i + 0.5f) - 0.5f;
        if (src < 0.0f) src = 0.0f;
        const int64_t i0 = min((int64_t) src, L - 1);
        const int64_t i1 = i0 + (i0 < L - 1 ? 1 : 0);
        const float l1 = src - (float) i0, l0 = 1.0f - l1;
        dst[t] = l0 * table[i0 * hd + c] + l1 * table[i1 * hd + c];
    }
}

template <int HDP>
static __global__ void __launch_bounds__(kVitThreads)
    attention_vit_kernel(const float * __restrict__ qkv, float * __restrict__ out, int H, int W, int nh, int hd,
                         const float * __restrict__ Rh, const float * __restrict__ Rw, float scale) {
    using L = VitSmem<HDP>;
    constexpr int QS = L::kQStride, PS = L::kPStride, DPT = HDP / 16;
    extern __shared__ __align__(16) float smem[];
    float * Qs = smem;              // [kBQ][QS]
    float * Ks = Qs + kBQ * QS;     // [kBK][QS]
    float * Vs = Ks + kBK * QS;     // [kBK][HDP]
    float * Pt = Vs + kBK * HDP;    // [kBK][PS]  (transposed probabilities: Pt[key][query])
    float * relh = Pt + kBK * PS;   // [kBQ][H]
    float * relw = relh + kBQ * H;  // [kBQ][W]

    const int N = H * W, C = nh * hd, ld = 3 * C;
    const int h = blockIdx.y, b = blockIdx.z;
    const int q0 = blockIdx.x * kBQ;
    const int tid = threadIdx.x;
    const int rg = tid >> 4, cg = tid & 15;  // rows rg*4 .. rg*4+3; score columns cg + 16j; output columns cg*DPT + j
    const float * base = qkv + (int64_t) b * N * ld + (int64_t) h * hd;

    // Queries (zero beyond hd and beyond N).
    for (int i = tid; i < kBQ * HDP; i += kVitThreads) {
        const int r = i / HDP, d = i - r * HDP;
        const int n = q0 + r;
        Qs[r * QS + d] = (n < N && d < hd) ? base[(int64_t) n * ld + d] : 0.0f;
    }
    __syncthreads();

    const bool use_rel = Rh != nullptr;
    if (use_rel) {
        for (int i = tid; i < kBQ * (H + W); i += kVitThreads) {
            const int r = i / (H + W), j = i - r * (H + W);
            const int n = min(q0 + r, N - 1);
            const int qh = n / W, qw = n - qh * W;
            const float * tab =
                j < H ? Rh + (int64_t) (qh - j + H - 1) * hd : Rw + (int64_t) (qw - (j - H) + W - 1) * hd;
            const float * qr = Qs + r * QS;
            float s = 0.0f;
            for (int d = 0; d < hd; ++d) s += qr[d] * tab[d];
            if (j < H) relh[r * H + j] = s;
            else relw[r * W + (j - H)] = s;
        }
    }

    float o[4][DPT];
    float m_run[4], l_run[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        m_run[i] = -INFINITY;
        l_run[i] = 0.0f;
#pragma unroll
        for (int j = 0; j < DPT; ++j) o[i][j] = 0.0f;
    }

    for (int k0 = 0; k0 < N; k0 += kBK) {
        __syncthreads();  // previous tile's readers are done with Ks / Vs / Pt
        for (int i = tid; i < kBK * HDP; i += kVitThreads) {
            const int r = i / HDP, d = i - r * HDP;
            const int n = k0 + r;
            const bool ok = n < N && d < hd;
            const float * row = base + (int64_t) n * ld + d;
            Ks[r * QS + d] = ok ? row[C] : 0.0f;
            Vs[r * HDP + d] = ok ? row[2 * C] : 0.0f;
        }
        __syncthreads();

        // S = q k^T for this thread's 4 x 4 block (float4 along the head dimension).
        float s[4][4];
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
            for (int j = 0; j < 4; ++j) s[i][j] = 0.0f;
#pragma unroll 4
        for (int d = 0; d < HDP; d += 4) {
            float4 a[4], kk[4];
#pragma unroll
            for (int i = 0; i < 4; ++i) a[i] = *reinterpret_cast<const float4 *>(Qs + (rg * 4 + i) * QS + d);
#pragma unroll
            for (int j = 0; j < 4; ++j) kk[j] = *reinterpret_cast<const float4 *>(Ks + (cg + 16 * j) * QS + d);
#pragma unroll
            for (int i = 0; i < 4; ++i)
#pragma unroll
                for (int j = 0; j < 4; ++j)
                    s[i][j] += a[i].x * kk[j].x + a[i].y * kk[j].y + a[i].z * kk[j].z + a[i].w * kk[j].w;
        }

        // Bias, masking of keys beyond N, online softmax.
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const int r = rg * 4 + i;
            float mx = -INFINITY;
#pragma unroll
            for (int j = 0; j < 4; ++j) {
                const int n = k0 + cg + 16 * j;
                float v = -INFINITY;
                if (n < N) {
                    v = s[i][j] * scale;
                    if (use_rel) {
                        const int kh = n / W, kw = n - kh * W;
                        v += relh[r * H + kh] + relw[r * W + kw];
                    }
                }
                s[i][j] = v;
                mx = fmaxf(mx, v);
            }
#pragma unroll
            for (int off = 8; off > 0; off >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, off));
            const float m_new = fmaxf(m_run[i], mx);
            const float corr = __expf(m_run[i] - m_new);
            float sum = 0.0f;
#pragma unroll
            for (int j = 0; j < 4; ++j) {
                const float p = __expf(s[i][j] - m_new);
                s[i][j] = p;
                sum += p;
            }
#pragma unroll
            for (int off = 8; off > 0; off >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, off);
            l_run[i] = l_run[i] * corr + sum;
            m_run[i] = m_new;
#pragma unroll
            for (int j = 0; j < DPT; ++j) o[i][j] *= corr;
        }
#pragma unroll
        for (int j = 0; j < 4; ++j)
            *reinterpret_cast<float4 *>(Pt + (cg + 16 * j) * PS + rg * 4) =
                make_float4(s[0][j], s[1][j], s[2][j], s[3][j]);
        __syncthreads();

        // O += P V
        const int kmax = min(kBK, N - k0);
        for (int kk = 0; kk < kmax; ++kk) {
            const float4 p = *reinterpret_cast<const float4 *>(Pt + kk * PS + rg * 4);
            const float * vr = Vs + kk * HDP + cg * DPT;
            float vv[DPT];
            if constexpr (DPT % 4 == 0) {
#pragma unroll
                for (int j = 0; j < DPT; j += 4) {
                    const float4 t = *reinterpret_cast<const float4 *>(vr + j);
                    vv[j] = t.x;
                    vv[j + 1] = t.y;
                    vv[j + 2] = t.z;
                    vv[j + 3] = t.w;
                }
            } else {
#pragma unroll
                for (int j = 0; j < DPT; ++j) vv[j] = vr[j];
            }
#pragma unroll
            for (int j = 0; j < DPT; ++j) {
                o[0][j] += p.x * vv[j];
                o[1][j] += p.y * vv[j];
                o[2][j] += p.z * vv[j];
                o[3][j] += p.w * vv[j];
            }
        }
    }

#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const int n = q0 + rg * 4 + i;
        if (n >= N) continue;
        const float inv = 1.0f / l_run[i];
        float * orow = out + ((int64_t) b * N + n) * C + (int64_t) h * hd;
#pragma unroll
        for (int j = 0; j < DPT; ++j) {
            const int d = cg * DPT + j;
            if (d < hd) orow[d] = o[i][j] * inv;
        }
    }
}

void launch_resample_rel_pos(const float * table, int64_t L, float * dst, int64_t out, int64_t hd,
                             cudaStream_t stream) {
    const int64_t n = out * hd;
    if (n <= 0) return;
    resample_rel_pos_kernel<<<grid_for(n), kThreads, 0, stream>>>(table, L, dst, out, hd);
    SA_CUDA_LAUNCH_CHECK();
}

namespace {
template <int HDP>
void launch_vit(const float * qkv, float * out, int64_t B, int64_t H, int64_t W, int64_t nh, int64_t hd,
                const float * Rh, const float * Rw, size_t max_smem, cudaStream_t stream) {
    const size_t bytes = (size_t) VitSmem<HDP>::floats(H, W) * sizeof(float);
    SA_CHECK(bytes <= max_smem, SA_ERR_UNSUPPORTED,
             "attention_vit: a " + std::to_string(H) + "x" + std::to_string(W) + " token grid with head dim " +
                 std::to_string(hd) + " needs " + std::to_string(bytes) +
                 " bytes of shared memory per block; the device allows " + std::to_string(max_smem));
    if (bytes > 48 * 1024)
        SA_CUDA_CHECK(
            cudaFuncSetAttribute(attention_vit_kernel<HDP>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int) bytes));
    const int64_t N = H * W;
    const dim3 grid(ceil_div_u(N, kBQ), (unsigned) nh, (unsigned) B);
    attention_vit_kernel<HDP><<<grid, kVitThreads, bytes, stream>>>(qkv, out, (int) H, (int) W, (int) nh, (int) hd, Rh,
                                                                    Rw, 1.0f / sqrtf((float) hd));
    SA_CUDA_LAUNCH_CHECK();
}
}  // namespace

void launch_attention_vit(const float * qkv, float * out, int64_t B, int64_t H, int64_t W, int64_t nh, int64_t hd,
                          const float * Rh, const float * Rw, size_t max_smem, cudaStream_t stream) {
    if (hd <= 16) return launch_vit<16>(qkv, out, B, H, W, nh, hd, Rh, Rw, max_smem, stream);
    if (hd <= 32) return launch_vit<32>(qkv, out, B, H, W, nh, hd, Rh, Rw, max_smem, stream);
    if (hd <= 64) return launch_vit<64>(qkv, out, B, H, W, nh, hd, Rh, Rw, max_smem, stream);
    if (hd <= 80) return launch_vit<80>(qkv, out, B, H, W, nh, hd, Rh, Rw, max_smem, stream);
    if (hd <= 128) return launch_vit<128>(qkv, out, B, H, W, nh, hd, Rh, Rw, max_smem, stream);
    sa::fail(SA_ERR_UNSUPPORTED,
             "attention_vit: head dim " + std::to_string(hd) + " exceeds " + std::to_string(kVitMaxHeadDim));
}

}  // namespace cuda

void CudaBackend::attention_vit_impl(const AttentionVitArgs & a) {
    const auto & [qkv, out, B, H, W, nh, hd, rel_pos_h, rel_len_h, rel_pos_w, rel_len_w] = a;
    const bool use_rel = rel_pos_h != nullptr;
    SA_CHECK_ARG(B <= 65535 && nh <= 65535 && H * W * 3 * nh * hd <= INT32_MAX,
                 "attention_vit: problem too large for one launch");
    SA_CHECK(hd <= cuda::kVitMaxHeadDim, SA_ERR_UNSUPPORTED,
             "attention_vit: head dim " + std::to_string(hd) + " exceeds " + std::to_string(cuda::kVitMaxHeadDim));
    activate();
    const float * Rh = rel_pos_h;
    const float * Rw = rel_pos_w;
    const int64_t lh = 2 * H - 1, lw = 2 * W - 1;
    Scratch rh(*this, use_rel && rel_len_h != lh ? (size_t) (lh * hd) * sizeof(float) : 0);
    Scratch rw(*this, use_rel && rel_len_w != lw ? (size_t) (lw * hd) * sizeof(float) : 0);
    if (use_rel && rel_len_h != lh) {
        cuda::launch_resample_rel_pos(rel_pos_h, rel_len_h, rh.as<float>(), lh, hd, stream_);
        Rh = rh.as<float>();
    }
    if (use_rel && rel_len_w != lw) {
        cuda::launch_resample_rel_pos(rel_pos_w, rel_len_w, rw.as<float>(), lw, hd, stream_);
        Rw = rw.as<float>();
    }
    const size_t max_smem = (size_t) props_.sharedMemPerBlockOptin;
    if (math_ == CudaMath::BF16 && cuda::attention_vit_bf16_supported(qkv, out, H, W, hd, use_rel, max_smem)) {
        Scratch qkv16(*this, cuda::attention_vit_bf16_scratch_bytes(B, H, W, nh, hd));
        cuda::launch_attention_vit_bf16(qkv, out, B, H, W, nh, hd, Rh, Rw, qkv16.as<void>(), stream_);
        return;
    }
    cuda::launch_attention_vit(qkv, out, B, H, W, nh, hd, Rh, Rw, max_smem, stream_);
}

}  // namespace sa
