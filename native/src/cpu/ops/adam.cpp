// SPDX-License-Identifier: Apache-2.0
// One Adam / AdamW step over a flat parameter buffer, in PyTorch's order of operations
// (torch.optim.Adam / AdamW, single-tensor path, amsgrad off):
//   Adam:  g += wd * param                  AdamW: param *= 1 - lr * wd
//   m = beta1 m + (1 - beta1) g,  v = beta2 v + (1 - beta2) g^2
//   param -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// Elementwise and memory-bound (param, grad, m, v: 28 bytes of traffic per element; 32 when the
// gradient is cleared in the same pass): eight lanes per AVX2 step, a scalar tail; the partition into
// lanes depends only on the element index.
#include <cmath>
#include <string>

#include "cpu/backend-cpu.h"
#include "cpu/kernels-avx512.h"
#include "sa/threadpool.h"

#ifdef __AVX2__
#include <immintrin.h>
#endif

namespace sa {

namespace {

// zero: the gradient buffer, cleared in the same pass (null: left as it is).
void adam(ThreadPool & pool, float * param, const float * grad, float * zero, float * m, float * v, int64_t n, float lr,
          float beta1, float beta2, float eps, float weight_decay, bool decoupled, int64_t t) {
    SA_CHECK_ARG(n >= 0, "adam_step: negative size");
    SA_CHECK_ARG(t >= 1, "adam_step: step number must start at 1");
    SA_CHECK_ARG(beta1 >= 0.0f && beta1 < 1.0f && beta2 >= 0.0f && beta2 < 1.0f, "adam_step: betas outside [0, 1)");
    SA_CHECK_ARG(std::isfinite(lr) && lr >= 0.0f && eps >= 0.0f && weight_decay >= 0.0f,
                 "adam_step: lr, eps and weight_decay must be finite and non-negative");
    if (n == 0) return;
    SA_CHECK_ARG(param && grad && m && v, "adam_step: null pointer");
    const float bc1 = (float) (1.0 - std::pow((double) beta1, (double) t));
    const float bc2_sqrt = (float) std::sqrt(1.0 - std::pow((double) beta2, (double) t));
    const float step_size = lr / bc1;
    const float decay = 1.0f - lr * weight_decay;
    const float one_m_b1 = 1.0f - beta1, one_m_b2 = 1.0f - beta2;
    pool.parallel_for(
        n,
        [&](int64_t i0, int64_t i1) {
#if defined(SA_HAVE_AVX512)
            if (cpu::use_avx512()) {
                const cpu::avx512::AdamConsts k{beta1, beta2,    one_m_b1, one_m_b2,  weight_decay,
                                                decay, bc2_sqrt, eps,      step_size, decoupled};
                return cpu::avx512::adam_range(param, grad, zero, m, v, i0, i1, k);
            }
#endif
            int64_t i = i0;
#ifdef __AVX2__
            const __m256 vb1 = _mm256_set1_ps(beta1), vb2 = _mm256_set1_ps(beta2);
            const __m256 v1b1 = _mm256_set1_ps(one_m_b1), v1b2 = _mm256_set1_ps(one_m_b2);
            const __m256 vwd = _mm256_set1_ps(weight_decay), vdecay = _mm256_set1_ps(decay);
            const __m256 vbc2 = _mm256_set1_ps(bc2_sqrt), veps = _mm256_set1_ps(eps), vstep = _mm256_set1_ps(step_size);
            const bool l2 = !decoupled && weight_decay != 0.0f;
            for (; i + 8 <= i1; i += 8) {
                __m256 g = _mm256_loadu_ps(grad + i);
                if (zero) _mm256_storeu_ps(zero + i, _mm256_setzero_ps());
                __m256 p = _mm256_loadu_ps(param + i);
                if (decoupled) {
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
                float g = grad[i];
                if (zero) zero[i] = 0.0f;
                float p = param[i];
                if (decoupled) {
                    p *= decay;
                } else if (weight_decay != 0.0f) {
                    g += weight_decay * p;
                }
                const float mi = beta1 * m[i] + one_m_b1 * g;
                const float vi = beta2 * v[i] + one_m_b2 * g * g;
                m[i] = mi;
                v[i] = vi;
                param[i] = p - step_size * mi / (std::sqrt(vi) / bc2_sqrt + eps);
            }
        },
        1 << 14);
}

}  // namespace

void CpuBackend::adam_step(float * param, const float * grad, float * m, float * v, int64_t n, float lr, float beta1,
                           float beta2, float eps, float weight_decay, bool decoupled, int64_t t) {
    adam(*pool(), param, grad, nullptr, m, v, n, lr, beta1, beta2, eps, weight_decay, decoupled, t);
}

void CpuBackend::adam_step_zero_grad(float * param, float * grad, float * m, float * v, int64_t n, float lr,
                                     float beta1, float beta2, float eps, float weight_decay, bool decoupled,
                                     int64_t t) {
    adam(*pool(), param, grad, grad, m, v, n, lr, beta1, beta2, eps, weight_decay, decoupled, t);
}

}  // namespace sa
