// SPDX-License-Identifier: Apache-2.0
// SAM window partitioning: x[B, H, W, C] -> windows[B * nWh * nWw, win, win, C], with the grid
// zero-padded at the bottom/right to multiples of `win` (F.pad in segment-anything's
// window_partition), and the inverse that drops the padding again (geometry: core/window-grid.h).
#include <algorithm>
#include <cstring>
#include <string>

#include "core/window-grid.h"
#include "cpu/backend-cpu.h"
#include "sa/threadpool.h"

namespace sa {

void CpuBackend::window_partition_impl(const WindowArgs & a) {
    const auto & [x, y, B, H, W, C, win] = a;
    const WindowGrid g(H, W, C, win);
    const int64_t nw = g.nw, Hp = g.nh * win;
    // One task per padded row of the grid: copies its (up to W) pixels and zeroes the padding.
    pool()->parallel_for(B * Hp, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            const int64_t b = r / Hp, h = r % Hp;
            const int64_t wh = h / win, ih = h % win;
            for (int64_t ww = 0; ww < nw; ++ww) {
                float * dst = y + g.window_offset(b, wh, ww, ih, 0);
                const int64_t w0 = ww * win;
                int64_t valid = 0;
                if (h < H && w0 < W) valid = std::min(win, W - w0);
                if (valid > 0) std::memcpy(dst, x + g.grid_offset(b, h, w0), (size_t) (valid * C) * sizeof(float));
                if (valid < win) std::memset(dst + valid * C, 0, (size_t) ((win - valid) * C) * sizeof(float));
            }
        }
    });
}

void CpuBackend::window_unpartition_impl(const WindowArgs & a) {
    const auto & [x, y, B, H, W, C, win] = a;
    const WindowGrid g(H, W, C, win);
    const int64_t nw = g.nw;
    pool()->parallel_for(B * H, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            const int64_t b = r / H, h = r % H;
            const int64_t wh = h / win, ih = h % win;
            for (int64_t ww = 0; ww < nw; ++ww) {
                const int64_t w0 = ww * win;
                const int64_t valid = std::min(win, W - w0);
                std::memcpy(y + g.grid_offset(b, h, w0), x + g.window_offset(b, wh, ww, ih, 0),
                            (size_t) (valid * C) * sizeof(float));
            }
        }
    });
}

}  // namespace sa
