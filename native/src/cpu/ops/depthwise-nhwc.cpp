// SPDX-License-Identifier: Apache-2.0
// Depthwise 3x3 convolution (stride 1, zero padding 1) on channels-last tokens (see
// Backend::depthwise3x3_nhwc): each output pixel is C lanes of fused multiply-adds over its in-image
// taps in row-major order, vectorised across channels, so no layout transposes are needed. Threads
// claim ranges of output rows; every output is computed the same way whatever the ranges.
#include <cmath>
#include <string>
#include <vector>

#include "cpu/backend-cpu.h"
#include "cpu/kernels-avx512.h"
#include "cpu/simd.h"
#include "sa/threadpool.h"

namespace sa {

void CpuBackend::depthwise3x3_nhwc_impl(const Depthwise3x3NhwcArgs & a) {
    const auto & [x, w, b, y, B, H, W, C] = a;
    // Taps as [9][C] so that a tap's weights for consecutive channels are contiguous.
    std::vector<float> taps((size_t) (9 * C));
    for (int64_t c = 0; c < C; ++c)
        for (int64_t k = 0; k < 9; ++k) taps[(size_t) (k * C + c)] = w[c * 9 + k];
    const float * wt = taps.data();
#if defined(SA_HAVE_AVX512)
    const bool avx512 = cpu::use_avx512();
#endif
    pool()->parallel_for(B * H, [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
            const int64_t bi = t / H, oy = t % H;
            const float * img = x + bi * H * W * C;
            for (int64_t ox = 0; ox < W; ++ox) {
                // In-image taps of this pixel: input pixel offsets and tap indices.
                const float * src[9];
                const float * tw[9];
                int n = 0;
                for (int64_t i = 0; i < 3; ++i) {
                    const int64_t iy = oy + i - 1;
                    if (iy < 0 || iy >= H) continue;
                    for (int64_t j = 0; j < 3; ++j) {
                        const int64_t ix = ox + j - 1;
                        if (ix < 0 || ix >= W) continue;
                        src[n] = img + (iy * W + ix) * C;
                        tw[n] = wt + (i * 3 + j) * C;
                        ++n;
                    }
                }
                float * yo = y + (t * W + ox) * C;
#if defined(SA_HAVE_AVX512)
                if (avx512) {
                    cpu::avx512::depthwise_pixel_nhwc(src, tw, n, b, yo, C);
                    continue;
                }
#endif
                int64_t c = 0;
#ifdef __AVX2__
                for (; c + 8 <= C; c += 8) {
                    __m256 acc = b ? _mm256_loadu_ps(b + c) : _mm256_setzero_ps();
                    for (int k = 0; k < n; ++k)
                        acc = _mm256_fmadd_ps(_mm256_loadu_ps(tw[k] + c), _mm256_loadu_ps(src[k] + c), acc);
                    _mm256_storeu_ps(yo + c, acc);
                }
#endif
                for (; c < C; ++c) {
                    float acc = b ? b[c] : 0.0f;
                    for (int k = 0; k < n; ++k) acc = std::fma(tw[k][c], src[k][c], acc);
                    yo[c] = acc;
                }
            }
        }
    });
}

}  // namespace sa
