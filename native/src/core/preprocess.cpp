// SPDX-License-Identifier: Apache-2.0
// SAM's image preprocessing (sa/preprocess.h). Pillow's resampler for 8-bit images: per output pixel a
// triangle filter over the input (its support widened by the scale when shrinking), the weights
// normalised in double precision and rounded to 22-bit fixed point; the sums are integers, so their
// order does not change the result. The coefficients are computed with the same double operations as
// the TypeScript version, so both give the same bytes.
#include "sa/preprocess.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "sa/status.h"

namespace sa {

namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;
constexpr int64_t kHalf = int64_t{1} << (kPrecisionBits - 1);

// SAM's pixel mean and std (RGB, 0-255).
constexpr double kMean[3] = {123.675, 116.28, 103.53};
constexpr double kStd[3] = {58.395, 57.12, 57.375};

struct Coefficients {
    std::vector<int64_t> first, count;  // per output: first input index, taps
    std::vector<int32_t> weights;       // per output: k fixed-point weights
    int64_t k = 0;
};

Coefficients coefficients(int64_t in_size, int64_t out_size) {
    const double scale = (double) in_size / (double) out_size;
    const double filter_scale = std::max(scale, 1.0);
    const double support = filter_scale;
    Coefficients c;
    c.k = (int64_t) std::ceil(support) * 2 + 1;
    c.first.resize((size_t) out_size);
    c.count.resize((size_t) out_size);
    c.weights.assign((size_t) (out_size * c.k), 0);
    std::vector<double> w((size_t) c.k);
    for (int64_t i = 0; i < out_size; ++i) {
        const double center = ((double) i + 0.5) * scale;
        int64_t xmin = (int64_t) std::floor(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int64_t xmax = (int64_t) std::floor(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        double total = 0.0;
        for (int64_t x = 0; x < xmax; ++x) {
            const double t = std::fabs(((double) (x + xmin) - center + 0.5) / filter_scale);
            w[(size_t) x] = t < 1.0 ? 1.0 - t : 0.0;
            total += w[(size_t) x];
        }
        for (int64_t x = 0; x < xmax; ++x) {
            const double v = total != 0.0 ? w[(size_t) x] / total : w[(size_t) x];
            const double f = v * (double) (1 << kPrecisionBits);
            c.weights[(size_t) (i * c.k + x)] = (int32_t) std::trunc(v < 0.0 ? f - 0.5 : f + 0.5);
        }
        c.first[(size_t) i] = xmin;
        c.count[(size_t) i] = xmax;
    }
    return c;
}

inline uint8_t clip8(int64_t ss) {
    const int64_t v = ss >> kPrecisionBits;
    return (uint8_t) (v < 0 ? 0 : v > 255 ? 255 : v);
}

// Rows of an h x w x c image to nw columns.
void resize_rows(const uint8_t * src, int64_t h, int64_t w, int64_t c, int64_t nw, uint8_t * dst) {
    const Coefficients k = coefficients(w, nw);
    for (int64_t y = 0; y < h; ++y) {
        const uint8_t * row = src + y * w * c;
        uint8_t * o = dst + y * nw * c;
        for (int64_t x = 0; x < nw; ++x) {
            const uint8_t * s0 = row + k.first[(size_t) x] * c;
            const int32_t * wk = k.weights.data() + x * k.k;
            const int64_t n = k.count[(size_t) x];
            for (int64_t ch = 0; ch < c; ++ch) {
                int64_t ss = kHalf;
                for (int64_t i = 0; i < n; ++i) ss += (int64_t) s0[i * c + ch] * wk[i];
                *o++ = clip8(ss);
            }
        }
    }
}

// h rows of len bytes to nh rows: each output row a weighted sum of whole input rows.
void resize_columns(const uint8_t * src, int64_t h, int64_t len, int64_t nh, uint8_t * dst) {
    const Coefficients k = coefficients(h, nh);
    for (int64_t y = 0; y < nh; ++y) {
        const uint8_t * r0 = src + k.first[(size_t) y] * len;
        const int32_t * wk = k.weights.data() + y * k.k;
        const int64_t n = k.count[(size_t) y];
        uint8_t * o = dst + y * len;
        if (n == 2) {  // upsampling: two rows per output row; the sums stay below 2^31
            const int32_t w0 = wk[0], w1 = wk[1];
            const uint8_t * r1 = r0 + len;
            for (int64_t i = 0; i < len; ++i) {
                const int32_t ss = (int32_t) kHalf + (int32_t) r0[i] * w0 + (int32_t) r1[i] * w1;
                const int32_t v = ss >> kPrecisionBits;
                o[i] = (uint8_t) (v < 0 ? 0 : v > 255 ? 255 : v);
            }
            continue;
        }
        for (int64_t i = 0; i < len; ++i) {
            int64_t ss = kHalf;
            for (int64_t t = 0; t < n; ++t) ss += (int64_t) r0[t * len + i] * wk[t];
            o[i] = clip8(ss);
        }
    }
}

}  // namespace

void resize_longest_side_shape(int64_t h, int64_t w, int64_t target, int64_t * nh, int64_t * nw) {
    SA_CHECK_ARG(h > 0 && w > 0 && target > 0, "resize_longest_side_shape: sizes must be positive");
    const double scale = (double) target / (double) std::max(h, w);
    *nh = (int64_t) std::floor((double) h * scale + 0.5);
    *nw = (int64_t) std::floor((double) w * scale + 0.5);
}

void resize_bilinear_u8(const uint8_t * src, int64_t h, int64_t w, int64_t c, int64_t nh, int64_t nw, uint8_t * dst) {
    SA_CHECK_ARG(h > 0 && w > 0 && c > 0 && nh > 0 && nw > 0, "resize_bilinear_u8: sizes must be positive");
    SA_CHECK_ARG(src && dst, "resize_bilinear_u8: null pointer");
    if (nw == w && nh == h) {
        std::copy(src, src + h * w * c, dst);
        return;
    }
    if (nw == w) return resize_columns(src, h, w * c, nh, dst);
    if (nh == h) return resize_rows(src, h, w, c, nw, dst);
    std::vector<uint8_t> tmp((size_t) (h * nw * c));
    resize_rows(src, h, w, c, nw, tmp.data());
    resize_columns(tmp.data(), h, nw * c, nh, dst);
}

void sam_preprocess(const uint8_t * rgb, int64_t h, int64_t w, int64_t size, float * out, int64_t * nh, int64_t * nw) {
    SA_CHECK_ARG(rgb && out, "sam_preprocess: null pointer");
    resize_longest_side_shape(h, w, size, nh, nw);
    SA_CHECK_ARG(*nh <= size && *nw <= size, "sam_preprocess: resized image larger than the input size");
    std::vector<uint8_t> resized;
    const uint8_t * px = rgb;
    if (*nh != h || *nw != w) {
        resized.resize((size_t) (*nh * *nw * 3));
        resize_bilinear_u8(rgb, h, w, 3, *nh, *nw, resized.data());
        px = resized.data();
    }
    float lut[3][256];
    for (int ch = 0; ch < 3; ++ch)
        for (int v = 0; v < 256; ++v) lut[ch][v] = (float) (((double) v - kMean[ch]) / kStd[ch]);
    const int64_t plane = size * size, rh = *nh, rw = *nw;
    for (int64_t y = 0; y < size; ++y) {
        float * o0 = out + y * size;
        if (y >= rh) {
            for (int ch = 0; ch < 3; ++ch) std::fill(o0 + ch * plane, o0 + ch * plane + size, 0.0f);
            continue;
        }
        const uint8_t * s = px + y * rw * 3;
        for (int64_t x = 0; x < rw; ++x) {
            o0[x] = lut[0][s[3 * x]];
            o0[plane + x] = lut[1][s[3 * x + 1]];
            o0[2 * plane + x] = lut[2][s[3 * x + 2]];
        }
        for (int ch = 0; ch < 3; ++ch) std::fill(o0 + ch * plane + rw, o0 + ch * plane + size, 0.0f);
    }
}

}  // namespace sa
