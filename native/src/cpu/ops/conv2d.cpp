// SPDX-License-Identifier: Apache-2.0
// NCHW 2-D convolution with zero padding, stride and groups. Depthwise convolutions (groups == C)
// run a direct kernel; wide 3x3 / stride 1 / padding 1 ones Winograd F(2x2, 3x3) (conv2d-winograd.cpp);
// 1x1 / stride 1 / no padding is one GEMM per image and group; everything else is im2col + GEMM in bands of output
// rows: Y_g[O/g, band] = W_g[O/g, C/g*kh*kw] * col[C/g*kh*kw, band], each thread filling its own band's columns in a
// reused buffer, so the columns of the whole image (kh*kw times the input) are never materialised. Every output element
// is one GEMM dot product with the same k-order whatever the banding, so results do not depend on the thread count.
#include <algorithm>
#include <string>
#include <vector>

#include "cpu/backend-cpu.h"
#include "cpu/ops/conv2d-winograd.h"
#include "sa/gemm.h"
#include "sa/threadpool.h"

namespace sa {

namespace {

struct ConvShape {
    int64_t B, C, H, W, O, kh, kw, stride, pad, groups, Ho, Wo;
};

inline int64_t floor_div(int64_t a, int64_t b) {
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

// Output columns [lo, hi) whose input column ox*stride + j - pad lies inside [0, W).
inline void valid_cols(const ConvShape & s, int64_t j, int64_t & lo, int64_t & hi) {
    lo = std::min(s.Wo, std::max<int64_t>(0, -floor_div(j - s.pad, s.stride)));
    hi = std::max(lo, std::min(s.Wo, floor_div(s.W - 1 + s.pad - j, s.stride) + 1));
}

// Output rows [oy0, oy1) as columns: col[(c*kh + i)*kw + j, (oy - oy0)*Wo + ox] =
// x[c, oy*stride + i - pad, ox*stride + j - pad] (0 outside).
void im2col_rows(const float * x, float * col, int64_t Cg, const ConvShape & s, int64_t oy0, int64_t oy1) {
    const int64_t rows = Cg * s.kh * s.kw, cols = (oy1 - oy0) * s.Wo;
    for (int64_t r = 0; r < rows; ++r) {
        const int64_t c = r / (s.kh * s.kw), i = (r / s.kw) % s.kh, j = r % s.kw;
        const float * xc = x + c * s.H * s.W;
        float * dst = col + r * cols;
        int64_t ox_lo, ox_hi;
        valid_cols(s, j, ox_lo, ox_hi);
        for (int64_t oy = oy0; oy < oy1; ++oy) {
            float * d = dst + (oy - oy0) * s.Wo;
            const int64_t iy = oy * s.stride + i - s.pad;
            if (iy < 0 || iy >= s.H) {
                std::fill(d, d + s.Wo, 0.0f);
                continue;
            }
            const float * xr = xc + iy * s.W + j - s.pad;
            std::fill(d, d + ox_lo, 0.0f);
            if (s.stride == 1) {
                std::copy(xr + ox_lo, xr + ox_hi, d + ox_lo);
            } else {
                for (int64_t ox = ox_lo; ox < ox_hi; ++ox) d[ox] = xr[ox * s.stride];
            }
            std::fill(d + ox_hi, d + s.Wo, 0.0f);
        }
    }
}

// Output rows per band: about kBandCols output pixels (at least one row).
constexpr int64_t kBandCols = 512;

// Depthwise: output channel o reads input channel o / (O / C).
void depthwise(ThreadPool & pool, const float * x, const float * Wt, const float * bias, float * y,
               const ConvShape & s) {
    const int64_t mult = s.O / s.C;
    pool.parallel_for(s.B * s.O, [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
            const int64_t b = t / s.O, o = t % s.O, c = o / mult;
            const float * xc = x + (b * s.C + c) * s.H * s.W;
            const float * wo = Wt + o * s.kh * s.kw;
            float * yo = y + (b * s.O + o) * s.Ho * s.Wo;
            const float b0 = bias ? bias[o] : 0.0f;
            for (int64_t oy = 0; oy < s.Ho; ++oy) {
                float * yr = yo + oy * s.Wo;
                std::fill(yr, yr + s.Wo, b0);
                for (int64_t i = 0; i < s.kh; ++i) {
                    const int64_t iy = oy * s.stride + i - s.pad;
                    if (iy < 0 || iy >= s.H) continue;
                    for (int64_t j = 0; j < s.kw; ++j) {
                        const float w = wo[i * s.kw + j];
                        int64_t lo, hi;
                        valid_cols(s, j, lo, hi);
                        const float * xr = xc + iy * s.W + j - s.pad;
                        if (s.stride == 1) {
                            for (int64_t ox = lo; ox < hi; ++ox) yr[ox] += w * xr[ox];
                        } else {
                            for (int64_t ox = lo; ox < hi; ++ox) yr[ox] += w * xr[ox * s.stride];
                        }
                    }
                }
            }
        }
    });
}

}  // namespace

void CpuBackend::conv2d_impl(const Conv2dArgs & a) {
    const auto & [x, W, b, y, B, C, H, Wd, O, kh, kw, stride, pad, groups] = a;
    const ConvShape s{
        B, C, H, Wd, O, kh, kw, stride, pad, groups, (H + 2 * pad - kh) / stride + 1, (Wd + 2 * pad - kw) / stride + 1};
    const std::shared_ptr<ThreadPool> held = pool();
    ThreadPool & pool = *held;
    if (groups == C && groups > 1) {
        depthwise(pool, x, W, b, y, s);
        return;
    }
    if (cpu::winograd_applies(a)) {
        cpu::conv2d_winograd(pool, a);
        return;
    }
    const int64_t Cg = C / groups, Og = O / groups, HWo = s.Ho * s.Wo, Kg = Cg * kh * kw;
    const bool direct = kh == 1 && kw == 1 && stride == 1 && pad == 0;
    if (direct) {
        for (int64_t bi = 0; bi < B; ++bi) {
            float * yb = y + bi * O * HWo;
            if (b) {
                pool.parallel_for(O, [&](int64_t o0, int64_t o1) {
                    for (int64_t o = o0; o < o1; ++o) std::fill(yb + o * HWo, yb + (o + 1) * HWo, b[o]);
                });
            }
            for (int64_t g = 0; g < groups; ++g)
                sgemm(false, false, Og, HWo, Kg, 1.0f, W + g * Og * Kg, Kg, x + (bi * C + g * Cg) * H * Wd, HWo,
                      b ? 1.0f : 0.0f, y + (bi * O + g * Og) * HWo, HWo, pool);
        }
        return;
    }
    const int64_t band = std::max<int64_t>(1, kBandCols / s.Wo), bands = (s.Ho + band - 1) / band;
    pool.parallel_for(B * groups * bands, [&](int64_t t0, int64_t t1) {
        thread_local std::vector<float> col;
        col.resize((size_t) (Kg * band * s.Wo));
        for (int64_t t = t0; t < t1; ++t) {
            const int64_t bi = t / (groups * bands), g = (t / bands) % groups, oy0 = (t % bands) * band;
            const int64_t oy1 = std::min(s.Ho, oy0 + band), cols = (oy1 - oy0) * s.Wo;
            im2col_rows(x + (bi * C + g * Cg) * H * Wd, col.data(), Cg, s, oy0, oy1);
            float * yt = y + (bi * O + g * Og) * HWo + oy0 * s.Wo;
            if (b) {
                for (int64_t o = 0; o < Og; ++o) std::fill(yt + o * HWo, yt + o * HWo + cols, b[g * Og + o]);
            }
            sgemm_serial(false, false, Og, cols, Kg, 1.0f, W + g * Og * Kg, Kg, col.data(), cols, b ? 1.0f : 0.0f, yt,
                         HWo);
        }
    });
}

}  // namespace sa
