// SPDX-License-Identifier: Apache-2.0
// TinyViT window attention with learned biases (see Backend::attention_tinyvit). One block per
// (window, head, image): the window's keys and values (padding tokens from pad_qkv, or zeros) are
// staged in shared memory; each warp then takes the window's real queries in turn: scores
// q k^T / sqrt(kd) + bias[h][query position] over the window's win*win keys (one key per lane and
// step), a warp softmax, and O = P v with one output column per lane and step.
#include <string>

#include "cuda/attention-tinyvit.cuh"
#include "cuda/backend-cuda.cuh"
#include "cuda/common.cuh"

namespace sa {

namespace cuda {

namespace {
constexpr int kTvThreads = 256;
constexpr int kTvWarps = kTvThreads / 32;

// Shared floats: K [N][kd+1], V [N][vd], per warp q [kd] and p [N].
int64_t tinyvit_smem_floats(int64_t N, int64_t kd, int64_t vd) {
    return N * (kd + 1) + N * vd + kTvWarps * (kd + N);
}
}  // namespace

static __global__ void __launch_bounds__(kTvThreads)
    attention_tinyvit_kernel(const float * __restrict__ qkv, const float * __restrict__ pad_qkv,
                             const float * __restrict__ bias, float * __restrict__ out, int H, int W, int win, int nh,
                             int kd, int vd, int nww, float scale) {
    extern __shared__ float smem[];
    const int N = win * win, per_head = 2 * kd + vd, row = nh * per_head, dv = nh * vd;
    float * Ks = smem;                // [N][kd+1]
    float * Vs = Ks + N * (kd + 1);   // [N][vd]
    float * Qw = Vs + N * vd;         // [warps][kd]
    float * Pw = Qw + kTvWarps * kd;  // [warps][N]
    const int wy = blockIdx.x / nww, wx = blockIdx.x - wy * nww;
    const int h = blockIdx.y, b = blockIdx.z;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;

    for (int i = threadIdx.x; i < N * (kd + vd); i += kTvThreads) {
        const int tok = i / (kd + vd), c = i - tok * (kd + vd);
        const int y = wy * win + tok / win, x = wx * win + tok % win;
        const float * src = (y < H && x < W) ? qkv + ((int64_t) (b * H + y) * W + x) * row + h * per_head
                                             : (pad_qkv ? pad_qkv + h * per_head : nullptr);
        const float v = src ? src[kd + c] : 0.0f;
        if (c < kd) Ks[tok * (kd + 1) + c] = v;
        else Vs[tok * vd + (c - kd)] = v;
    }
    __syncthreads();

    float * q = Qw + warp * kd;
    float * p = Pw + warp * N;
    const float * hb = bias ? bias + (int64_t) h * N * N : nullptr;
    for (int t = warp; t < N; t += kTvWarps) {
        const int y = wy * win + t / win, x = wx * win + t % win;
        if (y >= H || x >= W) continue;  // padding queries: TinyViT discards their outputs
        const int64_t orow = (int64_t) (b * H + y) * W + x;
        const float * qsrc = qkv + orow * row + h * per_head;
        for (int c = lane; c < kd; c += 32) q[c] = qsrc[c];
        __syncwarp();
        float mx = -INFINITY;
        for (int j = lane; j < N; j += 32) {
            const float * kr = Ks + j * (kd + 1);
            float s = 0.0f;
            for (int c = 0; c < kd; ++c) s += q[c] * kr[c];
            s *= scale;
            if (hb) s += hb[(int64_t) t * N + j];
            p[j] = s;
            mx = fmaxf(mx, s);
        }
        mx = warp_max(mx);
        float sum = 0.0f;
        for (int j = lane; j < N; j += 32) {
            const float e = __expf(p[j] - mx);
            p[j] = e;
            sum += e;
        }
        const float inv = 1.0f / warp_sum(sum);
        __syncwarp();
        float * dst = out + orow * dv + h * vd;
        for (int c = lane; c < vd; c += 32) {
            float o = 0.0f;
            for (int j = 0; j < N; ++j) o += p[j] * Vs[j * vd + c];
            dst[c] = o * inv;
        }
        __syncwarp();  // q / p are rewritten by the warp's next query
    }
}

void launch_attention_tinyvit(const float * qkv, const float * pad_qkv, const float * bias, float * out, int64_t B,
                              int64_t H, int64_t W, int64_t win, int64_t nh, int64_t kd, int64_t vd, size_t max_smem,
                              cudaStream_t stream) {
    const int64_t N = win * win;
    const size_t bytes = (size_t) tinyvit_smem_floats(N, kd, vd) * sizeof(float);
    SA_CHECK(bytes <= max_smem, SA_ERR_UNSUPPORTED,
             "attention_tinyvit: window " + std::to_string(win) + " with head dims " + std::to_string(kd) + "/" +
                 std::to_string(vd) + " needs " + std::to_string(bytes) +
                 " bytes of shared memory per block; the device allows " + std::to_string(max_smem));
    if (bytes > 48 * 1024)
        SA_CUDA_CHECK(
            cudaFuncSetAttribute(attention_tinyvit_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int) bytes));
    const int64_t nwh = (H + win - 1) / win, nww = (W + win - 1) / win;
    const dim3 grid((unsigned) (nwh * nww), (unsigned) nh, (unsigned) B);
    attention_tinyvit_kernel<<<grid, kTvThreads, bytes, stream>>>(qkv, pad_qkv, bias, out, (int) H, (int) W, (int) win,
                                                                  (int) nh, (int) kd, (int) vd, (int) nww,
                                                                  1.0f / sqrtf((float) kd));
    SA_CUDA_LAUNCH_CHECK();
}

}  // namespace cuda

void CudaBackend::attention_tinyvit_impl(const AttentionTinyVitArgs & a) {
    const auto & [qkv, pad_qkv, bias, out, B, H, W, win, nh, kd, vd] = a;
    const int64_t nwh = (H + win - 1) / win, nww = (W + win - 1) / win;
    SA_CHECK_ARG(nwh * nww <= INT32_MAX && nh <= 65535 && B <= 65535 && B * H * W * nh * (2 * kd + vd) <= INT64_MAX / 4,
                 "attention_tinyvit: problem too large for one launch");
    activate();
    cuda::launch_attention_tinyvit(qkv, pad_qkv, bias, out, B, H, W, win, nh, kd, vd,
                                   (size_t) props_.sharedMemPerBlockOptin, stream_);
}

}  // namespace sa
