// SPDX-License-Identifier: Apache-2.0
// Backward pass of TinyViT window attention with learned biases (CpuBackend::attention_tinyvit).
// Per window and head, with the window's tokens gathered as in the forward pass (padding tokens from
// pad_qkv) and P = softmax(scale q k^T + bias[h]) recomputed for the real queries:
//   dP = dO v^T,  dS = P (dP - rowsum(P dP))  (rows of padding queries: zero),
//   dq = scale dS k,  dk = scale dS^T q,  dv = P^T dO,  dbias[h] += dS,
// then the window's dq|dk|dv rows go back to their grid tokens (each token lies in one window) and the
// padding tokens' rows are summed into dpad_qkv. Tasks are (group of windows, head) with a fixed
// number of groups; each task keeps its own bias and padding gradients, summed in task order at the
// end, so the result does not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "cpu/backend-cpu.h"
#include "cpu/softmax-row.h"
#include "sa/gemm.h"
#include "sa/threadpool.h"

namespace sa {

void CpuBackend::attention_tinyvit_backward_impl(const AttentionTinyVitBackwardArgs & a) {
    const auto & [qkv, pad_qkv, bias, dout, dqkv, dpad_qkv, dbias, B, H, W, win, nh, kd, vd] = a;
    const int64_t ph = 2 * kd + vd, row = nh * ph, dv = nh * vd;
    const int64_t nwh = (H + win - 1) / win, nww = (W + win - 1) / win, nwin = B * nwh * nww;
    const int64_t N = win * win;
    const float scale = 1.0f / std::sqrt((float) kd);
    // A fixed number of window groups (not the thread count) sets the reduction order.
    const int64_t groups = std::min<int64_t>(nwin, 16);
    const int64_t tasks = groups * nh;
    std::vector<float> bias_part(dbias ? (size_t) (tasks * N * N) : 0, 0.0f);
    const bool want_pad = dpad_qkv && pad_qkv;
    std::vector<float> pad_part(want_pad ? (size_t) (tasks * ph) : 0, 0.0f);

    pool()->parallel_for(tasks, [&](int64_t t0, int64_t t1) {
        std::vector<float> wq((size_t) (N * ph)), dw((size_t) (N * ph)), S((size_t) (N * N)), dS((size_t) (N * N)),
            dO((size_t) (N * vd));
        std::vector<char> real((size_t) N);
        for (int64_t t = t0; t < t1; ++t) {
            const int64_t g = t / nh, h = t % nh;
            float * bpart = dbias ? bias_part.data() + t * N * N : nullptr;
            float * ppart = want_pad ? pad_part.data() + t * ph : nullptr;
            for (int64_t w_idx = g * nwin / groups; w_idx < (g + 1) * nwin / groups; ++w_idx) {
                const int64_t b = w_idx / (nwh * nww), wy = (w_idx / nww) % nwh, wx = w_idx % nww;
                const int64_t rows_in = std::min(win, H - wy * win), cols_in = std::min(win, W - wx * win);
                auto grid_row = [&](int64_t i) { return (b * H + wy * win + i / win) * W + wx * win + i % win; };
                for (int64_t i = 0; i < N; ++i) {
                    real[(size_t) i] = i / win < rows_in && i % win < cols_in;
                    float * dst = wq.data() + i * ph;
                    const float * src =
                        real[(size_t) i] ? qkv + grid_row(i) * row + h * ph : (pad_qkv ? pad_qkv + h * ph : nullptr);
                    if (src) std::copy(src, src + ph, dst);
                    else std::fill(dst, dst + ph, 0.0f);
                    float * go = dO.data() + i * vd;
                    if (real[(size_t) i]) {
                        const float * s = dout + grid_row(i) * dv + h * vd;
                        std::copy(s, s + vd, go);
                    } else {
                        std::fill(go, go + vd, 0.0f);
                    }
                }
                const float * q = wq.data();
                const float * k = wq.data() + kd;
                const float * v = wq.data() + 2 * kd;
                // P (real query rows; padding rows zero)
                sgemm_serial(false, true, N, N, kd, scale, q, ph, k, ph, 0.0f, S.data(), N);
                const float * hb = bias ? bias + h * N * N : nullptr;
                for (int64_t r = 0; r < N; ++r) {
                    float * s = S.data() + r * N;
                    if (!real[(size_t) r]) {
                        std::fill(s, s + N, 0.0f);
                        continue;
                    }
                    if (hb)
                        for (int64_t j = 0; j < N; ++j) s[j] += hb[r * N + j];
                    cpu::softmax_row(s, s, N);
                }
                // dP = dO v^T, dS = P (dP - rowsum(P dP)); padding rows: dO = 0, P = 0, so dS = 0
                sgemm_serial(false, true, N, N, vd, 1.0f, dO.data(), vd, v, ph, 0.0f, dS.data(), N);
                for (int64_t r = 0; r < N; ++r)
                    cpu::softmax_backward_row(S.data() + r * N, dS.data() + r * N, dS.data() + r * N, N, 1.0f);
                if (bpart)
                    for (int64_t i = 0; i < N * N; ++i) bpart[i] += dS[(size_t) i];
                // dq = scale dS k, dk = scale dS^T q, dv = P^T dO, into the window's [N, ph] rows
                sgemm_serial(false, false, N, kd, N, scale, dS.data(), N, k, ph, 0.0f, dw.data(), ph);
                sgemm_serial(true, false, N, kd, N, scale, dS.data(), N, q, ph, 0.0f, dw.data() + kd, ph);
                sgemm_serial(true, false, N, vd, N, 1.0f, S.data(), N, dO.data(), vd, 0.0f, dw.data() + 2 * kd, ph);
                for (int64_t i = 0; i < N; ++i) {
                    const float * src = dw.data() + i * ph;
                    if (real[(size_t) i]) {
                        std::copy(src, src + ph, dqkv + grid_row(i) * row + h * ph);
                    } else if (ppart) {
                        for (int64_t c = 0; c < ph; ++c) ppart[c] += src[c];
                    }
                }
            }
        }
    });
    for (int64_t t = 0; t < tasks; ++t) {
        const int64_t h = t % nh;
        if (dbias) {
            const float * src = bias_part.data() + t * N * N;
            float * dst = dbias + h * N * N;
            for (int64_t i = 0; i < N * N; ++i) dst[i] += src[i];
        }
        if (want_pad) {
            const float * src = pad_part.data() + t * ph;
            float * dst = dpad_qkv + h * ph;
            for (int64_t c = 0; c < ph; ++c) dst[c] += src[c];
        }
    }
}

}  // namespace sa
