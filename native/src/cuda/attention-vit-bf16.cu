// SPDX-License-Identifier: Apache-2.0
// SAM ViT attention with decomposed relative-position bias on bf16 tensor cores:
//   attn = (q * hd^-0.5) @ k^T + rel_h[q, kh] + rel_w[q, kw];  out = softmax(attn) @ v
// with rel_h[(qh,qw), kh] = q . Rh[qh - kh + H - 1] (unscaled q; likewise rel_w).
//
// Two kernels:
//   * a conversion pass writes q, k and v as bf16 in head-major planes [3][B][nh][N][hd], so that the
//     attention kernel streams contiguous 16-byte rows with cp.async;
//   * the attention kernel, one block of 4 warps per (64 queries, head, image). Each warp owns 16
//     queries, keeps their q fragments in registers and walks the keys in tiles of 64 (double-buffered
//     through cp.async): S = q k^T with mma.sync m16n8k16 (fp32 accumulators), bias and scale in log2
//     units, online softmax, then the probabilities are repacked in registers as the A operand of
//     O += P V (V fragments through ldmatrix.trans).
// The bias tables are computed per warp before the key loop, on tensor cores as well: for its 16 queries
// the warp multiplies q by the table rows that can occur (rows qh_min .. qh_max + H - 1 of Rh, and the
// same for Rw) and scatters entry (query, table row m) to rel_h[query, qh - m + H - 1]; each warp reads
// only its own rows of the [64, H] and [64, W] shared tables afterwards.
#include <cuda_bf16.h>

#include <cmath>
#include <string>

#include "cuda/attention-vit-bf16.cuh"
#include "cuda/common.cuh"

namespace sa {
namespace cuda {

namespace {

constexpr int kBQ = 64;  // queries per block (16 per warp)
constexpr int kBK = 64;  // keys per tile
constexpr int kWarps = 4;
constexpr int kThreadsTC = kWarps * 32;
constexpr float kLog2e = 1.4426950408889634f;

// Row strides of the shared tables. Q/K/V rows are padded by 8 bf16 (16 bytes) so that the 8 rows an
// mma fragment or an ldmatrix phase touches fall into distinct banks; the bias tables use an odd
// stride for rel_h (one scalar per row and tile) and a stride = 8 (mod 16) for rel_w (float2 reads).
constexpr int row_stride(int hd) {
    return hd + 8;
}
inline int relh_stride(int64_t H) {
    return (int) (H | 1);
}
inline int relw_stride(int64_t W) {
    return (int) (((W + 7) / 16) * 16 + 8);
}

template <int HD>
size_t smem_bytes(bool use_rel, int64_t H, int64_t W) {
    const size_t tiles = (size_t) kBQ * row_stride(HD) * 2 + 4 * (size_t) kBK * row_stride(HD) * 2;  // Q, K[2], V[2]
    const size_t rel = use_rel ? (size_t) kBQ * (relh_stride(H) + relw_stride(W)) * sizeof(float) : 0;
    return tiles + rel;
}

size_t smem_bytes_for(int64_t hd, bool use_rel, int64_t H, int64_t W) {
    switch (hd) {
        case 64:
            return smem_bytes<64>(use_rel, H, W);
        case 80:
            return smem_bytes<80>(use_rel, H, W);
        case 128:
            return smem_bytes<128>(use_rel, H, W);
        default:
            return 0;
    }
}

__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
    const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);  // .x (low 16 bits) = lo
    return *reinterpret_cast<const uint32_t *>(&v);
}

__device__ __forceinline__ uint32_t ld_u32(const __nv_bfloat16 * p) {
    return *reinterpret_cast<const uint32_t *>(p);
}

// 16-byte global -> shared copy; when !pred the destination is zero-filled and nothing is read.
__device__ __forceinline__ void cp_async16(void * smem, const void * gmem, bool pred) {
    const unsigned s = (unsigned) __cvta_generic_to_shared(smem);
    const int bytes = pred ? 16 : 0;
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(bytes));
}
__device__ __forceinline__ void cp_async_commit() {
    asm volatile("cp.async.commit_group;\n" ::);
}
__device__ __forceinline__ void cp_async_wait_all() {
    asm volatile("cp.async.wait_group 0;\n" ::: "memory");
}

