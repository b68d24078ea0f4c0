// SPDX-License-Identifier: Apache-2.0
#include "sa/build-info.h"

namespace sa {
const char * build_simd() {
#if defined(__AVX512F__)
    return "avx512";
#elif defined(__AVX2__) && defined(__FMA__)
    return "avx2+fma";
#else
    return "scalar";
#endif
}
}  // namespace sa
