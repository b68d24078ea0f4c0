// SPDX-License-Identifier: Apache-2.0
// Elementwise ops: add, add_bias (row broadcast), scale. Memory-bound; split over the default pool
// in large contiguous chunks (results do not depend on the partition).
#include <string>

#include "cpu/backend-cpu.h"
#include "cpu/lanes.h"

namespace sa {

void CpuBackend::add(const float * a, const float * b, float * y, int64_t n) {
    SA_CHECK_ARG(n >= 0, "add: negative size");
    if (n == 0) return;
    SA_CHECK_ARG(a && b && y, "add: null pointer");
    cpu::parallel_lanes(*pool(), n, [&](auto L, int64_t i) { L.store(y + i, L.add(L.load(a + i), L.load(b + i))); });
}

void CpuBackend::add_bias(const float * x, const float * bias, float * y, int64_t rows, int64_t cols) {
    SA_CHECK_ARG(rows >= 0 && cols >= 0, "add_bias: negative size");
    if (rows == 0 || cols == 0) return;
    SA_CHECK_ARG(x && bias && y, "add_bias: null pointer");
    const int64_t grain_rows = cols >= cpu::kMemoryBoundGrain ? 1 : cpu::kMemoryBoundGrain / cols;
    pool()->parallel_for(
        rows,
        [&](int64_t r0, int64_t r1) {
            for (int64_t r = r0; r < r1; ++r) {
                const float * xr = x + r * cols;
                float * yr = y + r * cols;
                cpu::for_lanes(0, cols,
                               [&](auto L, int64_t c) { L.store(yr + c, L.add(L.load(xr + c), L.load(bias + c))); });
            }
        },
        grain_rows);
}

void CpuBackend::scale(const float * x, float s, float * y, int64_t n) {
    SA_CHECK_ARG(n >= 0, "scale: negative size");
    if (n == 0) return;
    SA_CHECK_ARG(x && y, "scale: null pointer");
    cpu::parallel_lanes(*pool(), n, [&](auto L, int64_t i) { L.store(y + i, L.mul(L.load(x + i), L.set1(s))); });
}

}  // namespace sa
