// SPDX-License-Identifier: Apache-2.0
// Exact (erf-based) GELU, y = x * Phi(x), and its backward pass dx = dy * (Phi(x) + x phi(x)).
#include "cpu/backend-cpu.h"
#include "cpu/kernels-avx512.h"
#include "cpu/simd.h"
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
            int64_t i = i0;
#ifdef __AVX2__
            for (; i + 8 <= i1; i += 8) _mm256_storeu_ps(y + i, cpu::gelu256(_mm256_loadu_ps(x + i)));
#endif
            for (; i < i1; ++i) y[i] = cpu::gelu_scalar(x[i]);
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
            int64_t i = i0;
#ifdef __AVX2__
            for (; i + 8 <= i1; i += 8)
                _mm256_storeu_ps(dx + i,
                                 _mm256_mul_ps(_mm256_loadu_ps(dy + i), cpu::gelu_grad256(_mm256_loadu_ps(x + i))));
#endif
            for (; i < i1; ++i) dx[i] = dy[i] * cpu::gelu_grad_scalar(x[i]);
        },
        kGrain);
}

}  // namespace sa
