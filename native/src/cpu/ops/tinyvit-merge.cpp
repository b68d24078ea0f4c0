// SPDX-License-Identifier: Apache-2.0
// TinyViT's PatchMerging fused row by row on channels-last tokens (see Backend::tinyvit_merge). Threads
// claim ranges of output rows; an output row needs the rows stride*r - 1 .. stride*r + 1 of the
// expanded activations GELU(fc1(x)), kept in a 3-row ring (each computed once per range), then runs
// the 3x3 depthwise convolution + GELU on that row and the output 1x1 convolution straight into y.
// Both 1x1 convolutions are products with pre-packed weights (prepare_linear) and the bias in their
// epilogue; no layout transposes, no full-size intermediate. Every output element is computed the
// same way whatever the ranges and the thread count.
#include <algorithm>
#include <memory>
#include <vector>

#include "cpu/backend-cpu.h"
#include "cpu/ops/tinyvit-fused.h"
#include "sa/threadpool.h"

namespace sa {

namespace {

struct MergeScratch {
    std::vector<float> ring, dw;
};

}  // namespace

void CpuBackend::tinyvit_merge_impl(const TinyVitMergeArgs & a) {
    const auto & [x, w1, b1, w2, b2, w3, b3, y, B, H, W, C, O, stride] = a;
    const int64_t H2 = (H - 1) / stride + 1, W2 = (W - 1) / stride + 1;
    const std::vector<float> taps = cpu::depthwise_tap_weights(w2, O);
    const std::shared_ptr<ThreadPool> held = pool();
    ThreadPool & p = *held;
    // Ranges of at least 8 output rows, so that the ring's halo rows are a small share of the work.
    p.parallel_chunks(B * H2, std::max<int64_t>(p.chunk_for(B * H2), 8), [&](int64_t t0, int64_t t1) {
        thread_local MergeScratch sc;
        sc.ring.resize((size_t) (3 * W * O));
        sc.dw.resize((size_t) (W2 * O));
        float * dw = sc.dw.data();
        // GELU(fc1(x) + b1) of input row k of image b, [W, O].
        cpu::RowRing hidden(sc.ring.data(), W * O, [&](int64_t b, int64_t k, float * h) {
            prepared_product(W, O, C, x + (b * H + k) * W * C, C, w1, 0.0f, h, O, b1);
            cpu::gelu_row(h, W * O);
        });
        for (int64_t t = t0; t < t1; ++t) {
            const int64_t b = t / H2, r = t % H2;
            const float * rows[3];
            for (int64_t i = 0; i < 3; ++i) {
                const int64_t iy = stride * r - 1 + i;
                rows[i] = iy >= 0 && iy < H ? hidden.row(b, iy) : nullptr;
            }
            // 3x3 depthwise convolution (padding 1, stride) + bias + GELU of output row r.
            for (int64_t ox = 0; ox < W2; ++ox) {
                const float * src[9];
                const float * tw[9];
                const int n = cpu::depthwise_taps(rows, W, O, stride * ox - 1, taps.data(), src, tw);
                cpu::depthwise_pixel(src, tw, n, b2, dw + ox * O, O);
            }
            cpu::gelu_row(dw, W2 * O);
            // Output 1x1 convolution + bias into row r of y.
            prepared_product(W2, O, O, dw, O, w3, 0.0f, y + (b * H2 + r) * W2 * O, O, b3);
        }
    });
}

}  // namespace sa
