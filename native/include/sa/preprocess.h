// SPDX-License-Identifier: Apache-2.0
// SAM's image preprocessing on the host, as the official implementation: ResizeLongestSide (Pillow's
// BILINEAR filter on uint8, antialiased when shrinking), normalisation with SAM's pixel mean and std,
// zero padding at the bottom and right to a square. The same bytes and bits as the TypeScript
// version (packages/model/src/preprocess.ts), which it stands in for where throughput matters.
#pragma once

#include <cstdint>

namespace sa {

// The (height, width) an image of h x w gets under ResizeLongestSide(target).
void resize_longest_side_shape(int64_t h, int64_t w, int64_t target, int64_t * nh, int64_t * nw);

// Resizes an interleaved h x w x c uint8 image to nh x nw with Pillow's BILINEAR filter (horizontal
// pass, then vertical, each rounded to uint8). dst holds nh * nw * c bytes.
void resize_bilinear_u8(const uint8_t * src, int64_t h, int64_t w, int64_t c, int64_t nh, int64_t nw, uint8_t * dst);

// The model input [3, size, size] of an h x w x 3 RGB image: resized so that its longer side is
// `size`, normalised, zero-padded; every value of out is written. Returns the resized (nh, nw).
void sam_preprocess(const uint8_t * rgb, int64_t h, int64_t w, int64_t size, float * out, int64_t * nh, int64_t * nw);

}  // namespace sa
