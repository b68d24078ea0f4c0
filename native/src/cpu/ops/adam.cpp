// SPDX-License-Identifier: Apache-2.0
// One Adam / AdamW step over a flat parameter buffer (the update of one element: core/adam-update.h).
// Elementwise and memory-bound (param, grad, m, v: 28 bytes of traffic per element; 32 when the
// gradient is cleared in the same pass): eight lanes per AVX2 step, a scalar tail; the partition into
// lanes depends only on the element index.
#include <cmath>
#include <string>

#include "core/adam-update.h"
#include "cpu/backend-cpu.h"
#include "cpu/kernels-avx512.h"
#include "sa/threadpool.h"

#ifdef __AVX2__
#include <immintrin.h>
#endif

namespace sa {

namespace {

// zero: the gradient buffer, cleared in the same pass (null: left as it is).
void adam(ThreadPool & pool, const AdamArgs & a, float * zero) {
    const AdamCoeffs k = adam_coeffs(a);
    float * param = a.param;
    const float * grad = a.grad;
    float * m = a.m;
    float * v = a.v;
    pool.parallel_for(
        a.n,
        [&](int64_t i0, int64_t i1) {
#if defined(SA_HAVE_AVX512)
            if (cpu::use_avx512()) {
                const cpu::avx512::AdamConsts c{k.beta1, k.beta2,    k.one_m_b1, k.one_m_b2,  k.weight_decay,
                                                k.decay, k.bc2_sqrt, k.eps,      k.step_size, k.decoupled};
                return cpu::avx512::adam_range(param, grad, zero, m, v, i0, i1, c);
            }
#endif
            int64_t i = i0;
#ifdef __AVX2__
            const __m256 vb1 = _mm256_set1_ps(k.beta1), vb2 = _mm256_set1_ps(k.beta2);
            const __m256 v1b1 = _mm256_set1_ps(k.one_m_b1), v1b2 = _mm256_set1_ps(k.one_m_b2);
            const __m256 vwd = _mm256_set1_ps(k.weight_decay), vdecay = _mm256_set1_ps(k.decay);
            const __m256 vbc2 = _mm256_set1_ps(k.bc2_sqrt), veps = _mm256_set1_ps(k.eps);
            const __m256 vstep = _mm256_set1_ps(k.step_size);
            const bool l2 = !k.decoupled && k.weight_decay != 0.0f;
            for (; i + 8 <= i1; i += 8) {
                __m256 g = _mm256_loadu_ps(grad + i);
                if (zero) _mm256_storeu_ps(zero + i, _mm256_setzero_ps());
                __m256 p = _mm256_loadu_ps(param + i);
                if (k.decoupled) {
                    p = _mm256_mul_ps(p, vdecay);
                } else if (l2) {
                    g = _mm256_add_ps(g, _mm256_mul_ps(vwd, p));
                }
                const __m256 mi = _mm256_add_ps(_mm256_mul_ps(vb1, _mm256_loadu_ps(m + i)), _mm256_mul_ps(v1b1, g));
                const __m256 vi =
                    _mm256_add_ps(_mm256_mul_ps(vb2, _mm256_loadu_ps(v + i)), _mm256_mul_ps(_mm256_mul_ps(v1b2, g), g));
                _mm256_storeu_ps(m + i, mi);
                _mm256_storeu_ps(v + i, vi);
                const __m256 den = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(vi), vbc2), veps);
                _mm256_storeu_ps(param + i, _mm256_sub_ps(p, _mm256_div_ps(_mm256_mul_ps(vstep, mi), den)));
            }
#endif
            for (; i < i1; ++i) {
                const float g = grad[i];
                if (zero) zero[i] = 0.0f;
                adam_update(param[i], g, m[i], v[i], k);
            }
        },
        1 << 14);
}

}  // namespace

void CpuBackend::adam_step_impl(const AdamArgs & a) {
    adam(*pool(), a, nullptr);
}

void CpuBackend::adam_step_zero_grad_impl(const AdamArgs & a) {
    adam(*pool(), a, a.grad);
}

}  // namespace sa