// Four transposed 8x8 bf16 matrices (rows addressed by lanes 0-7, 8-15, 16-23, 24-31).
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t & r0, uint32_t & r1, uint32_t & r2, uint32_t & r3,
                                                  const __nv_bfloat16 * p) {
    const unsigned a = (unsigned) __cvta_generic_to_shared(p);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
                 : "r"(a));
}

// c[16x8] += a[16x16] b[16x8] (bf16 in, fp32 accumulate).
__device__ __forceinline__ void mma_bf16(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Copies 64 rows of HD bf16 starting at token row0 into a shared tile; rows at or beyond N read as zero.
template <int HD>
__device__ __forceinline__ void load_tile_async(__nv_bfloat16 * dst, const __nv_bfloat16 * src, int row0, int N) {
    constexpr int kChunks = HD / 8;  // 16-byte chunks per row
    constexpr int QS = row_stride(HD);
    for (int i = threadIdx.x; i < 64 * kChunks; i += kThreadsTC) {
        const int r = i / kChunks, c = i - r * kChunks;
        const int n = row0 + r;
        const bool ok = n < N;
        cp_async16(dst + r * QS + c * 8, src + (int64_t) (ok ? n : 0) * HD + c * 8, ok);
    }
}

// One decomposed bias table for the warp's 16 queries: for table rows m in [m_lo, m_hi] it computes
// q . tab[m] (tab [L, HD] fp32, rounded to bf16 for the product) and stores it, times log2(e), at
// dst[row * ld + j] with j = p_row + len - 1 - m when 0 <= j < len (p_row: the query's grid row for
// rel_h, its column for rel_w). Lane (g, t) holds rows row_a = g and row_a + 8 of the warp's block.
template <int HD>
__device__ __forceinline__ void rel_bias_table(const uint32_t (&qf)[HD / 16][4], const float * __restrict__ tab, int L,
                                               int m_lo, int m_hi, int pa, int pb, int len, float * dst, int ld,
                                               int row_a, int g, int t) {
    for (int mb = m_lo; mb <= m_hi; mb += 8) {
        float c[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        const float * row = tab + (int64_t) min(mb + g, L - 1) * HD;  // rows >= L give j < 0: never stored
#pragma unroll
        for (int ks = 0; ks < HD / 16; ++ks) {
            const int d = ks * 16 + 2 * t;
            mma_bf16(c, qf[ks], pack_bf16(__ldg(row + d), __ldg(row + d + 1)),
                     pack_bf16(__ldg(row + d + 8), __ldg(row + d + 9)));
        }
#pragma unroll
        for (int e = 0; e < 2; ++e) {
            const int m = mb + 2 * t + e;
            const int ja = pa + len - 1 - m, jb = pb + len - 1 - m;
            if (m <= m_hi && ja >= 0 && ja < len) dst[row_a * ld + ja] = c[e] * kLog2e;
            if (m <= m_hi && jb >= 0 && jb < len) dst[(row_a + 8) * ld + jb] = c[2 + e] * kLog2e;
        }
    }
}

// fp32 qkv [B, N, 3, nh, hd] -> bf16 planes [3][B][nh][N][hd], 8 values per step.
__global__ void qkv_to_bf16_heads_kernel(const float * __restrict__ qkv, __nv_bfloat16 * __restrict__ dst, int64_t B,
                                         int N, int nh, int hd) {
    const int g8 = hd / 8;
    const int64_t total = B * N * 3 * nh * g8;
    const int64_t plane = B * nh * (int64_t) N * hd;
    for (int64_t i = blockIdx.x * (int64_t) blockDim.x + threadIdx.x; i < total;
         i += (int64_t) gridDim.x * blockDim.x) {
        int64_t r = i;
        const int d8 = (int) (r % g8);
        r /= g8;
        const int h = (int) (r % nh);
        r /= nh;
        const int s = (int) (r % 3);
        r /= 3;
        const int n = (int) (r % N);
        const int64_t b = r / N;
        const float4 x0 = __ldg(reinterpret_cast<const float4 *>(qkv) + 2 * i);
        const float4 x1 = __ldg(reinterpret_cast<const float4 *>(qkv) + 2 * i + 1);
        const uint4 v =
            make_uint4(pack_bf16(x0.x, x0.y), pack_bf16(x0.z, x0.w), pack_bf16(x1.x, x1.y), pack_bf16(x1.z, x1.w));
        *reinterpret_cast<uint4 *>(dst + s * plane + ((b * nh + h) * N + n) * hd + d8 * 8) = v;
    }
}

template <int HD, bool REL>
__global__ void __launch_bounds__(kThreadsTC)
    attention_vit_bf16_kernel(const __nv_bfloat16 * __restrict__ qkv16, float * __restrict__ out, int N, int H, int W,
                              int nh, const float * __restrict__ Rh, const float * __restrict__ Rw, float scale_log2,
                              float inv_w, int SH, int SW) {
    constexpr int QS = row_stride(HD);
    constexpr int KSTEPS = HD / 16;  // k-steps of q k^T, and pairs of output n-tiles
    constexpr int DT = HD / 8;       // output n-tiles of 8 columns
    extern __shared__ __align__(16) unsigned char smem_raw[];
    __nv_bfloat16 * Qs = reinterpret_cast<__nv_bfloat16 *>(smem_raw);  // [64][QS]
    __nv_bfloat16 * Ks = Qs + kBQ * QS;                                // [2][64][QS]
    __nv_bfloat16 * Vs = Ks + 2 * kBK * QS;                            // [2][64][QS]
    float * relh = reinterpret_cast<float *>(Vs + 2 * kBK * QS);       // [64][SH]
    float * relw = relh + kBQ * SH;                                    // [64][SW]

    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int g = lane >> 2, t = lane & 3;
    const int q0 = blockIdx.x * kBQ, h = blockIdx.y, b = blockIdx.z;
    const int64_t plane = (int64_t) gridDim.z * nh * N * HD;
    const int64_t head = ((int64_t) b * nh + h) * N * HD;
    const __nv_bfloat16 * Qg = qkv16 + head;
    const __nv_bfloat16 * Kg = qkv16 + plane + head;
    const __nv_bfloat16 * Vg = qkv16 + 2 * plane + head;

    load_tile_async<HD>(Qs, Qg, q0, N);
    load_tile_async<HD>(Ks, Kg, 0, N);
    load_tile_async<HD>(Vs, Vg, 0, N);
    cp_async_commit();
    cp_async_wait_all();
    __syncthreads();

    const int wr = warp * 16;            // the warp's first query row in the block
    const int ra = wr + g, rb = ra + 8;  // this lane's two query rows
    uint32_t qf[KSTEPS][4];
#pragma unroll
    for (int ks = 0; ks < KSTEPS; ++ks) {
        const __nv_bfloat16 * p = Qs + ra * QS + ks * 16 + 2 * t;
        qf[ks][0] = ld_u32(p);
        qf[ks][1] = ld_u32(p + 8 * QS);
        qf[ks][2] = ld_u32(p + 8);
        qf[ks][3] = ld_u32(p + 8 * QS + 8);
    }

    if constexpr (REL) {
        // Queries past N stand in for the last token (their q is zero; their rows are never written out).
        const int n_lo = min(q0 + wr, N - 1), n_hi = min(q0 + wr + 15, N - 1);
        const int qh_lo = n_lo / W, qh_hi = n_hi / W;
        const int na = min(q0 + ra, N - 1), nb = min(q0 + rb, N - 1);
        const int qha = na / W, qhb = nb / W;
        rel_bias_table<HD>(qf, Rh, 2 * H - 1, qh_lo, qh_hi + H - 1, qha, qhb, H, relh, SH, ra, g, t);
        const bool one_row = qh_lo == qh_hi;
        const int qw_lo = one_row ? n_lo - qh_lo * W : 0, qw_hi = one_row ? n_hi - qh_hi * W : W - 1;
        rel_bias_table<HD>(qf, Rw, 2 * W - 1, qw_lo, qw_hi + W - 1, na - qha * W, nb - qhb * W, W, relw, SW, ra, g, t);
        __syncwarp();  // each warp reads only the rows it wrote
    }

    float o[DT][4];
#pragma unroll
    for (int j = 0; j < DT; ++j) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.0f;
    float m_a = -INFINITY, m_b = -INFINITY, l_a = 0.0f, l_b = 0.0f;

    const int ntiles = (N + kBK - 1) / kBK;
    for (int it = 0; it < ntiles; ++it) {
        const int k0 = it * kBK;
        const int buf = it & 1;
        if (it + 1 < ntiles) {  // the other buffer was released by the barrier that ended the previous tile
            load_tile_async<HD>(Ks + (buf ^ 1) * kBK * QS, Kg, k0 + kBK, N);
            load_tile_async<HD>(Vs + (buf ^ 1) * kBK * QS, Vg, k0 + kBK, N);
            cp_async_commit();
        }
        const __nv_bfloat16 * Kb = Ks + buf * kBK * QS;
        const __nv_bfloat16 * Vb = Vs + buf * kBK * QS;

        // S = q k^T (16 x 64 per warp).
        float s[8][4];
#pragma unroll
        for (int nt = 0; nt < 8; ++nt) {
            s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;
            const __nv_bfloat16 * kp = Kb + (nt * 8 + g) * QS + 2 * t;
#pragma unroll
            for (int ks = 0; ks < KSTEPS; ++ks) mma_bf16(s[nt], qf[ks], ld_u32(kp + ks * 16), ld_u32(kp + ks * 16 + 8));
        }

        // Logits in log2 units with the bias; keys past N masked. Columns n, n + 1 of a lane share a grid
        // row (n is even and, with the bias, W is even).
        float mx_a = -INFINITY, mx_b = -INFINITY;
#pragma unroll
        for (int nt = 0; nt < 8; ++nt) {
            const int n = k0 + nt * 8 + 2 * t;
            float ba0 = 0.0f, ba1 = 0.0f, bb0 = 0.0f, bb1 = 0.0f;
            if constexpr (REL) {
                if (n < N) {
                    const int kh = __float2int_rz(((float) n + 0.5f) * inv_w);
                    const int kw = n - kh * W;
                    const float rha = relh[ra * SH + kh], rhb = relh[rb * SH + kh];
                    const float2 rwa = *reinterpret_cast<const float2 *>(relw + ra * SW + kw);
                    const float2 rwb = *reinterpret_cast<const float2 *>(relw + rb * SW + kw);
                    ba0 = rha + rwa.x;
                    ba1 = rha + rwa.y;
                    bb0 = rhb + rwb.x;
                    bb1 = rhb + rwb.y;
                }
            }
            const bool v0 = n < N, v1 = n + 1 < N;
            s[nt][0] = v0 ? fmaf(s[nt][0], scale_log2, ba0) : -INFINITY;
            s[nt][1] = v1 ? fmaf(s[nt][1], scale_log2, ba1) : -INFINITY;
            s[nt][2] = v0 ? fmaf(s[nt][2], scale_log2, bb0) : -INFINITY;
            s[nt][3] = v1 ? fmaf(s[nt][3], scale_log2, bb1) : -INFINITY;
            mx_a = fmaxf(mx_a, fmaxf(s[nt][0], s[nt][1]));
            mx_b = fmaxf(mx_b, fmaxf(s[nt][2], s[nt][3]));
        }
        // The four lanes of a row (t = 0..3) hold its 64 columns; every tile has a valid key in t == 0.
        mx_a = fmaxf(mx_a, __shfl_xor_sync(0xffffffffu, mx_a, 1));
        mx_a = fmaxf(mx_a, __shfl_xor_sync(0xffffffffu, mx_a, 2));
        mx_b = fmaxf(mx_b, __shfl_xor_sync(0xffffffffu, mx_b, 1));
        mx_b = fmaxf(mx_b, __shfl_xor_sync(0xffffffffu, mx_b, 2));
        const float mn_a = fmaxf(m_a, mx_a), mn_b = fmaxf(m_b, mx_b);
        const float corr_a = exp2f(m_a - mn_a), corr_b = exp2f(m_b - mn_b);  // 0 on the first tile
        m_a = mn_a;
        m_b = mn_b;
        l_a *= corr_a;
        l_b *= corr_b;
#pragma unroll
        for (int j = 0; j < DT; ++j) {
            o[j][0] *= corr_a;
            o[j][1] *= corr_a;
            o[j][2] *= corr_b;
            o[j][3] *= corr_b;
        }
#pragma unroll
        for (int nt = 0; nt < 8; ++nt) {
            s[nt][0] = exp2f(s[nt][0] - mn_a);
            s[nt][1] = exp2f(s[nt][1] - mn_a);
            s[nt][2] = exp2f(s[nt][2] - mn_b);
            s[nt][3] = exp2f(s[nt][3] - mn_b);
            l_a += s[nt][0] + s[nt][1];
            l_b += s[nt][2] + s[nt][3];
        }

        // O += P V: the accumulators of key n-tiles 2j, 2j+1 are the A fragment of k-step j.
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            const uint32_t a[4] = {pack_bf16(s[2 * j][0], s[2 * j][1]), pack_bf16(s[2 * j][2], s[2 * j][3]),
                                   pack_bf16(s[2 * j + 1][0], s[2 * j + 1][1]),
                                   pack_bf16(s[2 * j + 1][2], s[2 * j + 1][3])};
            const __nv_bfloat16 * vp = Vb + (j * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * QS + (lane >> 4) * 8;
#pragma unroll
            for (int dp = 0; dp < KSTEPS; ++dp) {
                uint32_t b0, b1, b2, b3;
                ldmatrix_x4_trans(b0, b1, b2, b3, vp + dp * 16);
                mma_bf16(o[2 * dp], a, b0, b1);
                mma_bf16(o[2 * dp + 1], a, b2, b3);
            }
        }

        cp_async_wait_all();
        __syncthreads();
    }

    l_a += __shfl_xor_sync(0xffffffffu, l_a, 1);
    l_a += __shfl_xor_sync(0xffffffffu, l_a, 2);
    l_b += __shfl_xor_sync(0xffffffffu, l_b, 1);
    l_b += __shfl_xor_sync(0xffffffffu, l_b, 2);
    const int C = nh * HD;
    const int na = q0 + ra, nb = q0 + rb;
    if (na < N) {
        const float inv = 1.0f / l_a;
        float * orow = out + ((int64_t) b * N + na) * C + h * HD + 2 * t;
#pragma unroll
        for (int j = 0; j < DT; ++j)
            *reinterpret_cast<float2 *>(orow + j * 8) = make_float2(o[j][0] * inv, o[j][1] * inv);
    }
    if (nb < N) {
        const float inv = 1.0f / l_b;
        float * orow = out + ((int64_t) b * N + nb) * C + h * HD + 2 * t;
#pragma unroll
        for (int j = 0; j < DT; ++j)
            *reinterpret_cast<float2 *>(orow + j * 8) = make_float2(o[j][2] * inv, o[j][3] * inv);
    }
}

template <int HD, bool REL>
void launch_tc(const __nv_bfloat16 * qkv16, float * out, int64_t B, int64_t H, int64_t W, int64_t nh, const float * Rh,
               const float * Rw, cudaStream_t stream) {
    const size_t bytes = smem_bytes<HD>(REL, H, W);
    // Set every launch: the attribute is per kernel and the largest request so far must stay allowed.
    SA_CUDA_CHECK(cudaFuncSetAttribute(attention_vit_bf16_kernel<HD, REL>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       (int) bytes));
    const int64_t N = H * W;
    const dim3 grid(ceil_div_u(N, kBQ), (unsigned) nh, (unsigned) B);
    const float scale_log2 = kLog2e / std::sqrt((float) HD);
    attention_vit_bf16_kernel<HD, REL>
        <<<grid, kThreadsTC, bytes, stream>>>(qkv16, out, (int) N, (int) H, (int) W, (int) nh, Rh, Rw, scale_log2,
                                              1.0f / (float) W, relh_stride(H), relw_stride(W));
    SA_CUDA_LAUNCH_CHECK();
}

template <int HD>
void launch_hd(const __nv_bfloat16 * qkv16, float * out, int64_t B, int64_t H, int64_t W, int64_t nh, const float * Rh,
               const float * Rw, cudaStream_t stream) {
    if (Rh) launch_tc<HD, true>(qkv16, out, B, H, W, nh, Rh, Rw, stream);
    else launch_tc<HD, false>(qkv16, out, B, H, W, nh, Rh, Rw, stream);
}

}  // namespace

bool attention_vit_bf16_supported(const float * qkv, const float * out, int64_t H, int64_t W, int64_t hd, bool use_rel,
                                  size_t max_smem) {
    if (hd != 64 && hd != 80 && hd != 128) return false;
    if (use_rel && (W % 2) != 0) return false;      // the bias reads column pairs within one grid row
    if (H * W >= (int64_t(1) << 21)) return false;  // exact float division n / W for the bias lookup
    if ((reinterpret_cast<uintptr_t>(qkv) | reinterpret_cast<uintptr_t>(out)) % 16 != 0) return false;
    return smem_bytes_for(hd, use_rel, H, W) <= max_smem;
}

size_t attention_vit_bf16_scratch_bytes(int64_t B, int64_t H, int64_t W, int64_t nh, int64_t hd) {
    return (size_t) (3 * B * H * W * nh * hd) * sizeof(__nv_bfloat16);
}

void launch_attention_vit_bf16(const float * qkv, float * out, int64_t B, int64_t H, int64_t W, int64_t nh, int64_t hd,
                               const float * Rh, const float * Rw, void * scratch, cudaStream_t stream) {
    const int64_t N = H * W;
    auto * qkv16 = static_cast<__nv_bfloat16 *>(scratch);
    const int64_t groups = B * N * 3 * nh * (hd / 8);
    qkv_to_bf16_heads_kernel<<<grid_for(groups), kThreads, 0, stream>>>(qkv, qkv16, B, (int) N, (int) nh, (int) hd);
    SA_CUDA_LAUNCH_CHECK();
    switch (hd) {
        case 64:
            return launch_hd<64>(qkv16, out, B, H, W, nh, Rh, Rw, stream);
        case 80:
            return launch_hd<80>(qkv16, out, B, H, W, nh, Rh, Rw, stream);
        case 128:
            return launch_hd<128>(qkv16, out, B, H, W, nh, Rh, Rw, stream);
        default:
            sa::fail(SA_ERR_UNSUPPORTED,
                     "attention_vit (bf16): head dim " + std::to_string(hd) + " has no tensor-core kernel");
    }
}

}  // namespace cuda
}  // namespace sa
