// SPDX-License-Identifier: Apache-2.0
// The AMX tile configuration shared by the amx-level kernels (included only by *-amx.cpp files; internal
// linkage, like isa/simd-avx512.h).
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

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

}  // namespace
}  // namespace sa::cpu::amx
