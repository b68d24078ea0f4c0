// SPDX-License-Identifier: Apache-2.0
// BF16 weight packing and the level dispatch of the BF16 products (see cpu/gemm-bf16.h).
#include "cpu/gemm-bf16.h"

#include <algorithm>
#include <cstdlib>
#include <string>

#include "sa/isa.h"
#include "sa/status.h"

namespace sa::cpu {

namespace {

int64_t round_up(int64_t x, int64_t m) {
    return (x + m - 1) / m * m;
}

struct Words {
    ~Words() { std::free(p); }
    uint32_t * get(size_t n) {
        if (n > cap) {
            std::free(p);
            p = static_cast<uint32_t *>(std::aligned_alloc(64, (n * 4 + 63) / 64 * 64));
            if (!p) {
                cap = 0;
                fail(SA_ERR_OOM, "bf16 gemm: out of memory for packing buffers");
            }
            cap = n;
        }
        return p;
    }
    uint32_t * p = nullptr;
    size_t cap = 0;
};

}  // namespace

size_t packed_bf16_size(int64_t K, int64_t N) {
    return (size_t) (bf16_padded_k(K) / 2 * round_up(N, kBf16Nr));
}

void pack_bf16(const float * W, int64_t N, int64_t K, uint32_t * Bp) {
    const int64_t Np = round_up(N, kBf16Nr);
    for (int64_t pc = 0; pc < K; pc += kBf16Kc) {
        const int64_t kc = std::min(kBf16Kc, K - pc), pairs = round_up(kc, 32) / 2;
        uint32_t * panel = Bp + pc / 2 * Np;
        for (int64_t j0 = 0; j0 < Np; j0 += kBf16Nr) {
            uint32_t * s = panel + j0 * pairs;
            for (int64_t c = 0; c < kBf16Nr; ++c) {
                const int64_t j = j0 + c;
                const float * w = W + j * K + pc;
                for (int64_t p = 0; p < pairs; ++p) {
                    const int64_t k = 2 * p;
                    const uint16_t lo = j < N && k < kc ? to_bf16(w[k]) : 0;
                    const uint16_t hi = j < N && k + 1 < kc ? to_bf16(w[k + 1]) : 0;
                    s[p * kBf16Nr + c] = (uint32_t) lo | ((uint32_t) hi << 16);
                }
            }
        }
    }
}

int64_t bf16_row_tile() {
    return cpu_isa() == Isa::amx ? 32 : 14;
}

size_t bf16_scratch_words(int64_t M, int64_t K) {
    return (size_t) ((round_up(std::max<int64_t>(M, 1), 32) + 32) * (bf16_padded_k(K) / 2));
}

void gemm_bf16_prepacked(int64_t M, int64_t N, int64_t K, const float * A, int64_t lda, const uint32_t * Bp, float beta,
                         float * C, int64_t ldc, const float * bias) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {  // no products: C = beta C + bias
        for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 0; j < N; ++j)
                C[i * ldc + j] = (beta == 0.0f ? 0.0f : beta * C[i * ldc + j]) + (bias ? bias[j] : 0.0f);
        return;
    }
    thread_local Words scratch;
    uint32_t * s = scratch.get(bf16_scratch_words(M, K));
    const Isa isa = cpu_isa();
#if defined(SA_HAVE_AMX)
    if (isa == Isa::amx) return gemm_bf16_amx(M, N, K, A, lda, Bp, beta, C, ldc, bias, s);
#endif
#if defined(SA_HAVE_AVX512BF16)
    if (isa >= Isa::avx512bf16) return gemm_bf16_avx512bf16(M, N, K, A, lda, Bp, beta, C, ldc, bias, s);
#endif
    (void) s;
    fail(SA_ERR_UNSUPPORTED,
         std::string("bf16 precision on the CPU needs AVX512_BF16 or AMX; the CPU level in use is ") + isa_name(isa) +
             " (available: " + isa_name(cpu_isa_available()) + ")");
}

}  // namespace sa::cpu
