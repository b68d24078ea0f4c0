// SPDX-License-Identifier: Apache-2.0
// AMX tile instructions carried out in software, for the test build of the amx-level kernels on CPUs
// without AMX (SA_AMX_EMULATED: the library sa_core_amx_emulated and its tests, native/CMakeLists.txt;
// never in a library that ships). Included by isa/amx-tiles.h after <immintrin.h>, it replaces the six
// tile intrinsics the kernels use with functions on eight per-thread tile registers of 16 rows x 64
// bytes, following the instructions' definitions (Intel SDM, "Intel AMX Instruction Set Reference"):
//   LDTILECFG   palette 1: rows and bytes per row of each tile; tiles start zeroed
//   TILELOADD   rows [0, rows) of colsb bytes from base + r * stride; the bytes past colsb zero
//   TILESTORED  the same rows and bytes back to memory
//   TILEZERO    the whole tile zero
//   TDPBF16PS   C[m][n] += A.bf16[m][2k] B.bf16[k][2n] + A.bf16[m][2k + 1] B.bf16[k][2n + 1] over the k
//               pairs of A's rows (fp32 sums, denormal inputs and outputs flushed to zero)
//   TILERELEASE every tile back to its initial state
// TDPBF16PS runs as one VDPBF16PS per row and pair (the same products and flushing; the two products
// of a pair may be summed in another order than the hardware's, so the last bit of a sum can differ
// from an AMX CPU's). Shapes the instructions fault on (a row count or width past the configuration,
// mismatched A, B and C shapes) abort with a message: a kernel bug, never an input error.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace sa::cpu::amx_emulated {

// The calling thread's tiles, one set for every amx-level file (as the hardware's state is one per
// thread): the only definition with external linkage here, identical in every file that includes it.
struct Tiles {
    bool configured = false;
    uint8_t rows[8] = {};
    uint16_t colsb[8] = {};
    alignas(64) uint8_t data[8][16][64] = {};
};

inline Tiles & tiles() {
    thread_local Tiles t;
    return t;
}

namespace {

[[noreturn]] inline void fault(const char * what, int t) {
    std::fprintf(stderr, "amx emulation: %s (tile %d)\n", what, t);
    std::abort();
}

inline void check(int t) {
    const Tiles & s = tiles();
    if (!s.configured) fault("tile instruction before LDTILECFG", t);
    if (t < 0 || t > 7 || s.rows[t] == 0 || s.rows[t] > 16 || s.colsb[t] == 0 || s.colsb[t] > 64 || s.colsb[t] % 4 != 0)
        fault("tile not configured for use", t);
}

inline void loadconfig(const void * cfg) {
    const uint8_t * c = static_cast<const uint8_t *>(cfg);
    if (c[0] != 1) fault("palette other than 1", -1);
    Tiles & s = tiles();
    s = Tiles{};
    for (int t = 0; t < 8; ++t) {
        std::memcpy(&s.colsb[t], c + 16 + 2 * t, 2);
        s.rows[t] = c[48 + t];
    }
    s.configured = true;
}

inline void release() {
    tiles() = Tiles{};
}

inline void loadd(int t, const void * base, long stride) {
    check(t);
    Tiles & s = tiles();
    std::memset(s.data[t], 0, sizeof s.data[t]);
    for (int r = 0; r < s.rows[t]; ++r)
        std::memcpy(s.data[t][r], static_cast<const uint8_t *>(base) + r * stride, s.colsb[t]);
}

inline void stored(int t, void * base, long stride) {
    check(t);
    const Tiles & s = tiles();
    for (int r = 0; r < s.rows[t]; ++r)
        std::memcpy(static_cast<uint8_t *>(base) + r * stride, s.data[t][r], s.colsb[t]);
}

inline void zero(int t) {
    if (t < 0 || t > 7) fault("no such tile", t);
    std::memset(tiles().data[t], 0, sizeof tiles().data[t]);
}

inline void dpbf16ps(int c, int a, int b) {
    check(c);
    check(a);
    check(b);
    Tiles & s = tiles();
    const int M = s.rows[c], N = s.colsb[c] / 4, K = s.colsb[a] / 4;
    if (s.rows[a] != M || s.rows[b] != K || s.colsb[b] != s.colsb[c]) fault("TDPBF16PS shapes do not match", c);
    const __mmask16 lanes = (__mmask16) ((1u << N) - 1u);
    for (int m = 0; m < M; ++m) {
        float * crow = reinterpret_cast<float *>(s.data[c][m]);
        __m512 acc = _mm512_maskz_loadu_ps(lanes, crow);
        const uint32_t * arow = reinterpret_cast<const uint32_t *>(s.data[a][m]);
        for (int k = 0; k < K; ++k) {
            const __m512i av = _mm512_set1_epi32((int) arow[k]);
            const __m512i bv = _mm512_maskz_loadu_epi32(lanes, s.data[b][k]);
            acc = _mm512_dpbf16_ps(acc, (__m512bh) av, (__m512bh) bv);
        }
        _mm512_mask_storeu_ps(crow, lanes, acc);
    }
}

}  // namespace
}  // namespace sa::cpu::amx_emulated

// The intrinsics of <immintrin.h> (macros and inline functions) replaced from here on.
#undef _tile_loadd
#undef _tile_stored
#undef _tile_zero
#undef _tile_dpbf16ps
#define _tile_loadconfig(cfg) ::sa::cpu::amx_emulated::loadconfig(cfg)
#define _tile_release() ::sa::cpu::amx_emulated::release()
#define _tile_loadd(t, base, stride) ::sa::cpu::amx_emulated::loadd(t, base, stride)
#define _tile_stored(t, base, stride) ::sa::cpu::amx_emulated::stored(t, base, stride)
#define _tile_zero(t) ::sa::cpu::amx_emulated::zero(t)
#define _tile_dpbf16ps(c, a, b) ::sa::cpu::amx_emulated::dpbf16ps(c, a, b)
