// SPDX-License-Identifier: Apache-2.0
// Plain multi-head attention (SAM's mask decoder): q [B, Nq, nh*d], k/v [B, Nk, nh*d], head h in columns
// [h*d, (h+1)*d). out = softmax(q k^T / sqrt(d)) v per head; probs [B, nh, Nq, Nk] saved when non-null.
// Backward from the saved probabilities P:
//   dP = dout v^T, dS = P (dP - rowsum(dP P)) / sqrt(d), dq = dS k, dk = dS^T q, dv = P^T dout.
//
// The decoder's attentions are lopsided (17 tokens against 4096 pixels, head dim 16), so every product
// is a small-K or small-N GEMM run on the calling thread (sa::sgemm_serial), and the scores of a task
// are laid out so that the softmax runs along contiguous memory:
//   * Nq <= Nk ("query-major"): S [Nq, Nk] per head, softmax along rows;
//   * Nq >  Nk ("key-major"):   S^T [Nk, qb] per block of qb queries, softmax down the columns, eight
//     queries per vector; probs is written (and read back) transposed into its [Nq, Nk] layout.
// Tasks are (batch, head, query block) with a block size that depends on the shapes only; with at
// least as many tasks as threads each task runs on one thread, otherwise the tasks run one after the
// other with threaded GEMMs and row loops (the same arithmetic either way). Key/value gradients of a
// head are summed over its query blocks in block order from per-block partials, so every result is
// independent of the thread count.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "cpu/backend-cpu.h"
#include "cpu/simd.h"
#include "cpu/softmax-row.h"
#include "sa/gemm.h"
#include "sa/threadpool.h"

