// SPDX-License-Identifier: Apache-2.0
// conv2d's 3x3 / stride 1 / padding 1 path for wide convolutions (the image encoders' necks): Winograd
// F(2x2, 3x3) (Lavin and Gray), which computes each 2x2 output tile from a 4x4 input tile with 16
// products per input and output channel instead of 36. Once per call, then per image and band of
// tile rows (T tiles, row-major; the bands bound the memory, the necks take one):
//   U[xi][o][c] = (G g_oc G^T)[xi]            weights, 16 matrices [O, C]
//   V[xi][c][t] = (B^T d_ct B)[xi]            input tiles, 16 matrices [C, T]
//   M[xi] = U[xi] V[xi]                       16 products [O, C] x [C, T] (sgemm)
//   y tile (o, t) = A^T M[.][o][t] A + b[o]
// with G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1], B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],
// A^T = [1 1 1 0; 0 1 -1 -1]. The transforms add and subtract (the weights' also halve), so the
// result differs from the direct convolution only by rounding (a few fp32 ulps of the inputs'
// magnitudes). The input transform splits each zero-padded row into its even and odd columns, so the
// column transform of a whole tile row is four contiguous vector operations; every element is computed
// the same way whatever the thread count (transforms per channel, sgemm's bits).
#include "cpu/ops/conv2d-winograd.h"

#include <algorithm>
#include <vector>

#include "cpu/lanes.h"
#include "sa/gemm.h"
#include "sa/threadpool.h"

