// SPDX-License-Identifier: Apache-2.0
// SAM window partitioning: x[B, H, W, C] -> windows[B * nWh * nWw, win, win, C], with the grid
// zero-padded at the bottom/right to multiples of `win` (F.pad in segment-anything's
// window_partition), and the inverse that drops the padding again.
#include <algorithm>
#include <cstring>
#include <string>

#include "cpu/backend-cpu.h"
#include "sa/threadpool.h"

namespace sa {

namespace {

void check_window_args(const char * op, const float * x, const float * y, int64_t B, int64_t H, int64_t W, int64_t C,
                       int64_t win) {
    SA_CHECK_ARG(B >= 0 && H >= 0 && W >= 0 && C >= 0, std::string(op) + ": negative size");
    SA_CHECK_ARG(win > 0, std::string(op) + ": window size must be positive");
    SA_CHECK_ARG(x != y, std::string(op) + ": in-place is not supported");
}

}  // namespace

void CpuBackend::window_partition(const float * x, float * y, int64_t B, int64_t H, int64_t W, int64_t C, int64_t win) {
    check_window_args("window_partition", x, y, B, H, W, C, win);
    if (B == 0 || H == 0 || W == 0 || C == 0) return;
    SA_CHECK_ARG(x && y, "window_partition: null pointer");
    const int64_t nh = (H + win - 1) / win, nw = (W + win - 1) / win;
    const int64_t Hp = nh * win;
    // One task per padded row of the grid: copies its (up to W) pixels and zeroes the padding.
    pool()->parallel_for(B * Hp, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            const int64_t b = r / Hp, h = r % Hp;
            const int64_t wh = h / win, ih = h % win;
            for (int64_t ww = 0; ww < nw; ++ww) {
                float * dst = y + ((((b * nh + wh) * nw + ww) * win + ih) * win) * C;
                const int64_t w0 = ww * win;
                int64_t valid = 0;
                if (h < H && w0 < W) valid = std::min(win, W - w0);
                if (valid > 0) std::memcpy(dst, x + ((b * H + h) * W + w0) * C, (size_t) (valid * C) * sizeof(float));
                if (valid < win) std::memset(dst + valid * C, 0, (size_t) ((win - valid) * C) * sizeof(float));
            }
        }
    });
}

void CpuBackend::window_unpartition(const float * x, float * y, int64_t B, int64_t H, int64_t W, int64_t C,
                                    int64_t win) {
    check_window_args("window_unpartition", x, y, B, H, W, C, win);
    if (B == 0 || H == 0 || W == 0 || C == 0) return;
    SA_CHECK_ARG(x && y, "window_unpartition: null pointer");
    const int64_t nh = (H + win - 1) / win, nw = (W + win - 1) / win;
    pool()->parallel_for(B * H, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            const int64_t b = r / H, h = r % H;
            const int64_t wh = h / win, ih = h % win;
            for (int64_t ww = 0; ww < nw; ++ww) {
                const int64_t w0 = ww * win;
                const int64_t valid = std::min(win, W - w0);
                const float * src = x + ((((b * nh + wh) * nw + ww) * win + ih) * win) * C;
                std::memcpy(y + ((b * H + h) * W + w0) * C, src, (size_t) (valid * C) * sizeof(float));
            }
        }
    });
}

}  // namespace sa