namespace sa {

namespace {

constexpr int64_t kKeyMajorBlock = 512;  // queries per task when Nq > Nk

struct Plan {
    bool key_major;
    int64_t qb, blocks;  // queries per block, blocks per head
};

Plan plan(int64_t Nq, int64_t Nk) {
    Plan p;
    p.key_major = Nq > Nk;
    p.qb = p.key_major ? std::min(Nq, kKeyMajorBlock) : Nq;
    p.blocks = (Nq + p.qb - 1) / p.qb;
    return p;
}

// Per-thread scratch slots (grow-only).
float * scratch(int slot, size_t n) {
    thread_local std::vector<float> bufs[4];
    std::vector<float> & b = bufs[slot];
    if (b.size() < n) b.resize(n);
    return b.data();
}

// ---- column (key-major) softmax and its backward: s [n, ld], columns [0, m) --------------------------

void softmax_cols(float * s, int64_t n, int64_t m, int64_t ld) {
    int64_t c = 0;
#ifdef __AVX2__
    for (; c + 8 <= m; c += 8) {
        __m256 mx = _mm256_loadu_ps(s + c);
        for (int64_t j = 1; j < n; ++j) mx = _mm256_max_ps(mx, _mm256_loadu_ps(s + j * ld + c));
        __m256 sum = _mm256_setzero_ps();
        for (int64_t j = 0; j < n; ++j) {
            const __m256 e = cpu::exp256(_mm256_sub_ps(_mm256_loadu_ps(s + j * ld + c), mx));
            _mm256_storeu_ps(s + j * ld + c, e);
            sum = _mm256_add_ps(sum, e);
        }
        const __m256 inv = _mm256_div_ps(_mm256_set1_ps(1.0f), sum);
        for (int64_t j = 0; j < n; ++j) {
            float * row = s + j * ld + c;
            _mm256_storeu_ps(row, _mm256_mul_ps(_mm256_loadu_ps(row), inv));
        }
    }
#endif
    for (; c < m; ++c) {
        float mx = s[c];
        for (int64_t j = 1; j < n; ++j) mx = std::max(mx, s[j * ld + c]);
        float sum = 0.0f;
        for (int64_t j = 0; j < n; ++j) sum += (s[j * ld + c] = std::exp(s[j * ld + c] - mx));
        const float inv = 1.0f / sum;
        for (int64_t j = 0; j < n; ++j) s[j * ld + c] *= inv;
    }
}

// ds = p (ds - colsum(ds p)) scale over [n, m] blocks with row stride ld (ds holds dP on entry).
void softmax_backward_cols(const float * p, float * ds, int64_t n, int64_t m, int64_t ld, float scale) {
    int64_t c = 0;
#ifdef __AVX2__
    const __m256 vs = _mm256_set1_ps(scale);
    for (; c + 8 <= m; c += 8) {
        __m256 rs = _mm256_setzero_ps();
        for (int64_t j = 0; j < n; ++j)
            rs = _mm256_fmadd_ps(_mm256_loadu_ps(ds + j * ld + c), _mm256_loadu_ps(p + j * ld + c), rs);
        for (int64_t j = 0; j < n; ++j) {
            const __m256 pv = _mm256_loadu_ps(p + j * ld + c);
            const __m256 v = _mm256_mul_ps(pv, _mm256_sub_ps(_mm256_loadu_ps(ds + j * ld + c), rs));
            _mm256_storeu_ps(ds + j * ld + c, _mm256_mul_ps(v, vs));
        }
    }
#endif
    for (; c < m; ++c) {
        float rs = 0.0f;
        for (int64_t j = 0; j < n; ++j) rs += ds[j * ld + c] * p[j * ld + c];
        for (int64_t j = 0; j < n; ++j) ds[j * ld + c] = p[j * ld + c] * (ds[j * ld + c] - rs) * scale;
    }
}

// dst [cols, rows] = src [rows, cols]^T, both with explicit row strides.
void transpose(const float * src, int64_t rows, int64_t cols, int64_t lds, float * dst, int64_t ldd) {
    constexpr int64_t kT = 16;
    for (int64_t r0 = 0; r0 < rows; r0 += kT)
        for (int64_t c0 = 0; c0 < cols; c0 += kT) {
            const int64_t r1 = std::min(rows, r0 + kT), c1 = std::min(cols, c0 + kT);
            for (int64_t r = r0; r < r1; ++r)
                for (int64_t c = c0; c < c1; ++c) dst[c * ldd + r] = src[r * lds + c];
        }
}

// How a task runs its products and row loops: on the calling thread (inside a pool task) or over the
// whole pool (called outside the pool, one task at a time).
struct Exec {
    ThreadPool * pool;  // null: serial
    void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float * A, int64_t lda,
              const float * B, int64_t ldb, float beta, float * C, int64_t ldc) const {
        if (pool) {
            sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, *pool);
        } else {
            sgemm_serial(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        }
    }
    template <class F>
    void rows(int64_t n, F && f) const {
        if (pool) {
            pool->parallel_for(n, [&](int64_t r0, int64_t r1) { f(r0, r1); });
        } else {
            f(0, n);
        }
    }
};

// Runs task(t, exec) for t in [0, tasks).
template <class F>
void run_tasks(ThreadPool & pool, int64_t tasks, F && task) {
    if (tasks >= pool.size()) {
        pool.parallel_chunks(tasks, 1, [&](int64_t t0, int64_t t1) {
            for (int64_t t = t0; t < t1; ++t) task(t, Exec{nullptr});
        });
    } else {
        for (int64_t t = 0; t < tasks; ++t) task(t, Exec{&pool});
    }
}

}  // namespace

void CpuBackend::attention_impl(const AttentionArgs & a) {
    const cpu::ProductsScope scope = products();
    const auto & [q, k, v, out, probs, B, Nq, Nk, nh, d] = a;
    const int64_t D = nh * d;
    const float scale = 1.0f / std::sqrt((float) d);
    const Plan pl = plan(Nq, Nk);
    run_tasks(*pool(), B * nh * pl.blocks, [&](int64_t t, const Exec & ex) {
        const int64_t b = t / (nh * pl.blocks), h = (t / pl.blocks) % nh;
        const int64_t i0 = (t % pl.blocks) * pl.qb, n = std::min(pl.qb, Nq - i0);
        const float * qb = q + (b * Nq + i0) * D + h * d;
        const float * kb = k + b * Nk * D + h * d;
        const float * vb = v + b * Nk * D + h * d;
        float * ob = out + (b * Nq + i0) * D + h * d;
        float * pb = probs ? probs + ((b * nh + h) * Nq + i0) * Nk : nullptr;
        if (!pl.key_major) {
            float * s = pb ? pb : scratch(0, (size_t) (n * Nk));
            ex.gemm(false, true, n, Nk, d, scale, qb, D, kb, D, 0.0f, s, Nk);
            ex.rows(n, [&](int64_t r0, int64_t r1) {
                for (int64_t i = r0; i < r1; ++i) cpu::softmax_row(s + i * Nk, s + i * Nk, Nk);
            });
            ex.gemm(false, false, n, d, Nk, 1.0f, s, Nk, vb, D, 0.0f, ob, D);
        } else {
            float * st = scratch(0, (size_t) (Nk * n));
            ex.gemm(false, true, Nk, n, d, scale, kb, D, qb, D, 0.0f, st, n);
            softmax_cols(st, Nk, n, n);
            ex.gemm(true, false, n, d, Nk, 1.0f, st, n, vb, D, 0.0f, ob, D);
            if (pb) transpose(st, Nk, n, n, pb, Nk);
        }
    });
}

