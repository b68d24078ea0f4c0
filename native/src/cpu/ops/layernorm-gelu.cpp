// SPDX-License-Identifier: Apache-2.0
// GELU(LayerNorm(x)) over the last dimension and its backward pass, fused row by row: the forward pass
// writes only GELU's output and the statistics, the backward pass recomputes each row's normalised
// values from x and the statistics in a row buffer, turns dg into dy there and runs LayerNorm's
// backward row on it (cpu/layernorm-backward-rows.h). Each step is the kernel the composition would
// run (cpu::layernorm_row, the gelu and gelu_backward lanes, the same row blocks for dgamma / dbeta),
// so the results have the composition's bits when C is a multiple of 8 (otherwise the scalar tails
// fall on other elements). The y and dy_scratch buffers of the arguments are not used.
#include <vector>

#include "cpu/backend-cpu.h"
#include "cpu/kernels-avx512.h"
#include "cpu/lanes.h"
#include "cpu/layernorm-backward-rows.h"
#include "cpu/layernorm-row.h"
#include "sa/threadpool.h"

namespace sa {

namespace {

float * row_buffer(int64_t C) {
    thread_local std::vector<float> buf;
    if (buf.size() < (size_t) C) buf.resize((size_t) C);
    return buf.data();
}

// y = (x - mu) rs gamma + beta over C, as cpu::layernorm_row writes it.
void normalize_row(const float * x, const float * gamma, const float * beta, float mu, float rs, float * y, int64_t C) {
    cpu::for_lanes(0, C, [&](auto L, int64_t c) {
        auto v = L.mul(L.sub(L.load(x + c), L.set1(mu)), L.set1(rs));
        if (gamma) v = L.mul(v, L.load(gamma + c));
        if (beta) v = L.add(v, L.load(beta + c));
        L.store(y + c, v);
    });
}

}  // namespace

void CpuBackend::layernorm_gelu_impl(const LayerNormGeluArgs & a) {
    const auto & [x, gamma, beta, g, mean, rstd, y, rows, C, eps] = a;
    pool()->parallel_for(
        rows,
        [&](int64_t r0, int64_t r1) {
            float * buf = row_buffer(C);
            for (int64_t r = r0; r < r1; ++r) {
                cpu::layernorm_row(x + r * C, gamma, beta, buf, C, eps, mean[r], rstd[r]);
                float * out = g + r * C;
#if defined(SA_HAVE_AVX512)
                if (cpu::use_avx512()) {
                    cpu::avx512::gelu(buf, out, C);
                    continue;
                }
#endif
                cpu::for_lanes(0, C, [&](auto L, int64_t c) { L.store(out + c, L.gelu(L.load(buf + c))); });
            }
        },
        C >= 4096 ? 1 : 4096 / C);
}

void CpuBackend::layernorm_gelu_backward_impl(const LayerNormGeluBackwardArgs & a) {
    const auto & [x, gamma, beta, mean, rstd, y, dg, dx, dgamma, dbeta, dy_scratch, rows, C] = a;
    const std::shared_ptr<ThreadPool> held = pool();
    cpu::layernorm_backward_rows(
        *held, x, gamma, mean, rstd, rows, C, dx, dgamma, dbeta, [&](int64_t r, float * buf) -> const float * {
            normalize_row(x + r * C, gamma, beta, mean[r], rstd[r], buf, C);
            const float * d = dg + r * C;
#if defined(SA_HAVE_AVX512)
            if (cpu::use_avx512()) {
                cpu::avx512::gelu_backward(buf, d, buf, C);
                return buf;
            }
#endif
            cpu::for_lanes(
                0, C, [&](auto L, int64_t c) { L.store(buf + c, L.mul(L.load(d + c), L.gelu_grad(L.load(buf + c)))); });
            return buf;
        });
}

}  // namespace sa
