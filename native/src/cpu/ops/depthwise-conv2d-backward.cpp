// SPDX-License-Identifier: Apache-2.0
// Backward pass of the depthwise NCHW convolution (conv2d with groups == C; TinyViT's PatchMerging and
// local convolutions). Per channel c and tap (i, j), over every image and output pixel whose input
// pixel (oy*s + i - p, ox*s + j - p) lies in the image:
//   dx[c, iy, ix] += W[c, i, j] dy[c, oy, ox],   dW[c, i, j] += dy[c, oy, ox] x[c, iy, ix],
//   db[c] += sum of dy[c].
// Threads own channels (each loops over the images in order), so no two threads write the same value
// and the result does not depend on the thread count. The output columns of one tap are a contiguous
// range, which the compiler vectorises for stride 1.
#include <algorithm>
#include <string>
#include <vector>

#include "cpu/backend-cpu.h"
#include "sa/threadpool.h"

namespace sa {

void CpuBackend::depthwise_conv2d_backward_impl(const DepthwiseConv2dBackwardArgs & a) {
    const auto & [x, W, dy, dx, dW, db, B, C, H, Wd, k, stride, pad] = a;
    const int64_t Ho = (H + 2 * pad - k) / stride + 1, Wo = (Wd + 2 * pad - k) / stride + 1;
    // Output columns ox whose input column ox*s + j - p lies in [0, Wd): [lo, hi).
    auto col_range = [&](int64_t j, int64_t & lo, int64_t & hi) {
        const int64_t off = j - pad;
        lo = off >= 0 ? 0 : (-off + stride - 1) / stride;
        hi = std::min(Wo, (Wd - 1 - off) / stride + 1);
        if (Wd - 1 - off < 0) hi = 0;
    };
    pool()->parallel_for(C, [&](int64_t c0, int64_t c1) {
        for (int64_t c = c0; c < c1; ++c) {
            const float * wc = W ? W + c * k * k : nullptr;
            double gb = 0.0;
            std::vector<double> gw(dW ? (size_t) (k * k) : 0, 0.0);
            for (int64_t b = 0; b < B; ++b) {
                const float * dyc = dy + (b * C + c) * Ho * Wo;
                const float * xc = x ? x + (b * C + c) * H * Wd : nullptr;
                float * dxc = dx ? dx + (b * C + c) * H * Wd : nullptr;
                if (dxc) std::fill(dxc, dxc + H * Wd, 0.0f);
                if (db)
                    for (int64_t p = 0; p < Ho * Wo; ++p) gb += dyc[p];
                for (int64_t i = 0; i < k; ++i)
                    for (int64_t j = 0; j < k; ++j) {
                        int64_t lo, hi;
                        col_range(j, lo, hi);
                        if (lo >= hi) continue;
                        const float wt = wc ? wc[i * k + j] : 0.0f;
                        float acc = 0.0f;
                        for (int64_t oy = 0; oy < Ho; ++oy) {
                            const int64_t iy = oy * stride + i - pad;
                            if (iy < 0 || iy >= H) continue;
                            const float * g = dyc + oy * Wo;
                            const int64_t base = iy * Wd + j - pad;
                            if (dxc) {
                                float * d = dxc + base;
                                if (stride == 1) {
                                    for (int64_t ox = lo; ox < hi; ++ox) d[ox] += wt * g[ox];
                                } else {
                                    for (int64_t ox = lo; ox < hi; ++ox) d[ox * stride] += wt * g[ox];
                                }
                            }
                            if (dW) {
                                const float * xr = xc + base;
                                float s = 0.0f;
                                for (int64_t ox = lo; ox < hi; ++ox) s += g[ox] * xr[ox * stride];
                                acc += s;
                            }
                        }
                        if (dW) gw[(size_t) (i * k + j)] += acc;
                    }
            }
            if (db) db[c] += (float) gb;
            if (dW)
                for (int64_t t = 0; t < k * k; ++t) dW[c * k * k + t] += (float) gw[(size_t) t];
        }
    });
}

}  // namespace sa
