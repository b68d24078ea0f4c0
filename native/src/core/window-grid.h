// SPDX-License-Identifier: Apache-2.0
// SAM's window partitioning geometry, shared by the CPU (cpu/ops/window.cpp) and CUDA (cuda/window.cu)
// kernels: a [B, H, W, C] grid zero-padded at the bottom/right to nh x nw windows of win x win tokens,
// stored as windows [B * nh * nw, win, win, C].
#pragma once

#include <cstdint>

#include "core/hd.h"

namespace sa {

struct WindowGrid {
    int64_t H, W, C, win, nh, nw;

    SA_HD WindowGrid(int64_t H_, int64_t W_, int64_t C_, int64_t win_)
        : H(H_), W(W_), C(C_), win(win_), nh((H_ + win_ - 1) / win_), nw((W_ + win_ - 1) / win_) {}

    // Offset of token (ih, iw) of window (wh, ww) of image b in the windows layout.
    SA_HD int64_t window_offset(int64_t b, int64_t wh, int64_t ww, int64_t ih, int64_t iw) const {
        return ((((b * nh + wh) * nw + ww) * win + ih) * win + iw) * C;
    }
    // Offset of token (h, w) of image b in the grid layout.
    SA_HD int64_t grid_offset(int64_t b, int64_t h, int64_t w) const { return ((b * H + h) * W + w) * C; }
};

}  // namespace sa
