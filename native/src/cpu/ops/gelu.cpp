// SPDX-License-Identifier: Apache-2.0
// Exact (erf-based) GELU, y = x * Phi(x), and its backward pass dx = dy * (Phi(x) + x phi(x)).
#include "cpu/backend-cpu.h"
#include "cpu/kernels-avx512.h"
#include "cpu/lanes.h"
#include "sa/threadpool.h"

namespace sa {

namespace {
constexpr int64_t kGrain = 1 << 13;
}

void CpuBackend::gelu(const float * x, float * y, int64_t n) {
    SA_CHECK_ARG(n >= 0, "gelu: negative size");
    if (n == 0) return;
    SA_CHECK_ARG(x && y, "gelu: null pointer");
    pool()->parallel_for(
        n,
        [&](int64_t i0, int64_t i1) {
#if defined(SA_HAVE_AVX512)
            if (cpu::use_avx512()) return cpu::avx512::gelu(x + i0, y + i0, i1 - i0);
#endif
            cpu::for_lanes(i0, i1, [&](auto L, int64_t i) { L.store(y + i, L.gelu(L.load(x + i))); });
        },
        kGrain);
}

void CpuBackend::gelu_backward(const float * x, const float * dy, float * dx, int64_t n) {
    SA_CHECK_ARG(n >= 0, "gelu_backward: negative size");
    if (n == 0) return;
    SA_CHECK_ARG(x && dy && dx, "gelu_backward: null pointer");
    pool()->parallel_for(
        n,
        [&](int64_t i0, int64_t i1) {
#if defined(SA_HAVE_AVX512)
            if (cpu::use_avx512()) return cpu::avx512::gelu_backward(x + i0, dy + i0, dx + i0, i1 - i0);
#endif
            cpu::for_lanes(
                i0, i1, [&](auto L, int64_t i) { L.store(dx + i, L.mul(L.load(dy + i), L.gelu_grad(L.load(x + i)))); });
        },
        kGrain);
}

}  // namespace sa
