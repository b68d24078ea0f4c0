// SPDX-License-Identifier: Apache-2.0
#include "sa/half.h"

#include <cstring>

#if defined(__F16C__) && defined(__AVX__)
#include <immintrin.h>
#endif

namespace sa {

static float half_bits_to_float(uint16_t h) {
    const uint32_t sign = (uint32_t) (h >> 15) << 31;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else {  // subnormal: normalise
            exp = 127 - 15 + 1;
            while ((mant & 0x400) == 0) {
                mant <<= 1;
                --exp;
            }
            bits = sign | (exp << 23) | ((mant & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

void half_to_float(const uint16_t * src, float * dst, int64_t n) {
    int64_t i = 0;
#if defined(__F16C__) && defined(__AVX__)
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i *>(src + i));
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
    }
#endif
    for (; i < n; ++i) dst[i] = half_bits_to_float(src[i]);
}

// binary32 bits -> binary16 bits, round to nearest even (overflow to infinity, subnormals exact,
// NaN quiet with its sign and top payload bits), as VCVTPS2PH with round-to-nearest.
static uint16_t float_bits_to_half(uint32_t b) {
    const uint32_t sign = (b >> 16) & 0x8000u;
    const uint32_t exp = (b >> 23) & 0xffu, mant = b & 0x7fffffu;
    if (exp == 0xffu) return (uint16_t) (mant == 0 ? sign | 0x7c00u : sign | 0x7e00u | (mant >> 13));
    const int32_t e = (int32_t) exp - 112;  // rebias 127 -> 15
    if (e >= 0x1f) return (uint16_t) (sign | 0x7c00u);
    if (e <= 0) {  // subnormal half or zero: m * 2^-24
        if (e < -10) return (uint16_t) sign;
        const uint32_t full = mant | 0x800000u, shift = (uint32_t) (14 - e);
        uint32_t m = full >> shift;
        const uint32_t rem = full & ((1u << shift) - 1u), halfway = 1u << (shift - 1);
        if (rem > halfway || (rem == halfway && (m & 1u))) ++m;  // a carry gives the smallest normal
        return (uint16_t) (sign | m);
    }
    uint32_t h = sign | ((uint32_t) e << 10) | (mant >> 13);
    const uint32_t rem = mant & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // may carry into infinity, as it should
    return (uint16_t) h;
}

void float_to_half(const float * src, uint16_t * dst, int64_t n) {
    int64_t i = 0;
#if defined(__F16C__) && defined(__AVX__)
    for (; i + 8 <= n; i += 8) {
        const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm_storeu_si128(reinterpret_cast<__m128i *>(dst + i), h);
    }
#endif
    for (; i < n; ++i) {
        uint32_t b;
        std::memcpy(&b, src + i, 4);
        dst[i] = float_bits_to_half(b);
    }
}

}  // namespace sa