namespace {

// The backward pass; acc: dk and dv are the same buffer and both gradients are added to it.
void attention_backward_rows(ThreadPool & pool, const float * q, const float * k, const float * v, const float * probs,
                             const float * dout, float * dq, float * dk, float * dv, int64_t B, int64_t Nq, int64_t Nk,
                             int64_t nh, int64_t d, bool acc) {
    const int64_t D = nh * d;
    if (Nq == 0) {
        if (acc) return;
        if (dk) std::fill(dk, dk + B * Nk * D, 0.0f);
        if (dv) std::fill(dv, dv + B * Nk * D, 0.0f);
        return;
    }
    SA_CHECK_ARG(q && k && v && probs && dout, "attention_backward: null input");
    const float scale = 1.0f / std::sqrt((float) d);
    const Plan pl = plan(Nq, Nk);
    // One query block per head: dk/dv rows are written directly. Several: per-block partials
    // [B * nh * blocks, Nk, d], summed below in block order.
    const bool direct = pl.blocks == 1;
    const float beta_kv = acc && direct ? 1.0f : 0.0f;  // partials are summed into dk/dv below
    const size_t part_n = direct ? 0 : (size_t) (B * nh * pl.blocks * Nk * d);
    thread_local std::vector<float> part_k, part_v;
    if (!direct) {
        if (dk && part_k.size() < part_n) part_k.resize(part_n);
        if (dv && part_v.size() < part_n) part_v.resize(part_n);
    }
    float * pk = direct ? nullptr : part_k.data();
    float * pv = direct ? nullptr : part_v.data();
    run_tasks(pool, B * nh * pl.blocks, [&](int64_t t, const Exec & ex) {
        const int64_t b = t / (nh * pl.blocks), h = (t / pl.blocks) % nh;
        const int64_t i0 = (t % pl.blocks) * pl.qb, n = std::min(pl.qb, Nq - i0);
        const float * qb = q + (b * Nq + i0) * D + h * d;
        const float * kb = k + b * Nk * D + h * d;
        const float * vb = v + b * Nk * D + h * d;
        const float * db = dout + (b * Nq + i0) * D + h * d;
        const float * pb = probs + ((b * nh + h) * Nq + i0) * Nk;
        float * dqb = dq ? dq + (b * Nq + i0) * D + h * d : nullptr;
        // Key/value gradient destinations of this task: [Nk, d] with row stride ldkv.
        float * dkt = dk ? (direct ? dk + b * Nk * D + h * d : pk + t * Nk * d) : nullptr;
        float * dvt = dv ? (direct ? dv + b * Nk * D + h * d : pv + t * Nk * d) : nullptr;
        const int64_t ldkv = direct ? D : d;
        if (!pl.key_major) {
            // Keys and values that feed one tensor (kv_acc): dkv += dS^T q + P^T dout as one product over
            // 2n, [P; dS]^T [dout; q], so the gradient is read and written once.
            const bool stacked = dkt && dkt == dvt;
            float * s2 = stacked ? scratch(2, (size_t) (2 * n * Nk)) : nullptr;
            float * ds = stacked ? s2 + n * Nk : scratch(0, (size_t) (n * Nk));
            ex.gemm(false, true, n, Nk, d, 1.0f, db, D, vb, D, 0.0f, ds, Nk);  // dP
            ex.rows(n, [&](int64_t r0, int64_t r1) {
                for (int64_t i = r0; i < r1; ++i) {
                    cpu::softmax_backward_row(pb + i * Nk, ds + i * Nk, ds + i * Nk, Nk, scale);
                    if (stacked) std::copy(pb + i * Nk, pb + (i + 1) * Nk, s2 + i * Nk);
                }
            });
            if (dqb) ex.gemm(false, false, n, d, Nk, 1.0f, ds, Nk, kb, D, 0.0f, dqb, D);
            if (stacked) {
                float * b2 = scratch(3, (size_t) (2 * n * d));
                for (int64_t i = 0; i < n; ++i) {
                    std::copy(db + i * D, db + i * D + d, b2 + i * d);
                    std::copy(qb + i * D, qb + i * D + d, b2 + (n + i) * d);
                }
                ex.gemm(true, false, Nk, d, 2 * n, 1.0f, s2, Nk, b2, d, beta_kv, dkt, ldkv);
                return;
            }
            if (dkt) ex.gemm(true, false, Nk, d, n, 1.0f, ds, Nk, qb, D, beta_kv, dkt, ldkv);
            if (dvt) ex.gemm(true, false, Nk, d, n, 1.0f, pb, Nk, db, D, beta_kv, dvt, ldkv);
        } else {
            float * ds = scratch(0, (size_t) (n * Nk));
            float * pt = scratch(1, (size_t) (Nk * n));
            transpose(pb, n, Nk, Nk, pt, n);
            ex.gemm(false, true, Nk, n, d, 1.0f, vb, D, db, D, 0.0f, ds, n);  // dP^T
            softmax_backward_cols(pt, ds, Nk, n, n, scale);
            if (dqb) ex.gemm(true, false, n, d, Nk, 1.0f, ds, n, kb, D, 0.0f, dqb, D);
            if (dkt) ex.gemm(false, false, Nk, d, n, 1.0f, ds, n, qb, D, beta_kv, dkt, ldkv);
            if (dvt) ex.gemm(false, false, Nk, d, n, 1.0f, pt, n, db, D, beta_kv, dvt, ldkv);
        }
    });
    if (direct) return;
    // dk[b, j, h*d + c] = sum over blocks of the partials, in block order; split over (b, h, j).
    pool.parallel_for(B * nh * Nk, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            const int64_t bh = r / Nk, j = r % Nk, b = bh / nh, h = bh % nh;
            for (int g = 0; g < 2; ++g) {
                float * dst = g == 0 ? dk : dv;
                const float * src = g == 0 ? pk : pv;
                if (!dst) continue;
                float * o = dst + (b * Nk + j) * D + h * d;
                const float * s0 = src + (bh * pl.blocks * Nk + j) * d;
                if (acc) {
                    for (int64_t c = 0; c < d; ++c) o[c] += s0[c];
                } else {
                    std::copy(s0, s0 + d, o);
                }
                for (int64_t blk = 1; blk < pl.blocks; ++blk) {
                    const float * s = s0 + blk * Nk * d;
                    for (int64_t c = 0; c < d; ++c) o[c] += s[c];
                }
            }
        }
    });
}

}  // namespace

void CpuBackend::attention_backward_impl(const AttentionBackwardArgs & a) {
    const cpu::ProductsScope scope = products();
    const auto & [q, k, v, probs, dout, dq, dk, dv, B, Nq, Nk, nh, d] = a;
    attention_backward_rows(*pool(), q, k, v, probs, dout, dq, dk, dv, B, Nq, Nk, nh, d, false);
}

void CpuBackend::attention_backward_kv_acc_impl(const AttentionKvAccArgs & a) {
    const cpu::ProductsScope scope = products();
    const auto & [q, k, v, probs, dout, dq, dkv, scratch, B, Nq, Nk, nh, d] = a;
    attention_backward_rows(*pool(), q, k, v, probs, dout, dq, dkv, dkv, B, Nq, Nk, nh, d, true);
}

}  // namespace sa
