// SPDX-License-Identifier: Apache-2.0
// ConvTranspose2d with kernel == stride == 2 (SAM's output upscaling), W [C, O, 2, 2] (PyTorch layout).
// Every output pixel receives exactly one input pixel, so per image
//   Z[O*4, HW] = W^T[O*4, C] X[C, HW],   y[o, 2i+ki, 2j+kj] = Z[o*4 + ki*2 + kj, i*W + j] + b[o]
// and the backward pass is two GEMMs on the de-interleaved gradient dZ:
//   dX[C, HW] = W[C, O*4] dZ,   dW[C, O*4] += X dZ^T,   db[o] += sum dy[o].
// Z / dZ live in a per-thread scratch buffer that grows to the largest size seen and is then reused.
#include <algorithm>
#include <string>
#include <vector>

#include "cpu/backend-cpu.h"
#include "sa/gemm.h"
#include "sa/threadpool.h"

namespace sa {

namespace {

float * scratch(size_t n) {
    thread_local std::vector<float> buf;
    if (buf.size() < n) buf.resize(n);
    return buf.data();
}

}  // namespace

void CpuBackend::conv_transpose_k2s2_impl(const ConvTransposeArgs & a) {
    const cpu::ProductsScope scope = products();
    const auto & [x, W, b, y, B, C, H, Wd, O] = a;
    const int64_t HW = H * Wd;
    float * z = scratch((size_t) (O * 4 * HW));
    const std::shared_ptr<ThreadPool> held = pool();
    ThreadPool & pool = *held;
    for (int64_t n = 0; n < B; ++n) {
        const float * xb = x + n * C * HW;
        float * yb = y + n * O * 4 * HW;
        sgemm(true, false, O * 4, HW, C, 1.0f, W, O * 4, xb, HW, 0.0f, z, HW, pool);
        // Interleave: output rows 2i and 2i+1 of channel o come from Z rows o*4 + {0,1} and o*4 + {2,3}.
        pool.parallel_for(O * H, [&](int64_t t0, int64_t t1) {
            for (int64_t t = t0; t < t1; ++t) {
                const int64_t o = t / H, i = t % H;
                const float bias = b ? b[o] : 0.0f;
                for (int64_t ki = 0; ki < 2; ++ki) {
                    const float * z0 = z + (o * 4 + ki * 2) * HW + i * Wd;
                    const float * z1 = z0 + HW;
                    float * yr = yb + (o * 2 * H + 2 * i + ki) * 2 * Wd;
                    for (int64_t j = 0; j < Wd; ++j) {
                        yr[2 * j] = z0[j] + bias;
                        yr[2 * j + 1] = z1[j] + bias;
                    }
                }
            }
        });
    }
}

void CpuBackend::conv_transpose_k2s2_backward_impl(const ConvTransposeBackwardArgs & a) {
    const cpu::ProductsScope scope = products();
    const auto & [x, W, dy, dx, dW, db, B, C, H, Wd, O] = a;
    const int64_t HW = H * Wd;
    float * dz = scratch((size_t) (O * 4 * HW));
    const std::shared_ptr<ThreadPool> held = pool();
    ThreadPool & pool = *held;
    for (int64_t n = 0; n < B; ++n) {
        const float * dyb = dy + n * O * 4 * HW;
        if (db) {
            // Per output channel, summed in pixel order (one channel per task).
            pool.parallel_for(O, [&](int64_t o0, int64_t o1) {
                for (int64_t o = o0; o < o1; ++o) {
                    const float * d = dyb + o * 4 * HW;
                    double s = 0.0;
                    for (int64_t p = 0; p < 4 * HW; ++p) s += d[p];
                    db[o] += (float) s;
                }
            });
        }
        if (!dx && !dW) continue;
        pool.parallel_for(O * H, [&](int64_t t0, int64_t t1) {
            for (int64_t t = t0; t < t1; ++t) {
                const int64_t o = t / H, i = t % H;
                for (int64_t ki = 0; ki < 2; ++ki) {
                    float * z0 = dz + (o * 4 + ki * 2) * HW + i * Wd;
                    float * z1 = z0 + HW;
                    const float * dr = dyb + (o * 2 * H + 2 * i + ki) * 2 * Wd;
                    for (int64_t j = 0; j < Wd; ++j) {
                        z0[j] = dr[2 * j];
                        z1[j] = dr[2 * j + 1];
                    }
                }
            }
        });
        if (dx) sgemm(false, false, C, HW, O * 4, 1.0f, W, O * 4, dz, HW, 0.0f, dx + n * C * HW, HW, pool);
        if (dW) sgemm(false, true, C, O * 4, HW, 1.0f, x + n * C * HW, HW, dz, HW, 1.0f, dW, O * 4, pool);
    }
}

}  // namespace sa
