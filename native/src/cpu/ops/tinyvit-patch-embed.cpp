// SPDX-License-Identifier: Apache-2.0
// TinyViT's patch embedding fused row by row (see Backend::tinyvit_patch_embed): two 3x3 stride-2
// convolutions with a GELU between them. Threads claim ranges of output rows; an output row needs
// rows 2r-1..2r+1 of the intermediate GELU(conv0(x)), kept in a 3-row ring, each computed once per
// range from a one-row im2col and a small GEMM (the same bits in any range). Neither the intermediate nor a full-size
// im2col buffer is materialised.
#include <string>
#include <vector>

#include "cpu/backend-cpu.h"
#include "cpu/ops/tinyvit-fused.h"
#include "sa/gemm.h"
#include "sa/threadpool.h"

namespace sa {

void CpuBackend::tinyvit_patch_embed_impl(const TinyVitPatchEmbedArgs & a) {
    const auto & [x, w0, b0, w1, b1, y, B, Cin, H, W, C0, C1] = a;
    const int64_t H1 = (H + 1) / 2, W1 = (W + 1) / 2;    // after the first conv
    const int64_t H2 = (H1 + 1) / 2, W2 = (W1 + 1) / 2;  // after the second
    pool()->parallel_for(B * H2, [&](int64_t t0, int64_t t1) {
        std::vector<float> ring((size_t) (3 * C0 * W1));
        std::vector<float> col((size_t) (std::max(Cin * 9 * W1, C0 * 9 * W2)));
        // GELU(conv0(x) + b0) of intermediate row k of image b, [C0, W1].
        cpu::RowRing mid(ring.data(), C0 * W1, [&](int64_t b, int64_t k, float * h) {
            const float * xb = x + b * Cin * H * W;
            const float * rows[3];
            for (int64_t i = 0; i < 3; ++i) {
                const int64_t iy = 2 * k - 1 + i;
                rows[i] = iy >= 0 && iy < H ? xb + iy * W : nullptr;
            }
            cpu::im2col_row_s2(rows, H * W, Cin, W, W1, col.data());
            sgemm_serial(false, false, C0, W1, Cin * 9, 1.0f, w0, Cin * 9, col.data(), W1, 0.0f, h, W1);
            for (int64_t c = 0; c < C0; ++c) cpu::bias_gelu(h + c * W1, b0[c], W1);
        });
        for (int64_t t = t0; t < t1; ++t) {
            const int64_t b = t / H2, r = t % H2;
            const float * rows[3];
            for (int64_t i = 0; i < 3; ++i) {
                const int64_t k = 2 * r - 1 + i;
                rows[i] = k >= 0 && k < H1 ? mid.row(b, k) : nullptr;
            }
            cpu::im2col_row_s2(rows, W1, C0, W1, W2, col.data());
            float * yr = y + b * C1 * H2 * W2 + r * W2;
            for (int64_t c = 0; c < C1; ++c) std::fill(yr + c * H2 * W2, yr + c * H2 * W2 + W2, b1[c]);
            sgemm_serial(false, false, C1, W2, C0 * 9, 1.0f, w1, C0 * 9, col.data(), W2, 1.0f, yr, H2 * W2);
        }
    });
}

}  // namespace sa
