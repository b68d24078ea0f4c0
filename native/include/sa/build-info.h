// SPDX-License-Identifier: Apache-2.0
#pragma once

namespace sa {
// SIMD level the core was compiled for: "avx512", "avx2+fma" or "scalar".
const char * build_simd();
}  // namespace sa
