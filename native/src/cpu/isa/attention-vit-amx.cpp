// SPDX-License-Identifier: Apache-2.0
// ViT attention's two products per key block on AMX tiles (cpu/kernels-amx.h): every tile is 16 rows
// of 64 bytes. Scores: for each 16 keys, two fp32 tiles (query lanes 0-15, 16-31) accumulate
// TDPBF16PS of a key tile (16 keys x 32 channels) with the query tiles of that channel step. Values:
// the probabilities are rounded to bf16 pairs of consecutive keys (the B layout), then for each 32
// output channels four fp32 tiles (2 channel tiles x 2 lane tiles) accumulate over the block's keys in
// steps of 32. Called only at level amx, after sa::cpu_isa() obtained the tile-data permission.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "cpu/gemm-bf16.h"
#include "cpu/kernels-amx.h"

namespace sa::cpu::amx {

namespace {

constexpr int64_t L = kAttnLanes;

struct alignas(64) TileConfig {
    uint8_t palette_id;
    uint8_t start_row;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
};

// Eight tiles of 16 rows x 64 bytes.
void configure_tiles() {
    TileConfig cfg;
    std::memset(&cfg, 0, sizeof cfg);
    cfg.palette_id = 1;
    for (int t = 0; t < 8; ++t) {
        cfg.rows[t] = 16;
        cfg.colsb[t] = 64;
    }
    _tile_loadconfig(&cfg);
}

// 16 fp32 as bf16 in the low halves of 16 words.
inline __m512i bf16_low(__m512 x) {
    return _mm512_cvtepu16_epi32((__m256i) _mm512_cvtneps_pbh(x));
}

}  // namespace

void attention_vit_pack_keys(const float * k, int64_t ld, int64_t N, int64_t hd, uint16_t * kb) {
    const int64_t hd32 = round_up32(hd), rows = round_up16(N);
    for (int64_t n = 0; n < rows; ++n) {
        uint16_t * d = kb + n * hd32;
        const float * a = k + n * ld;
        for (int64_t c = 0; c < hd32; c += 32) {
            const int64_t left = n < N ? hd - c : 0;
            const __mmask16 m0 = (__mmask16) (left >= 16 ? 0xFFFFu : left <= 0 ? 0u : (1u << left) - 1u);
            const __mmask16 m1 = (__mmask16) (left >= 32 ? 0xFFFFu : left <= 16 ? 0u : (1u << (left - 16)) - 1u);
            const __m512 lo = _mm512_maskz_loadu_ps(m0, a + c), hi = _mm512_maskz_loadu_ps(m1, a + c + 16);
            _mm512_storeu_si512((void *) (d + c), (__m512i) _mm512_cvtne2ps_pbh(hi, lo));
        }
    }
}

void attention_vit_pack_values(const float * v, int64_t ld, int64_t N, int64_t hd, uint16_t * vt) {
    const int64_t rows = round_up16(hd), ldv = round_up32(N);
    std::memset(vt, 0, (size_t) (rows * ldv) * sizeof(uint16_t));
    for (int64_t n = 0; n < N; ++n) {
        const float * a = v + n * ld;
        for (int64_t c = 0; c < hd; ++c) vt[c * ldv + n] = to_bf16(a[c]);
    }
}

void attention_vit_pack_queries(const float * q, int64_t ld, int64_t nq, int64_t hd, float scale, uint32_t * qt) {
    const int64_t pairs = round_up32(hd) / 2;
    for (int64_t p = 0; p < pairs; ++p)
        for (int64_t i = 0; i < L; ++i) {
            const float * a = q + i * ld + 2 * p;
            const uint16_t lo = i < nq && 2 * p < hd ? to_bf16(scale * a[0]) : 0;
            const uint16_t hi = i < nq && 2 * p + 1 < hd ? to_bf16(scale * a[1]) : 0;
            qt[p * L + i] = (uint32_t) lo | ((uint32_t) hi << 16);
        }
}

void attention_vit_scores(const uint16_t * kb, int64_t hd, int64_t kn, const uint32_t * qt, float * st) {
    const int64_t hd32 = round_up32(hd), steps = hd32 / 32;
    configure_tiles();
    if (steps == 2) {  // hd 64 (SAM's ViTs): the four query tiles stay loaded over the whole block
        _tile_loadd(4, qt, L * 4);
        _tile_loadd(5, qt + 16, L * 4);
        _tile_loadd(6, qt + 16 * L, L * 4);
        _tile_loadd(7, qt + 16 * L + 16, L * 4);
        for (int64_t j = 0; j < kn; j += 16) {
            _tile_zero(0);
            _tile_zero(1);
            _tile_loadd(2, kb + j * hd32, hd32 * 2);
            _tile_loadd(3, kb + j * hd32 + 32, hd32 * 2);
            _tile_dpbf16ps(0, 2, 4);
            _tile_dpbf16ps(1, 2, 5);
            _tile_dpbf16ps(0, 3, 6);
            _tile_dpbf16ps(1, 3, 7);
            _tile_stored(0, st + j * L, L * 4);
            _tile_stored(1, st + j * L + 16, L * 4);
        }
    } else {
        for (int64_t j = 0; j < kn; j += 16) {
            _tile_zero(0);
            _tile_zero(1);
            for (int64_t s = 0; s < steps; ++s) {
                _tile_loadd(2, kb + j * hd32 + s * 32, hd32 * 2);
                _tile_loadd(4, qt + s * 16 * L, L * 4);
                _tile_loadd(5, qt + s * 16 * L + 16, L * 4);
                _tile_dpbf16ps(0, 2, 4);
                _tile_dpbf16ps(1, 2, 5);
            }
            _tile_stored(0, st + j * L, L * 4);
            _tile_stored(1, st + j * L + 16, L * 4);
        }
    }
    _tile_release();
}

void attention_vit_values(const uint16_t * vt, int64_t ldv, int64_t hd, int64_t kn, const float * st, uint32_t * pp,
                          float * o, bool first) {
    const int64_t kn32 = round_up32(kn), rows = round_up16(hd);
    // pp[p][lane] = (P[2p][lane], P[2p + 1][lane]) in bf16, zero past the block's keys.
    for (int64_t p = 0; p < kn32 / 2; ++p) {
        const int64_t j = 2 * p;
        for (int64_t h = 0; h < L; h += 16) {
            const __m512 a = j < kn ? _mm512_loadu_ps(st + j * L + h) : _mm512_setzero_ps();
            const __m512 b = j + 1 < kn ? _mm512_loadu_ps(st + (j + 1) * L + h) : _mm512_setzero_ps();
            _mm512_storeu_si512((void *) (pp + p * L + h),
                                _mm512_or_si512(bf16_low(a), _mm512_slli_epi32(bf16_low(b), 16)));
        }
    }
    configure_tiles();
    for (int64_t r = 0; r < rows; r += 32) {
        const bool two = rows - r > 16;  // a second channel tile
        float * o0 = o + r * L;
        float * o1 = o + (r + 16) * L;
        if (first) {
            _tile_zero(0);
            _tile_zero(1);
            _tile_zero(2);
            _tile_zero(3);
        } else {
            _tile_loadd(0, o0, L * 4);
            _tile_loadd(1, o0 + 16, L * 4);
            if (two) {
                _tile_loadd(2, o1, L * 4);
                _tile_loadd(3, o1 + 16, L * 4);
            }
        }
        for (int64_t k = 0; k < kn32; k += 32) {
            _tile_loadd(6, pp + k / 2 * L, L * 4);
            _tile_loadd(7, pp + k / 2 * L + 16, L * 4);
            _tile_loadd(4, vt + r * ldv + k, ldv * 2);
            _tile_dpbf16ps(0, 4, 6);
            _tile_dpbf16ps(1, 4, 7);
            if (two) {
                _tile_loadd(5, vt + (r + 16) * ldv + k, ldv * 2);
                _tile_dpbf16ps(2, 5, 6);
                _tile_dpbf16ps(3, 5, 7);
            }
        }
        _tile_stored(0, o0, L * 4);
        _tile_stored(1, o0 + 16, L * 4);
        if (two) {
            _tile_stored(2, o1, L * 4);
            _tile_stored(3, o1 + 16, L * 4);
        }
    }
    _tile_release();
}

}  // namespace sa::cpu::amx
