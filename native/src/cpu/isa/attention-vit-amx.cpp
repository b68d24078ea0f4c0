// SPDX-License-Identifier: Apache-2.0
// ViT attention's two products per key block on AMX tiles (cpu/kernels-amx.h): every tile is 16 rows
// of 64 bytes. Scores: for each 16 keys, two fp32 tiles (query lanes 0-15, 16-31) accumulate
// TDPBF16PS of a key tile (16 keys x 32 channels) with the query tiles of that channel step. Values:
// the probabilities are rounded to bf16 pairs of consecutive keys (the B layout), then for each 32
// output channels four fp32 tiles (2 channel tiles x 2 lane tiles) accumulate over the block's keys in
// steps of 32. Called only at level amx, after sa::cpu_isa() obtained the tile-data permission.
#include <cstdint>
#include <cstring>

#include "cpu/isa/amx-tiles.h"
#include "cpu/isa/attention-probabilities-bf16.h"
#include "cpu/kernels-amx.h"

namespace sa::cpu::amx {

namespace {

constexpr int64_t L = kAttnLanes;

// n floats of a as bf16 in d[0, round_up32(n)) (zero past n).
void row_bf16(const float * a, int64_t n, float scale, uint16_t * d) {
    const __m512 sc = _mm512_set1_ps(scale);
    for (int64_t c = 0; c < n; c += 32) {
        const int64_t left = n - c;
        const __mmask16 m0 = (__mmask16) (left >= 16 ? 0xFFFFu : (1u << left) - 1u);
        const __mmask16 m1 = (__mmask16) (left >= 32 ? 0xFFFFu : left <= 16 ? 0u : (1u << (left - 16)) - 1u);
        const __m512 lo = _mm512_mul_ps(sc, _mm512_maskz_loadu_ps(m0, a + c));
        const __m512 hi = _mm512_mul_ps(sc, _mm512_maskz_loadu_ps(m1, a + c + 16));
        _mm512_storeu_si512((void *) (d + c), (__m512i) _mm512_cvtne2ps_pbh(hi, lo));
    }
}

}  // namespace

void attention_vit_pack_keys(const float * k, int64_t ld, int64_t N, int64_t hd, uint16_t * kb) {
    const int64_t hd32 = round_up32(hd), rows = round_up16(N);
    for (int64_t n = 0; n < N; ++n) row_bf16(k + n * ld, hd, 1.0f, kb + n * hd32);
    std::memset(kb + N * hd32, 0, (size_t) ((rows - N) * hd32) * sizeof(uint16_t));
}

void attention_vit_pack_values(const float * v, int64_t ld, int64_t N, int64_t hd, uint16_t * vt) {
    const int64_t rows = round_up16(hd), ldv = round_up32(N);
    constexpr int64_t kKeys = 32;  // keys converted at a time, then transposed
    alignas(64) uint16_t t[kKeys * 256];
    std::memset(vt, 0, (size_t) (rows * ldv) * sizeof(uint16_t));
    for (int64_t c0 = 0; c0 < hd; c0 += 256) {
        const int64_t nc = hd - c0 < 256 ? hd - c0 : 256, nc32 = round_up32(nc);
        for (int64_t n0 = 0; n0 < N; n0 += kKeys) {
            const int64_t nn = N - n0 < kKeys ? N - n0 : kKeys;
            for (int64_t i = 0; i < nn; ++i) row_bf16(v + (n0 + i) * ld + c0, nc, 1.0f, t + i * nc32);
            for (int64_t c = 0; c < nc; ++c) {
                uint16_t * d = vt + (c0 + c) * ldv + n0;
                for (int64_t i = 0; i < nn; ++i) d[i] = t[i * nc32 + c];
            }
        }
    }
}

void attention_vit_pack_queries(const float * q, int64_t ld, int64_t nq, int64_t hd, float scale, uint32_t * qt) {
    const int64_t pairs = round_up32(hd) / 2;
    std::memset(qt, 0, (size_t) (pairs * L) * sizeof(uint32_t));
    alignas(64) uint16_t t[256];
    for (int64_t c0 = 0; c0 < hd; c0 += 256) {
        const int64_t nc = hd - c0 < 256 ? hd - c0 : 256;
        for (int64_t i = 0; i < nq; ++i) {
            row_bf16(q + i * ld + c0, nc, scale, t);
            const uint32_t * w = reinterpret_cast<const uint32_t *>(t);
            for (int64_t p = 0; p < (nc + 1) / 2; ++p) qt[(c0 / 2 + p) * L + i] = w[p];
        }
    }
}

void attention_vit_scores(const uint16_t * kb, int64_t hd, int64_t kn, const uint32_t * qt, float * st) {
    const int64_t hd32 = round_up32(hd), steps = hd32 / 32;
    configure_tiles();
    // 32 keys x 32 lanes at a time: four independent accumulators (keys j / j + 16 x lanes 0-15 / 16-31)
    // over the channel steps, as in the GEMM, so consecutive TDPBF16PS do not wait on one another.
    for (int64_t j = 0; j < kn; j += 32) {
        const bool two = kn - j > 16;
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
        for (int64_t s = 0; s < steps; ++s) {
            _tile_loadd(4, kb + j * hd32 + s * 32, hd32 * 2);
            _tile_loadd(6, qt + s * 16 * L, L * 4);
            _tile_loadd(7, qt + s * 16 * L + 16, L * 4);
            _tile_dpbf16ps(0, 4, 6);
            _tile_dpbf16ps(1, 4, 7);
            if (two) {
                _tile_loadd(5, kb + (j + 16) * hd32 + s * 32, hd32 * 2);
                _tile_dpbf16ps(2, 5, 6);
                _tile_dpbf16ps(3, 5, 7);
            }
        }
        _tile_stored(0, st + j * L, L * 4);
        _tile_stored(1, st + j * L + 16, L * 4);
        if (two) {
            _tile_stored(2, st + (j + 16) * L, L * 4);
            _tile_stored(3, st + (j + 16) * L + 16, L * 4);
        }
    }
    _tile_release();
}

void attention_vit_probabilities(const attn::KeyBlock & a, uint32_t * pp) {
    bf16attn::probabilities(a, pp);
}

void attention_vit_values(const uint16_t * vt, int64_t ldv, int64_t hd, int64_t kn, const uint32_t * pp, float * o,
                          bool first) {
    const int64_t kn32 = round_up32(kn), rows = round_up16(hd);
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
