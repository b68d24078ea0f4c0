// SPDX-License-Identifier: Apache-2.0
// SAM's mask head (see sa::Backend::mask_head): GELU of the sub-pixel-ordered upscaled features, the
// hypernetwork product and the scatter to raster order in one pass, and the backward pass (GELU as in
// the forward pass and its derivative from one evaluation of erf, the feature gradient and the
// hypernetwork gradient) in another. Work is split over rows i of the E x E input grid; each of them
// owns the 16 feature rows of its pixels and 4 output rows of every mask. The hypernetwork gradient is
// summed per grid row, then over grid rows in order, so results do not depend on the thread count.
// At level avx512 and above, rows whose channel count is a multiple of 16 run the 16-lane kernels of
// isa/mask-head-avx512.cpp (the same row partition; the forward sums in another order).
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "cpu/backend-cpu.h"
#include "cpu/kernels-avx512.h"
#include "cpu/simd.h"
#include "sa/threadpool.h"

namespace sa {

namespace {

constexpr int64_t kSub = 16;  // feature rows per input pixel (4 taps x 4 taps)

float * scratch(int slot, size_t n) {
    thread_local std::vector<float> bufs[2];
    std::vector<float> & b = bufs[slot];
    if (b.size() < n) b.resize(n);
    return b.data();
}

// Raster offset (within one 4E x 4E mask) of sub-pixel row r of input pixel (i, j).
inline int64_t raster(int64_t r, int64_t i, int64_t j, int64_t E) {
    const int64_t s1 = r >> 2, s2 = r & 3;
    const int64_t y = 4 * i + 2 * (s1 >> 1) + (s2 >> 1);
    const int64_t x = 4 * j + 2 * (s1 & 1) + (s2 & 1);
    return y * 4 * E + x;
}

#ifdef __AVX2__
// [sum(a[0]), ..., sum(a[7])]
inline __m256 reduce8(const __m256 * a) {
    const __m256 t0 = _mm256_hadd_ps(a[0], a[1]), t1 = _mm256_hadd_ps(a[2], a[3]);
    const __m256 t2 = _mm256_hadd_ps(a[4], a[5]), t3 = _mm256_hadd_ps(a[6], a[7]);
    const __m256 u0 = _mm256_hadd_ps(t0, t1), u1 = _mm256_hadd_ps(t2, t3);
    return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}
#endif

// v[r] = sum_c g[r * Cf + c] h[c] for the kSub rows of g.
void dot_rows(const float * g, const float * h, int64_t Cf, float * v) {
#ifdef __AVX2__
    if (Cf % 8 == 0) {
        for (int64_t r0 = 0; r0 < kSub; r0 += 8) {
            __m256 acc[8];
            for (int k = 0; k < 8; ++k) acc[k] = _mm256_setzero_ps();
            for (int64_t c = 0; c < Cf; c += 8) {
                const __m256 hc = _mm256_loadu_ps(h + c);
                for (int k = 0; k < 8; ++k)
                    acc[k] = _mm256_fmadd_ps(_mm256_loadu_ps(g + (r0 + k) * Cf + c), hc, acc[k]);
            }
            _mm256_storeu_ps(v + r0, reduce8(acc));
        }
        return;
    }
#endif
    for (int64_t r = 0; r < kSub; ++r) {
        float s = 0.0f;
        for (int64_t c = 0; c < Cf; ++c) s += g[r * Cf + c] * h[c];
        v[r] = s;
    }
}

}  // namespace

void CpuBackend::mask_head_impl(const MaskHeadArgs & a) {
    const auto & [feat, hyper, masks, B, M, E, Cf] = a;
    const int64_t P = kSub * E * E;
#if defined(SA_HAVE_AVX512)
    if (cpu::use_avx512() && Cf % 16 == 0 && Cf <= cpu::avx512::kMaskHeadMaxCf) {
        pool()->parallel_for(B * E, [&](int64_t t0, int64_t t1) {
            for (int64_t t = t0; t < t1; ++t) {
                const int64_t b = t / E;
                cpu::avx512::mask_head_row(feat + b * P * Cf, hyper + b * Cf, B * Cf, M, masks + b * M * P, P, t % E, E,
                                           Cf);
            }
        });
        return;
    }
#endif
    pool()->parallel_for(B * E, [&](int64_t t0, int64_t t1) {
        float * g = scratch(0, (size_t) (kSub * Cf));
        float v[kSub];
        for (int64_t t = t0; t < t1; ++t) {
            const int64_t b = t / E, i = t % E;
            for (int64_t j = 0; j < E; ++j) {
                const float * x = feat + (b * P + (i * E + j) * kSub) * Cf;
                int64_t n = 0;
#ifdef __AVX2__
                for (; n + 8 <= kSub * Cf; n += 8) _mm256_storeu_ps(g + n, cpu::gelu256(_mm256_loadu_ps(x + n)));
#endif
                for (; n < kSub * Cf; ++n) g[n] = cpu::gelu_scalar(x[n]);
                for (int64_t m = 0; m < M; ++m) {
                    dot_rows(g, hyper + (m * B + b) * Cf, Cf, v);
                    float * out = masks + (b * M + m) * P;
                    for (int64_t r = 0; r < kSub; ++r) out[raster(r, i, j, E)] = v[r];
                }
            }
        }
    });
}

void CpuBackend::mask_head_backward_impl(const MaskHeadBackwardArgs & a) {
    const auto & [feat, hyper, dmasks, dfeat, dhyper, B, M, E, Cf] = a;
    const int64_t P = kSub * E * E, MC = M * Cf;
    // Per grid row partial sums of dhyper: [B * E, M, Cf].
    thread_local std::vector<float> part_buf;
    if (dhyper && part_buf.size() < (size_t) (B * E * MC)) part_buf.resize((size_t) (B * E * MC));
    float * part = part_buf.data();
#if defined(SA_HAVE_AVX512)
    const bool wide = cpu::use_avx512() && Cf % 16 == 0 && Cf <= cpu::avx512::kMaskHeadMaxCf;
#endif
    pool()->parallel_for(B * E, [&](int64_t t0, int64_t t1) {
        float * dm = scratch(0, (size_t) M);
        for (int64_t t = t0; t < t1; ++t) {
            const int64_t b = t / E, i = t % E;
            float * dh = dhyper ? part + t * MC : nullptr;
            if (dh) std::fill(dh, dh + MC, 0.0f);
#if defined(SA_HAVE_AVX512)
            if (wide) {
                cpu::avx512::mask_head_backward_row(feat + b * P * Cf, hyper + b * Cf, B * Cf, M, dmasks + b * M * P, P,
                                                    dfeat ? dfeat + b * P * Cf : nullptr, dh, i, E, Cf);
                continue;
            }
#endif
            for (int64_t j = 0; j < E; ++j)
                for (int64_t r = 0; r < kSub; ++r) {
                    const int64_t row = b * P + (i * E + j) * kSub + r;
                    const int64_t pix = raster(r, i, j, E);
                    for (int64_t m = 0; m < M; ++m) dm[m] = dmasks[(b * M + m) * P + pix];
                    const float * x = feat + row * Cf;
                    float * dx = dfeat ? dfeat + row * Cf : nullptr;
                    int64_t c = 0;
#ifdef __AVX2__
                    for (; c + 8 <= Cf; c += 8) {
                        const __m256 xv = _mm256_loadu_ps(x + c);
                        const __m256 e = cpu::gelu_erf256(xv);
                        if (dx) {
                            __m256 gs = _mm256_setzero_ps();
                            for (int64_t m = 0; m < M; ++m) {
                                const __m256 h = _mm256_loadu_ps(hyper + (m * B + b) * Cf + c);
                                gs = _mm256_fmadd_ps(_mm256_set1_ps(dm[m]), h, gs);
                            }
                            _mm256_storeu_ps(dx + c, _mm256_mul_ps(gs, cpu::gelu_grad_from_erf256(xv, e)));
                        }
                        if (dh) {
                            const __m256 gel = cpu::gelu_from_erf256(xv, e);
                            for (int64_t m = 0; m < M; ++m) {
                                float * d = dh + m * Cf + c;
                                _mm256_storeu_ps(d, _mm256_fmadd_ps(_mm256_set1_ps(dm[m]), gel, _mm256_loadu_ps(d)));
                            }
                        }
                    }
#endif
                    for (; c < Cf; ++c) {
                        const float e = cpu::gelu_erf_scalar(x[c]);
                        if (dx) {
                            float gs = 0.0f;
                            for (int64_t m = 0; m < M; ++m) gs += dm[m] * hyper[(m * B + b) * Cf + c];
                            dx[c] = gs * cpu::gelu_grad_scalar_from_erf(x[c], e);
                        }
                        if (dh) {
                            const float gel = std::fma(0.5f * x[c], e, 0.5f * x[c]);
                            for (int64_t m = 0; m < M; ++m) dh[m * Cf + c] += dm[m] * gel;
                        }
                    }
                }
        }
    });
    if (!dhyper) return;
    for (int64_t b = 0; b < B; ++b)
        for (int64_t m = 0; m < M; ++m) {
            float * o = dhyper + (m * B + b) * Cf;
            const float * s0 = part + b * E * MC + m * Cf;
            std::copy(s0, s0 + Cf, o);
            for (int64_t i = 1; i < E; ++i) {
                const float * s = s0 + i * MC;
                for (int64_t c = 0; c < Cf; ++c) o[c] += s[c];
            }
        }
}

}  // namespace sa
