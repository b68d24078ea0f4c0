// SPDX-License-Identifier: Apache-2.0
// ReLU, y = max(x, 0), and its backward pass from the saved output: dx = dy where y > 0, else 0.
#include "cpu/backend-cpu.h"
#include "cpu/lanes.h"

namespace sa {

void CpuBackend::relu(const float * x, float * y, int64_t n) {
    SA_CHECK_ARG(n >= 0, "relu: negative size");
    if (n == 0) return;
    SA_CHECK_ARG(x && y, "relu: null pointer");
    cpu::parallel_lanes(*pool(), n, [&](auto L, int64_t i) { L.store(y + i, L.relu(L.load(x + i))); });
}

void CpuBackend::relu_backward(const float * y, const float * dy, float * dx, int64_t n) {
    SA_CHECK_ARG(n >= 0, "relu_backward: negative size");
    if (n == 0) return;
    SA_CHECK_ARG(y && dy && dx, "relu_backward: null pointer");
    cpu::parallel_lanes(*pool(), n,
                        [&](auto L, int64_t i) { L.store(dx + i, L.where_pos(L.load(y + i), L.load(dy + i))); });
}

}  // namespace sa
