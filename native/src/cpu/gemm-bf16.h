// SPDX-License-Identifier: Apache-2.0
// BF16 products for the frozen encoder weights (CPU backend created with Precision::bf16): the
// weights are rounded to bf16 once, when prepared, and every product rounds its activations to bf16
// and accumulates in fp32, with VDPBF16PS (level avx512bf16) or AMX tiles (level amx).
//
// Packed weight layout, shared by both kernels: op(B) = W^T [K, N] in panels of kBf16Kc rows (the
// last one zero-padded to a multiple of 32), each panel cut into kBf16Nr-column slivers of
// (kc / 2) x 32 dwords, a dword holding the bf16 pair (B[2p, c], B[2p + 1, c]) (low half first).
#pragma once

#include <cstddef>
#include <cstdint>

namespace sa::cpu {

constexpr int64_t kBf16Kc = 256;
constexpr int64_t kBf16Nr = 32;

// fp32 -> bf16, round to nearest even (NaN stays a quiet NaN), as VCVTNEPS2BF16.
static inline uint16_t to_bf16(float x) {
    uint32_t u;
    __builtin_memcpy(&u, &x, 4);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t) ((u >> 16) | 0x40u);
    return (uint16_t) ((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

// 32-bit words needed to pack W [N, K].
size_t packed_bf16_size(int64_t K, int64_t N);
// Packs W [N, K] (row stride K) as op(B) = W^T.
void pack_bf16(const float * W, int64_t N, int64_t K, uint32_t * Bp);

// C[M, N] = A[M, K] Bp + beta * C (+ bias[N] on every row) on the calling thread (beta == 0: C not
// read). Needs level avx512bf16 or amx (throws SA_ERR_UNSUPPORTED below).
void gemm_bf16_prepacked(int64_t M, int64_t N, int64_t K, const float * A, int64_t lda, const uint32_t * Bp, float beta,
                         float * C, int64_t ldc, const float * bias = nullptr);

// Rows of the level's bf16 tile (32 on AMX, 14 with VDPBF16PS): callers that cut M into blocks keep
// them whole tiles, so edge tiles stay rare.
int64_t bf16_row_tile();

// K as packed: whole panels plus the last one rounded up to a multiple of 32.
static inline int64_t bf16_padded_k(int64_t K) {
    const int64_t full = K / kBf16Kc * kBf16Kc;
    return full + (K - full + 31) / 32 * 32;
}

// The kernels of each level (src/cpu/isa/), with the caller's scratch for the packed activations
// (all of A, rows rounded up to 32 plus one spare tile height, bf16_padded_k(K) / 2 words per row;
// 64-byte aligned).
size_t bf16_scratch_words(int64_t M, int64_t K);
#if defined(SA_HAVE_AVX512BF16)
void gemm_bf16_avx512bf16(int64_t M, int64_t N, int64_t K, const float * A, int64_t lda, const uint32_t * Bp,
                          float beta, float * C, int64_t ldc, const float * bias, uint32_t * scratch);
#endif
#if defined(SA_HAVE_AMX)
void gemm_bf16_amx(int64_t M, int64_t N, int64_t K, const float * A, int64_t lda, const uint32_t * Bp, float beta,
                   float * C, int64_t ldc, const float * bias, uint32_t * scratch);
#endif

}  // namespace sa::cpu
