// SPDX-License-Identifier: Apache-2.0
// Bilinear resize with align_corners=False (PyTorch's F.interpolate(mode="bilinear")), forward and
// backward, per plane. Output pixel (oy, ox) reads the source coordinate s = (o + 0.5) * in / out - 0.5
// (clamped at 0) on each axis: i0 = floor(s), i1 = min(i0 + 1, in - 1), weights 1 - l and l with
// l = s - i0. The taps of each output row and column are computed once per call. The backward pass
// gives every tap its share of dy; planes are split over the backend's threads (one thread writes a plane), so
// the result does not depend on the thread count.
#include <cmath>
#include <string>
#include <vector>

#include "cpu/backend-cpu.h"
#include "sa/threadpool.h"

namespace sa {

namespace {

struct Taps {
    std::vector<int64_t> i0, i1;
    std::vector<float> l;
};

Taps make_taps(int64_t in, int64_t out) {
    Taps t;
    t.i0.resize((size_t) out);
    t.i1.resize((size_t) out);
    t.l.resize((size_t) out);
    const double scale = (double) in / (double) out;
    for (int64_t o = 0; o < out; ++o) {
        double s = ((double) o + 0.5) * scale - 0.5;
        if (s < 0.0) s = 0.0;
        int64_t i0 = (int64_t) std::floor(s);
        if (i0 > in - 1) i0 = in - 1;
        t.i0[(size_t) o] = i0;
        t.i1[(size_t) o] = i0 + 1 < in ? i0 + 1 : in - 1;
        t.l[(size_t) o] = (float) (s - (double) i0);
    }
    return t;
}

void check_sizes(const char * op, int64_t N, int64_t H, int64_t Wd, int64_t Ho, int64_t Wo) {
    SA_CHECK_ARG(N >= 0 && H > 0 && Wd > 0 && Ho > 0 && Wo > 0, std::string(op) + ": bad size");
}

}  // namespace

void CpuBackend::upsample_bilinear(const float * x, float * y, int64_t N, int64_t H, int64_t Wd, int64_t Ho,
                                   int64_t Wo) {
    check_sizes("upsample_bilinear", N, H, Wd, Ho, Wo);
    if (N == 0) return;
    SA_CHECK_ARG(x && y, "upsample_bilinear: null pointer");
    const Taps ty = make_taps(H, Ho), tx = make_taps(Wd, Wo);
    pool()->parallel_for(N, [&](int64_t n0, int64_t n1) {
        for (int64_t n = n0; n < n1; ++n) {
            const float * xp = x + n * H * Wd;
            float * yp = y + n * Ho * Wo;
            for (int64_t oy = 0; oy < Ho; ++oy) {
                const float ly = ty.l[(size_t) oy];
                const float * r0 = xp + ty.i0[(size_t) oy] * Wd;
                const float * r1 = xp + ty.i1[(size_t) oy] * Wd;
                float * yr = yp + oy * Wo;
                for (int64_t ox = 0; ox < Wo; ++ox) {
                    const int64_t a = tx.i0[(size_t) ox], b = tx.i1[(size_t) ox];
                    const float lx = tx.l[(size_t) ox];
                    const float top = (1.0f - lx) * r0[a] + lx * r0[b];
                    const float bottom = (1.0f - lx) * r1[a] + lx * r1[b];
                    yr[ox] = (1.0f - ly) * top + ly * bottom;
                }
            }
        }
    });
}

void CpuBackend::upsample_bilinear_backward(const float * dy, float * dx, int64_t N, int64_t H, int64_t Wd, int64_t Ho,
                                            int64_t Wo) {
    check_sizes("upsample_bilinear_backward", N, H, Wd, Ho, Wo);
    if (N == 0) return;
    SA_CHECK_ARG(dy && dx, "upsample_bilinear_backward: null pointer");
    const Taps ty = make_taps(H, Ho), tx = make_taps(Wd, Wo);
    pool()->parallel_for(N, [&](int64_t n0, int64_t n1) {
        for (int64_t n = n0; n < n1; ++n) {
            const float * dyp = dy + n * Ho * Wo;
            float * dxp = dx + n * H * Wd;
            for (int64_t i = 0; i < H * Wd; ++i) dxp[i] = 0.0f;
            for (int64_t oy = 0; oy < Ho; ++oy) {
                const float ly = ty.l[(size_t) oy];
                float * r0 = dxp + ty.i0[(size_t) oy] * Wd;
                float * r1 = dxp + ty.i1[(size_t) oy] * Wd;
                const float * g = dyp + oy * Wo;
                for (int64_t ox = 0; ox < Wo; ++ox) {
                    const int64_t a = tx.i0[(size_t) ox], b = tx.i1[(size_t) ox];
                    const float lx = tx.l[(size_t) ox];
                    const float top = (1.0f - ly) * g[ox], bottom = ly * g[ox];
                    r0[a] += (1.0f - lx) * top;
                    r0[b] += lx * top;
                    r1[a] += (1.0f - lx) * bottom;
                    r1[b] += lx * bottom;
                }
            }
        }
    });
}

}  // namespace sa