namespace sa::cpu {

namespace {

struct WinogradScratch {
    std::vector<float> u, v, m;
};

// Per-thread row buffers of the transforms.
struct RowScratch {
    std::vector<float> e, od, cols, y;
};

RowScratch & row_scratch() {
    thread_local RowScratch s;
    return s;
}

// U[xi][o][c] for o in [o0, o1): per o, the weights regrouped by tap (g[k][c], contiguous in c), then
// G g G^T over whole rows of C.
void transform_weights(const float * W, float * U, int64_t O, int64_t C, int64_t o0, int64_t o1) {
    RowScratch & sc = row_scratch();
    sc.cols.resize((size_t) (9 * C));
    float * g = sc.cols.data();
    const int64_t OC = O * C;
    for (int64_t o = o0; o < o1; ++o) {
        for (int64_t c = 0; c < C; ++c)
            for (int64_t k = 0; k < 9; ++k) g[k * C + c] = W[(o * C + c) * 9 + k];
        float * u = U + o * C;
        for_lanes(0, C, [&](auto L, int64_t i) {
            auto gl = [&](int64_t r, int64_t k) { return L.load(g + (3 * r + k) * C + i); };
            const auto half = L.set1(0.5f);
            for (int64_t r = 0; r < 4; ++r) {
                // row r of G g
                decltype(gl(0, 0)) t[3];
                for (int64_t k = 0; k < 3; ++k) {
                    const auto a = gl(0, k), b = gl(1, k), c = gl(2, k);
                    t[k] = r == 0   ? a
                           : r == 3 ? c
                                    : L.mul(half, r == 1 ? L.add(L.add(a, b), c) : L.add(L.sub(a, b), c));
                }
                float * ur = u + 4 * r * OC + i;
                L.store(ur, t[0]);
                L.store(ur + OC, L.mul(half, L.add(L.add(t[0], t[1]), t[2])));
                L.store(ur + 2 * OC, L.mul(half, L.add(L.sub(t[0], t[1]), t[2])));
                L.store(ur + 3 * OC, t[2]);
            }
        });
    }
}

// V[xi][c][t] of channel plane x [H, W] (zero padding 1) for the tile rows [ty0, ty0 + nty) of tw
// tiles each, t = (ty - ty0) tw + tx.
void transform_input(const float * x, int64_t H, int64_t W, int64_t ty0, int64_t nty, int64_t tw, float * V,
                     int64_t CT) {
    RowScratch & sc = row_scratch();
    const int64_t rows = 2 * nty + 2;  // padded input rows 2 ty .. 2 ty + 3 of every tile row
    sc.e.resize((size_t) (tw + 1));
    sc.od.resize((size_t) (tw + 1));
    sc.cols.resize((size_t) (rows * 4 * tw));
    float *e = sc.e.data(), *od = sc.od.data();
    // Column transform of every padded row r of the band (input row 2 ty0 + r - 1): cols[(r * 4 + j) * tw + tx] is
    // (d B)[j] of the row's 4 columns 2 tx - 1 .. 2 tx + 2, from its even (e[k] = x[2k - 1]) and odd
    // (od[k] = x[2k]) padded columns.
    for (int64_t r = 0; r < rows; ++r) {
        const int64_t iy = 2 * ty0 + r - 1;
        float * cr = sc.cols.data() + r * 4 * tw;
        if (iy < 0 || iy >= H) {
            std::fill(cr, cr + 4 * tw, 0.0f);
            continue;
        }
        const float * xr = x + iy * W;
        int64_t k = 1;
        e[0] = 0.0f;
        for (; k <= tw && 2 * k - 1 < W; ++k) e[k] = xr[2 * k - 1];
        for (; k <= tw; ++k) e[k] = 0.0f;
        for (k = 0; k <= tw && 2 * k < W; ++k) od[k] = xr[2 * k];
        for (; k <= tw; ++k) od[k] = 0.0f;
        float *c0 = cr, *c1 = cr + tw, *c2 = cr + 2 * tw, *c3 = cr + 3 * tw;
        for_lanes(0, tw, [&](auto L, int64_t i) {
            const auto e0 = L.load(e + i), e1 = L.load(e + i + 1), o0 = L.load(od + i), o1 = L.load(od + i + 1);
            L.store(c0 + i, L.sub(e0, e1));
            L.store(c1 + i, L.add(o0, e1));
            L.store(c2 + i, L.sub(e1, o0));
            L.store(c3 + i, L.sub(o0, o1));
        });
    }
    // Row transform: rows 2 ty .. 2 ty + 3 of each column of the tile row.
    for (int64_t ty = 0; ty < nty; ++ty)
        for (int64_t j = 0; j < 4; ++j) {
            const float * d0 = sc.cols.data() + ((2 * ty) * 4 + j) * tw;
            const float *d1 = d0 + 4 * tw, *d2 = d0 + 8 * tw, *d3 = d0 + 12 * tw;
            float * v = V + j * CT + ty * tw;
            float *v0 = v, *v1 = v + 4 * CT, *v2 = v + 8 * CT, *v3 = v + 12 * CT;
            for_lanes(0, tw, [&](auto L, int64_t i) {
                const auto a = L.load(d0 + i), b = L.load(d1 + i), c = L.load(d2 + i), d = L.load(d3 + i);
                L.store(v0 + i, L.sub(a, c));
                L.store(v1 + i, L.add(b, c));
                L.store(v2 + i, L.sub(c, b));
                L.store(v3 + i, L.sub(b, d));
            });
        }
}

// Output rows 2 ty0 .. of channel plane y [Ho, Wo] from M[xi][o][t] of the band's nty tile rows
// (stride OT between the 16 matrices) + bias.
void transform_output(const float * Mo, int64_t OT, int64_t ty0, int64_t nty, int64_t tw, float bias, float * y,
                      int64_t Ho, int64_t Wo) {
    RowScratch & sc = row_scratch();
    sc.y.resize((size_t) (4 * tw));
    float *y00 = sc.y.data(), *y01 = y00 + tw, *y10 = y00 + 2 * tw, *y11 = y00 + 3 * tw;
    for (int64_t ty = ty0; ty < ty0 + nty; ++ty) {
        const float * m = Mo + (ty - ty0) * tw;
        for_lanes(0, tw, [&](auto L, int64_t i) {
            auto at = [&](int64_t xi) { return L.load(m + xi * OT + i); };
            // A^T M: s0[j] = m0j + m1j + m2j, s1[j] = m1j - m2j - m3j
            decltype(at(0)) s0[4], s1[4];
            for (int64_t j = 0; j < 4; ++j) {
                const auto a = at(j), b = at(4 + j), c = at(8 + j), d = at(12 + j);
                s0[j] = L.add(L.add(a, b), c);
                s1[j] = L.sub(L.sub(b, c), d);
            }
            const auto vb = L.set1(bias);
            L.store(y00 + i, L.add(L.add(L.add(s0[0], s0[1]), s0[2]), vb));
            L.store(y01 + i, L.add(L.sub(L.sub(s0[1], s0[2]), s0[3]), vb));
            L.store(y10 + i, L.add(L.add(L.add(s1[0], s1[1]), s1[2]), vb));
            L.store(y11 + i, L.add(L.sub(L.sub(s1[1], s1[2]), s1[3]), vb));
        });
        for (int64_t r = 0; r < 2 && 2 * ty + r < Ho; ++r) {
            float * yr = y + (2 * ty + r) * Wo;
            const float *a = r ? y10 : y00, *b = r ? y11 : y01;
            for (int64_t tx = 0; tx < tw; ++tx) {
                yr[2 * tx] = a[tx];
                if (2 * tx + 1 < Wo) yr[2 * tx + 1] = b[tx];
            }
        }
    }
}

}  // namespace

bool winograd_applies(const Conv2dArgs & a) {
    return a.kh == 3 && a.kw == 3 && a.stride == 1 && a.pad == 1 && a.groups == 1 && a.C >= kWinogradMinChannels &&
           a.O >= kWinogradMinChannels && a.H * a.Wd >= 256;
}

void conv2d_winograd(ThreadPool & pool, const Conv2dArgs & a, int64_t band_floats) {
    const auto & [x, W, b, y, B, C, H, Wd, O, kh, kw, stride, pad, groups] = a;
    const int64_t th = (H + 1) / 2, tw = (Wd + 1) / 2, OC = O * C;
    // Bands of whole tile rows (transformed inputs and products of at most band_floats floats each).
    const int64_t band = std::clamp<int64_t>(band_floats / (16 * std::max(C, O) * tw), 1, th);
    const int64_t T = band * tw, CT = C * T, OT = O * T;
    thread_local WinogradScratch sc;
    sc.u.resize((size_t) (16 * OC));
    sc.v.resize((size_t) (16 * CT));
    sc.m.resize((size_t) (16 * OT));
    float *U = sc.u.data(), *V = sc.v.data(), *M = sc.m.data();
    pool.parallel_for(O, [&](int64_t o0, int64_t o1) { transform_weights(W, U, O, C, o0, o1); });
    for (int64_t bi = 0; bi < B; ++bi)
        for (int64_t ty0 = 0; ty0 < th; ty0 += band) {
            const int64_t nty = std::min(band, th - ty0), nt = nty * tw;
            const float * xb = x + bi * C * H * Wd;
            float * yb = y + bi * O * H * Wd;
            pool.parallel_for(C, [&](int64_t c0, int64_t c1) {
                for (int64_t c = c0; c < c1; ++c) transform_input(xb + c * H * Wd, H, Wd, ty0, nty, tw, V + c * T, CT);
            });
            for (int64_t xi = 0; xi < 16; ++xi)
                sgemm(false, false, O, nt, C, 1.0f, U + xi * OC, C, V + xi * CT, T, 0.0f, M + xi * OT, T, pool);
            pool.parallel_for(O, [&](int64_t o0, int64_t o1) {
                for (int64_t o = o0; o < o1; ++o)
                    transform_output(M + o * T, OT, ty0, nty, tw, b ? b[o] : 0.0f, yb + o * H * Wd, H, Wd);
            });
        }
}

}  // namespace sa::cpu
