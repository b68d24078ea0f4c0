// SPDX-License-Identifier: Apache-2.0
// The AMX tile configuration shared by the amx-level kernels (included only by *-amx.cpp files; internal
// linkage, like isa/simd-avx512.h). In the test build with SA_AMX_EMULATED the tile instructions run in
// software (isa/amx-emulated.h).
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#if defined(SA_AMX_EMULATED)
#include "cpu/isa/amx-emulated.h"
#endif

namespace sa::cpu::amx {
namespace {

// Palette 1 with all eight tiles 16 rows x 64 bytes (16 fp32, 32 bf16 or 16 bf16 pairs per row).
inline void configure_tiles() {
    struct alignas(64) TileConfig {
        uint8_t palette_id;
        uint8_t start_row;
        uint8_t reserved[14];
        uint16_t colsb[16];
        uint8_t rows[16];
    } cfg;
    std::memset(&cfg, 0, sizeof cfg);
    cfg.palette_id = 1;
    for (int t = 0; t < 8; ++t) {
        cfg.rows[t] = 16;
        cfg.colsb[t] = 64;
    }
    // The compiler does not see LDTILECFG read the whole 64 bytes: without this barrier it may drop the
    // row and column stores above as dead (seen with GCC 12 once the function is inlined).
    asm volatile("" : : "r"(&cfg) : "memory");
    _tile_loadconfig(&cfg);
}

// A 32 x 32 fp32 block of C (row stride ld floats) as the accumulator tiles tmm0-3: rows 0-15 and
// 16-31, columns 0-15 and 16-31.
inline void load_block(const float * c, int64_t ld) {
    _tile_loadd(0, c, ld * 4);
    _tile_loadd(1, c + 16, ld * 4);
    _tile_loadd(2, c + 16 * ld, ld * 4);
    _tile_loadd(3, c + 16 * ld + 16, ld * 4);
}
inline void store_block(float * c, int64_t ld) {
    _tile_stored(0, c, ld * 4);
    _tile_stored(1, c + 16, ld * 4);
    _tile_stored(2, c + 16 * ld, ld * 4);
    _tile_stored(3, c + 16 * ld + 16, ld * 4);
}
// tmm0-3 += A B for one step of 32 k: A tiles (tmm4-5) from a, 32 rows of 16 bf16 pairs; B tiles (tmm6-7)
// from b, 16 pair rows of 32 columns at a stride of ldb words.
inline void dot_block(const uint32_t * a, const uint32_t * b, int64_t ldb) {
    _tile_loadd(4, a, 64);
    _tile_loadd(5, a + 16 * 16, 64);
    _tile_loadd(6, b, ldb * 4);
    _tile_loadd(7, b + 16, ldb * 4);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
}
inline void zero_block() {
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
}

}  // namespace
}  // namespace sa::cpu::amx
