// SPDX-License-Identifier: Apache-2.0
// The mask decoder's first image keys from channels-first embeddings (sa::KeysFromEmbeddingArgs):
// the transpose to channels-last rows, the bias and the positional encoding in one pass over 8 x 8
// blocks (an AVX register transpose, then the bias and pe added to each pixel's 8 channels), so the
// embedding is read once and each output written once. Work is split over blocks of 64 pixels; every
// element is the same two additions in the same order at any thread count (and equals the composition
// transpose_last2, add_bias, add).
#include <algorithm>
#include <vector>

#include "cpu/backend-cpu.h"
#include "cpu/lanes.h"
#include "cpu/transpose8x8.h"
#include "sa/threadpool.h"

namespace sa {

namespace {

constexpr int64_t kPixels = 32;  // pixels per task

// Pixels [p0, p1) of one sample (at most kPixels): the transposed block goes through a row buffer
// [kPixels, C] (8 x 8 register transposes, reading each channel row sequentially), then the bias and
// pe are added row by row, so keys and keys_pe are written as whole sequential rows.
void keys_block(const float * emb, const float * bias, const float * pe, float * keys, float * keys_pe, int64_t C,
                int64_t HW, int64_t p0, int64_t p1, float * buf) {
    const int64_t n = p1 - p0;
    int64_t q0 = 0;
#ifdef __AVX__
    const int64_t c8 = C / 8 * 8;
    const int64_t n8 = n / 8 * 8;
    // Channel blocks outside: the 8 rows of a block are HW floats apart (the same cache sets when HW is
    // a power of two), so each is read over all the task's pixels before the next block.
    for (int64_t c = 0; c < c8; c += 8)
        for (int64_t q = 0; q < n8; q += 8) cpu::transpose8x8(emb + c * HW + p0 + q, HW, buf + q * C + c, C);
    for (int64_t c = c8; c < C; ++c)
        for (int64_t q = 0; q < n8; ++q) buf[q * C + c] = emb[c * HW + p0 + q];
    q0 = n8;
#endif
    for (int64_t q = q0; q < n; ++q)
        for (int64_t c = 0; c < C; ++c) buf[q * C + c] = emb[c * HW + p0 + q];
    for (int64_t q = 0; q < n; ++q) {
        const float * src = buf + q * C;
        float * k = keys + (p0 + q) * C;
        float * kp = keys_pe ? keys_pe + (p0 + q) * C : nullptr;
        const float * pr = pe ? pe + (p0 + q) * C : nullptr;
        cpu::for_lanes(0, C, [&](auto L, int64_t c) {
            auto v = L.load(src + c);
            if (bias) v = L.add(v, L.load(bias + c));
            L.store(k + c, v);
            if (kp) L.store(kp + c, L.add(v, L.load(pr + c)));
        });
    }
}

}  // namespace

void CpuBackend::keys_from_embedding_impl(const KeysFromEmbeddingArgs & a) {
    const auto & [emb, bias, pe, keys, keys_pe, B, C, HW, emb_stride] = a;
    const int64_t blocks = (HW + kPixels - 1) / kPixels;
    pool()->parallel_for(B * blocks, [&](int64_t t0, int64_t t1) {
        thread_local std::vector<float> buf_v;
        if (buf_v.size() < (size_t) (kPixels * C)) buf_v.resize((size_t) (kPixels * C));
        float * buf = buf_v.data();
        for (int64_t t = t0; t < t1; ++t) {
            const int64_t b = t / blocks, p0 = t % blocks * kPixels;
            keys_block(emb + b * emb_stride, bias, pe, keys + b * HW * C, keys_pe ? keys_pe + b * HW * C : nullptr, C,
                       HW, p0, std::min(HW, p0 + kPixels), buf);
        }
    });
}

}  // namespace sa
