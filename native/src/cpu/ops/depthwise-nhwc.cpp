// SPDX-License-Identifier: Apache-2.0
// Depthwise 3x3 convolution (stride 1, zero padding 1) on channels-last tokens (see
// Backend::depthwise3x3_nhwc): each output pixel is C lanes of fused multiply-adds over its in-image
// taps in row-major order, vectorised across channels, so no layout transposes are needed. Threads
// claim ranges of output rows; every output is computed the same way whatever the ranges.
#include <cmath>
#include <string>
#include <vector>

#include "cpu/backend-cpu.h"
#include "cpu/ops/tinyvit-fused.h"
#include "sa/threadpool.h"

namespace sa {

void CpuBackend::depthwise3x3_nhwc_impl(const Depthwise3x3NhwcArgs & a) {
    const auto & [x, w, b, y, B, H, W, C] = a;
    const std::vector<float> taps = cpu::depthwise_tap_weights(w, C);
    pool()->parallel_for(B * H, [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
            const int64_t bi = t / H, oy = t % H;
            const float * img = x + bi * H * W * C;
            const float * rows[3];
            for (int64_t i = 0; i < 3; ++i) {
                const int64_t iy = oy + i - 1;
                rows[i] = iy >= 0 && iy < H ? img + iy * W * C : nullptr;
            }
            for (int64_t ox = 0; ox < W; ++ox) {
                const float * src[9];
                const float * tw[9];
                const int n = cpu::depthwise_taps(rows, W, C, ox - 1, taps.data(), src, tw);
                cpu::depthwise_pixel(src, tw, n, b, y + (t * W + ox) * C, C);
            }
        }
    });
}

}  // namespace sa
