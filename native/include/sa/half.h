// SPDX-License-Identifier: Apache-2.0
// IEEE binary16 <-> binary32 conversion of arrays (F16C when the build targets it; exact either way).
#pragma once

#include <cstdint>

namespace sa {

// dst[i] = float(src[i]) for n half-precision values (exact).
void half_to_float(const uint16_t * src, float * dst, int64_t n);
// dst[i] = src[i] rounded to half precision, to nearest even (overflow gives infinity, NaN stays NaN).
void float_to_half(const float * src, uint16_t * dst, int64_t n);

}  // namespace sa
