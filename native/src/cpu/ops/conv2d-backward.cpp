// SPDX-License-Identifier: Apache-2.0
// Backward pass of the NCHW convolution (groups 1), as the image encoder needs it: the patch
// embedding (P x P, stride P) and the neck (1x1, 3x3 padding 1). Per image, with the input's columns
// col [C*kh*kw, Ho*Wo] (im2col, zero outside the image):
//   dW[O, C*kh*kw] += dy[O, Ho*Wo] col^T,   db[O] += sum over pixels of dy,
//   dcol = W^T dy,  dx = col2im(dcol)  (each input pixel sums the taps that read it).
// The GEMMs use the default pool; im2col / col2im split the C*kh*kw rows (col2im: by input channel, so
// no two threads write the same pixel). Results do not depend on the thread count.
#include <algorithm>
#include <string>
#include <vector>

#include "cpu/backend-cpu.h"
#include "sa/gemm.h"
#include "sa/threadpool.h"

namespace sa {

void CpuBackend::conv2d_backward_impl(const Conv2dBackwardArgs & a) {
    const auto & [x, W, dy, dx, dW, db, B, C, H, Wd, O, kh, kw, stride, pad] = a;
    const int64_t Ho = (H + 2 * pad - kh) / stride + 1, Wo = (Wd + 2 * pad - kw) / stride + 1;
    const int64_t K = C * kh * kw, P = Ho * Wo;
    const bool identity_cols = kh == 1 && kw == 1 && stride == 1 && pad == 0;  // col == x
    std::vector<float> col(identity_cols ? 0 : (size_t) (K * P));
    std::vector<float> dcol(dx && !identity_cols ? (size_t) (K * P) : 0);
    const std::shared_ptr<ThreadPool> held = pool();
    ThreadPool & pool = *held;
    for (int64_t b = 0; b < B; ++b) {
        const float * xb = x ? x + b * C * H * Wd : nullptr;
        const float * dyb = dy + b * O * P;
        if (db) {
            pool.parallel_for(O, [&](int64_t o0, int64_t o1) {
                for (int64_t o = o0; o < o1; ++o) {
                    double s = 0.0;
                    for (int64_t p = 0; p < P; ++p) s += dyb[o * P + p];
                    db[o] += (float) s;
                }
            });
        }
        if (dW) {
            const float * cols = xb;
            if (!identity_cols) {
                pool.parallel_for(K, [&](int64_t r0, int64_t r1) {
                    for (int64_t r = r0; r < r1; ++r) {
                        const int64_t c = r / (kh * kw), i = (r / kw) % kh, j = r % kw;
                        float * d = col.data() + r * P;
                        for (int64_t oy = 0; oy < Ho; ++oy) {
                            const int64_t iy = oy * stride + i - pad;
                            for (int64_t ox = 0; ox < Wo; ++ox) {
                                const int64_t ix = ox * stride + j - pad;
                                d[oy * Wo + ox] =
                                    (iy >= 0 && iy < H && ix >= 0 && ix < Wd) ? xb[(c * H + iy) * Wd + ix] : 0.0f;
                            }
                        }
                    }
                });
                cols = col.data();
            }
            sgemm(false, true, O, K, P, 1.0f, dyb, P, cols, P, 1.0f, dW, K, pool);
        }
        if (dx) {
            float * dxb = dx + b * C * H * Wd;
            if (identity_cols) {
                sgemm(true, false, K, P, O, 1.0f, W, K, dyb, P, 0.0f, dxb, P, pool);
                continue;
            }
            sgemm(true, false, K, P, O, 1.0f, W, K, dyb, P, 0.0f, dcol.data(), P, pool);
            pool.parallel_for(C, [&](int64_t c0, int64_t c1) {
                for (int64_t c = c0; c < c1; ++c) {
                    float * dxc = dxb + c * H * Wd;
                    std::fill(dxc, dxc + H * Wd, 0.0f);
                    for (int64_t i = 0; i < kh; ++i)
                        for (int64_t j = 0; j < kw; ++j) {
                            const float * d = dcol.data() + ((c * kh + i) * kw + j) * P;
                            for (int64_t oy = 0; oy < Ho; ++oy) {
                                const int64_t iy = oy * stride + i - pad;
                                if (iy < 0 || iy >= H) continue;
                                for (int64_t ox = 0; ox < Wo; ++ox) {
                                    const int64_t ix = ox * stride + j - pad;
                                    if (ix >= 0 && ix < Wd) dxc[iy * Wd + ix] += d[oy * Wo + ox];
                                }
                            }
                        }
                }
            });
        }
    }
}

}  // namespace sa
