// SPDX-License-Identifier: Apache-2.0
// TinyViT's MBConv block fused row by row (see Backend::tinyvit_mbconv). The output rows are cut into
// bands that threads claim; per row a band needs the expanded activations GELU(conv1x1(x)) of the
// rows above, at and below it, kept in a 3-row ring (each computed once per band), then runs the
// 3x3 depthwise conv + GELU on that row and the 1x1 projection + residual + GELU straight into y.
// The wide hidden tensor (hidden x H x W) never leaves the cache: the ring and the depthwise output
// row take 4 * hidden * W floats (1 MiB for MobileSAM's stage 0). Every output element is computed
// the same way whatever the bands and the thread count.
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "cpu/backend-cpu.h"
#include "cpu/gemm-kernel.h"
#include "cpu/kernels-avx512.h"
#include "cpu/ops/tinyvit-fused.h"
#include "sa/gemm.h"
#include "sa/threadpool.h"

namespace sa {

namespace {

// o[p] = GELU(bias + sum_i (w[3i] s_i[p-1] + w[3i+1] s_i[p] + w[3i+2] s_i[p+1])) for p < W: one row of
// a 3x3 depthwise convolution with zero padding, rows[i] the input rows above, at and below
// (nullptr outside the image). Each output is the same chain of fused multiply-adds in either path.
void depthwise3_row_gelu(const float * const rows[3], const float * w, float bias, float * o, int64_t W) {
#if defined(SA_HAVE_AVX512)
    if (cpu::use_avx512()) return cpu::avx512::depthwise3_row_gelu(rows, w, bias, o, W);
#endif
    auto scalar = [&](int64_t p) {
        float acc = bias;
        for (int64_t i = 0; i < 3; ++i) {
            if (!rows[i]) continue;
            const float * s = rows[i];
            if (p > 0) acc = std::fma(w[3 * i], s[p - 1], acc);
            acc = std::fma(w[3 * i + 1], s[p], acc);
            if (p + 1 < W) acc = std::fma(w[3 * i + 2], s[p + 1], acc);
        }
        o[p] = cpu::gelu_scalar(acc);
    };
    scalar(0);
    int64_t p = 1;
#ifdef __AVX2__
    __m256 wv[9];
    for (int64_t k = 0; k < 9; ++k) wv[k] = _mm256_set1_ps(w[k]);
    const __m256 vb = _mm256_set1_ps(bias);
    for (; p + 9 <= W; p += 8) {
        __m256 acc = vb;
        for (int64_t i = 0; i < 3; ++i) {
            if (!rows[i]) continue;
            const float * s = rows[i] + p;
            acc = _mm256_fmadd_ps(wv[3 * i], _mm256_loadu_ps(s - 1), acc);
            acc = _mm256_fmadd_ps(wv[3 * i + 1], _mm256_loadu_ps(s), acc);
            acc = _mm256_fmadd_ps(wv[3 * i + 2], _mm256_loadu_ps(s + 1), acc);
        }
        _mm256_storeu_ps(o + p, cpu::gelu256(acc));
    }
#endif
    for (; p < W; ++p) scalar(p);
}

struct MbconvScratch {
    std::vector<float> ring, dw;
};

}  // namespace

void CpuBackend::tinyvit_mbconv_impl(const TinyVitMbconvArgs & a) {
    const auto & [x, w1, b1, w2, b2, w3, b3, y, B, C, H, W, Hd] = a;
    const int64_t HW = H * W;
    // A bf16 backend runs the two 1x1 convolutions on the level's bf16 products (operands rounded as
    // they are packed, fp32 accumulation), like the encoder's other products.
    const cpu::GemmKernel * products = encoder_products();
    // Bands of rows go to whichever thread is free; a band computes its own halo rows of the hidden
    // activations (the same bits as any other band's), so bands are not made too thin.
    const std::shared_ptr<ThreadPool> held = pool();
    ThreadPool & p = *held;
    p.parallel_chunks(B * H, std::max<int64_t>(p.chunk_for(B * H), 32), [&](int64_t t0, int64_t t1) {
        const cpu::ProductsScope scope(products);
        thread_local MbconvScratch sc;
        sc.ring.resize((size_t) (3 * Hd * W));
        sc.dw.resize((size_t) (Hd * W));
        std::vector<float> & dw = sc.dw;
        // GELU(conv1x1(x) + b1) of row k of image b, [Hd, W].
        cpu::RowRing hidden(sc.ring.data(), Hd * W, [&](int64_t b, int64_t k, float * h) {
            sgemm_serial(false, false, Hd, W, C, 1.0f, w1, C, x + b * C * HW + k * W, HW, 0.0f, h, W);
            for (int64_t c = 0; c < Hd; ++c) cpu::bias_gelu(h + c * W, b1[c], W);
        });
        for (int64_t t = t0; t < t1; ++t) {
            const int64_t b = t / H, r = t % H;
            const float * rows[3] = {r > 0 ? hidden.row(b, r - 1) : nullptr, hidden.row(b, r),
                                     r + 1 < H ? hidden.row(b, r + 1) : nullptr};
            // 3x3 depthwise conv (padding 1) + bias + GELU of row r.
            for (int64_t c = 0; c < Hd; ++c) {
                const float * in[3] = {rows[0] ? rows[0] + c * W : nullptr, rows[1] + c * W,
                                       rows[2] ? rows[2] + c * W : nullptr};
                depthwise3_row_gelu(in, w2 + c * 9, b2[c], dw.data() + c * W, W);
            }
            // 1x1 projection + bias + residual + GELU into row r of y.
            float * yr = y + b * C * HW + r * W;
            sgemm_serial(false, false, C, W, Hd, 1.0f, w3, Hd, dw.data(), W, 0.0f, yr, HW);
            const float * xr = x + b * C * HW + r * W;
            for (int64_t c = 0; c < C; ++c) cpu::bias_residual_gelu(yr + c * HW, b3[c], xr + c * HW, W);
        }
    });
}

}  // namespace sa
