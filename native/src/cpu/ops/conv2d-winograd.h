// SPDX-License-Identifier: Apache-2.0
// conv2d's Winograd F(2x2, 3x3) path (ops/conv2d-winograd.cpp), taken by CpuBackend::conv2d for wide
// 3x3 / stride 1 / padding 1 convolutions.
#pragma once

#include <cstdint>

#include "sa/ops.h"

namespace sa {
class ThreadPool;
}

namespace sa::cpu {

// Below this many input or output channels the direct path is kept (the transforms would not pay).
constexpr int64_t kWinogradMinChannels = 64;

// Whether conv2d takes the Winograd path: 3x3, stride 1, padding 1, one group, at least
// kWinogradMinChannels input and output channels and 256 output pixels per image.
bool winograd_applies(const Conv2dArgs & a);

// The transformed inputs and the products of one band of tile rows take at most this many floats each
// (at least one tile row): the encoders' 64 x 64 necks are one band.
constexpr int64_t kWinogradBandFloats = int64_t(1) << 22;

// y = conv2d(x, W, b) for arguments where winograd_applies (as checked by Backend::conv2d), on `pool`,
// in bands of tile rows of at most band_floats (tests pass smaller bands).
void conv2d_winograd(ThreadPool & pool, const Conv2dArgs & a, int64_t band_floats = kWinogradBandFloats);

}  // namespace sa::cpu
