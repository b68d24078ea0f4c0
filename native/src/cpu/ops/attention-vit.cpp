// SPDX-License-Identifier: Apache-2.0
// SAM ViT attention with decomposed relative-position bias (segment-anything image_encoder.py):
//   attn = (q * hd^-0.5) @ k^T + rel_h[q, kh] + rel_w[q, kw];  out = softmax(attn) @ v
// with rel_h[(qh,qw), kh] = q[(qh,qw)] . Rh[qh - kh + H - 1] (unscaled q; likewise rel_w).
// Blocked over keys with an online softmax (cpu/attention-block.h), so no score row is ever held
// whole: a key block's keys and values (252 x hd) stay in L2 while a block of 4 x nr queries runs
// against them, and every head's keys and values are read from memory once per query block instead
// of once per few rows. The products run on the GEMM micro-kernel of the level in use, transposed:
//   S^T [keys, nr queries] = scale K Q^T     (K packed once per head as the left operand)
//   O^T [hd, nr queries]  += V^T P^T         (V^T packed once per head and key block)
// so the probabilities P^T come out of the softmax already in the layout of a packed right operand,
// and the softmax runs down the keys lane by lane. The relative-position terms come from the same
// kernel, per query sliver: each table (packed once per thread as a left operand) times the packed
// queries, R Q^T [table rows, nr queries], gathered by offset into per-key-row and per-key-column
// strips of the block's query lanes. Tasks are (batch, head, query block); the
// bits depend on the level's tile (mr, nr) alone, not on the thread count.
// A bf16 backend at level amx runs both products on AMX tiles instead (cpu/kernels-amx.h): keys,
// values, scaled queries and probabilities rounded to bf16, fp32 accumulation, the same online softmax.
// At level avx512bf16 it keeps this file's blocking with the level's bf16 training kernel (VDPBF16PS,
// 14 x 32 tiles) in place of the fp32 one: keys, values and scaled queries rounded as they are packed
// (the scores tile then stores in place), the softmax writing the probabilities as bf16 pairs of
// consecutive keys (as at level amx), the values product on the level's own routine (a head dimension
// of 64 = 4 x 14 + 8 ends on an 8-row tile), fp32 accumulation; the relative-position terms stay fp32
// (on bf16 products they would add about as much error as rounding q, k and v does).
// At fp32 a head dimension of 64 ends the values product on the AVX-512 kernel's 8-row short tile.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "cpu/attention-block.h"
#include "cpu/backend-cpu.h"
#include "cpu/gemm-kernel.h"
#include "cpu/gemm-packed.h"
#include "cpu/kernels-amx.h"
#include "cpu/kernels-avx512.h"
#include "cpu/simd.h"
#include "sa/isa.h"
#include "sa/threadpool.h"

namespace sa {

namespace {

// 64-byte aligned storage for packed GEMM panels.
class AlignedBuffer {
  public:
    explicit AlignedBuffer(size_t n)
        : p_(static_cast<float *>(std::aligned_alloc(64, std::max<size_t>(64, (n * sizeof(float) + 63) / 64 * 64)))) {
        if (!p_) fail(SA_ERR_OOM, "attention_vit: out of memory for packed keys/values");
    }
    ~AlignedBuffer() { std::free(p_); }
    AlignedBuffer(const AlignedBuffer &) = delete;
    AlignedBuffer & operator=(const AlignedBuffer &) = delete;
    float * data() { return p_; }

  private:
    float * p_;
};

// SAM's get_rel_pos table resampling: F.interpolate(mode="linear", align_corners=False) along the
// table length, from L rows to `out` rows of hd channels.
std::vector<float> resample_rel_pos(const float * table, int64_t L, int64_t out, int64_t hd) {
    std::vector<float> r((size_t) (out * hd));
    if (L == out) {
        std::copy(table, table + out * hd, r.begin());
        return r;
    }
    const float scale = (float) L / (float) out;
    for (int64_t i = 0; i < out; ++i) {
        float src = scale * ((float) i + 0.5f) - 0.5f;
        if (src < 0.0f) src = 0.0f;
        const int64_t i0 = std::min<int64_t>((int64_t) src, L - 1);
        const int64_t i1 = i0 + (i0 < L - 1 ? 1 : 0);
        const float l1 = src - (float) i0, l0 = 1.0f - l1;
        for (int64_t c = 0; c < hd; ++c) r[(size_t) (i * hd + c)] = l0 * table[i0 * hd + c] + l1 * table[i1 * hd + c];
    }
    return r;
}

#ifndef __AVX2__
// Scalar lanes for builds without AVX2 (cpu/vec-math.h's operations on one float).
struct ScalarLanes {
    using v = float;
    static v set1(float a) { return a; }
    static v load(const float * p) { return *p; }
    static void store(float * p, v a) { *p = a; }
    static v add(v a, v b) { return a + b; }
    static v sub(v a, v b) { return a - b; }
    static v mul(v a, v b) { return a * b; }
    static v div(v a, v b) { return a / b; }
    static v fmadd(v a, v b, v c) { return std::fma(a, b, c); }
    static v fnmadd(v a, v b, v c) { return std::fma(-a, b, c); }
    static v min(v a, v b) { return b < a ? b : a; }
    static v max(v a, v b) { return a > b ? a : b; }
    static v floor(v a) { return std::floor(a); }
    static v pow2i(v n) { return std::ldexp(1.0f, (int) n); }
};
#endif

// Queries per block: kQuerySlivers tiles of nr query lanes. Keys per block: the multiple of the tile
// height mr at or below kKeyBudget (252 for both the 6-row AVX2 and the 14-row AVX-512 tile).
constexpr int64_t kQuerySlivers = 4;
constexpr int64_t kKeyBudget = 256;

// One key block for nr query lanes at the level in use.
void key_block(const cpu::attn::KeyBlock & a, int64_t nr) {
#if defined(SA_HAVE_AVX512)
    if (nr == 32 && cpu::use_avx512()) return cpu::avx512::attention_vit_key_block(a);
#endif
#ifdef __AVX2__
    SA_CHECK(nr == 16, SA_ERR_INTERNAL, "attention_vit: unexpected GEMM tile width");
    cpu::attn::key_block<cpu::Avx2Lanes, 2>(a);
#else
    SA_CHECK(nr == 16, SA_ERR_INTERNAL, "attention_vit: unexpected GEMM tile width");
    cpu::attn::key_block<ScalarLanes, 16>(a);
#endif
}

// One key block at a bf16 level below amx (32 query lanes): the probabilities as bf16 pairs of
// consecutive keys, the VDPBF16PS values product's packed right operand (cpu/kernels-avx512.h).
void bf16_probabilities(const cpu::attn::KeyBlock & a, uint32_t * pp) {
#if defined(SA_HAVE_AVX512BF16)
    return cpu::avx512bf16::attention_vit_probabilities(a, pp);
#else
    (void) a;
    (void) pp;
    fail(SA_ERR_INTERNAL, "attention_vit: no bf16 kernels in this build");
#endif
}

// The values product of one key block at a bf16 level below amx: O^T (+)= V^T P^T over the hd rows,
// a last sliver of at most 8 rows on an 8-row tile (cpu/kernels-avx512.h).
void bf16_values(const float * vt, int64_t kvw, int64_t hd, int64_t kn, const float * pp, float * o, bool first) {
#if defined(SA_HAVE_AVX512BF16)
    cpu::avx512bf16::attention_vit_values(reinterpret_cast<const uint32_t *>(vt), kvw, hd, kn,
                                          reinterpret_cast<const uint32_t *>(pp), o, first);
#else
    (void) vt, (void) kvw, (void) hd, (void) kn, (void) pp, (void) o, (void) first;
    fail(SA_ERR_INTERNAL, "attention_vit: no bf16 kernels in this build");
#endif
}

// The relative-position terms of one query block, for the key block loop: rh()[kh * mq + i] =
// q_i . Rh[qh - kh + H - 1] and rw()[kw * mq + i] = q_i . Rw[qw - kw + W - 1] (unscaled queries; the
// lanes past nq hold zeros). One per thread. Two ways to get the products:
//  - compute(): each query meets every table row in two small GEMMs (the tables packed as the right
//    operand), then the products are gathered by offset (level amx);
//  - compute_sliver(): on the level's fp32 kernel, from a query sliver packed for it (at fp32 the one
//    the scores product uses): each table, packed once as the left operand, times the sliver
//    (R Q^T [table rows, nr lanes]) over the table rows the sliver's queries read, then gathered; the
//    same multiply-adds in the same k order as compute().
class RelTerms {
  public:
    // g: the kernel of compute_sliver(), or null for compute().
    RelTerms(const std::vector<float> & Rh, const std::vector<float> & Rw, int64_t H, int64_t W, int64_t hd, int64_t mq,
             const cpu::GemmKernel * g = nullptr)
        : H_(H),
          W_(W),
          hd_(hd),
          mq_(mq),
          Lh_(2 * H - 1),
          Lw_(2 * W - 1),
          g_(g),
          rhp_(g ? slivers(*g, Lh_) * cpu::packed_k(*g, hd) : cpu::packed_b_size(hd, Lh_)),
          rwp_(g ? slivers(*g, Lw_) * cpu::packed_k(*g, hd) : cpu::packed_b_size(hd, Lw_)),
          ph_((size_t) (g ? slivers(*g, std::max(Lh_, Lw_)) * g->nr : mq * Lh_)),
          pw_((size_t) (g ? 0 : mq * Lw_)),
          rht_((size_t) (H * mq)),
          rwt_((size_t) (W * mq)) {
        if (!g) {
            cpu::pack_b_full(true, hd, Lh_, Rh.data(), hd, rhp_.data());
            cpu::pack_b_full(true, hd, Lw_, Rw.data(), hd, rwp_.data());
            return;
        }
        g->pack_a(false, Lh_, hd, Rh.data(), hd, rhp_.data());
        g->pack_a(false, Lw_, hd, Rw.data(), hd, rwp_.data());
    }
    // Queries q0 .. q0 + nq (rows of q, stride ld).
    void compute(const float * q, int64_t ld, int64_t q0, int64_t nq) {
        cpu::gemm_prepacked_b(false, nq, Lh_, hd_, 1.0f, q, ld, rhp_.data(), 0.0f, ph_.data(), Lh_);
        cpu::gemm_prepacked_b(false, nq, Lw_, hd_, 1.0f, q, ld, rwp_.data(), 0.0f, pw_.data(), Lw_);
        std::fill(rht_.begin(), rht_.end(), 0.0f);
        std::fill(rwt_.begin(), rwt_.end(), 0.0f);
        for (int64_t i = 0; i < nq; ++i) {
            const int64_t n = q0 + i, qh = n / W_, qw = n % W_;
            const float * phr = ph_.data() + i * Lh_ + qh + H_ - 1;
            const float * pwr = pw_.data() + i * Lw_ + qw + W_ - 1;
            for (int64_t kh = 0; kh < H_; ++kh) rht_[(size_t) (kh * mq_ + i)] = phr[-kh];
            for (int64_t kw = 0; kw < W_; ++kw) rwt_[(size_t) (kw * mq_ + i)] = pwr[-kw];
        }
    }
    // Sliver sl of the query block at q0 (nq queries): qs is its packed Q^T as the scores product uses it.
    void compute_sliver(const float * qs, int64_t sl, int64_t q0, int64_t nq) {
        const int64_t nr = g_->nr, i0 = sl * nr, lanes = std::min(nr, nq - i0);
        gather(qs, rhp_.data(), Lh_, H_, q0, i0, lanes, true, rht_.data());
        gather(qs, rwp_.data(), Lw_, W_, q0, i0, lanes, false, rwt_.data());
    }
    const float * rh() const { return rht_.data(); }
    const float * rw() const { return rwt_.data(); }

  private:
    static size_t slivers(const cpu::GemmKernel & g, int64_t rows) {
        return (size_t) ((rows + g.mr - 1) / g.mr * g.mr);
    }
    // R Q^T for one table (L rows) into ph_ [L][nr], then out[k * mq + i0 + lane] = ph_[(pos - k + n - 1)
    // * nr + lane] for the lane's grid row (rows) or column, k in [0, n); lanes past `lanes` zero.
    void gather(const float * qs, const float * rp, int64_t L, int64_t n, int64_t q0, int64_t i0, int64_t lanes,
                bool rows, float * out) {
        const cpu::GemmKernel & g = *g_;
        const int64_t nr = g.nr, kw = cpu::packed_k(g, hd_);
        // Only the table rows the lanes read: pos - k + n - 1 for their grid rows (columns) pos and k in
        // [0, n), whole mr-row slivers.
        int64_t lo = n, hi = -1;
        for (int64_t lane = 0; lane < lanes; ++lane) {
            const int64_t q = q0 + i0 + lane, pos = rows ? q / W_ : q % W_;
            lo = std::min(lo, pos);
            hi = std::max(hi, pos);
        }
        for (int64_t r = lo / g.mr * g.mr; r < std::min(L, hi + n); r += g.mr)
            g.kernel(hd_, rp + r * kw, qs, ph_.data() + r * nr, nr, 1.0f, 0.0f, nullptr);
        for (int64_t lane = 0; lane < nr; ++lane) {
            float * o = out + i0 + lane;
            if (lane >= lanes) {
                for (int64_t k = 0; k < n; ++k) o[k * mq_] = 0.0f;
                continue;
            }
            const int64_t q = q0 + i0 + lane, pos = rows ? q / W_ : q % W_;
            const float * src = ph_.data() + (pos + n - 1) * nr + lane;
            for (int64_t k = 0; k < n; ++k) o[k * mq_] = src[-k * nr];
        }
    }

    int64_t H_, W_, hd_, mq_, Lh_, Lw_;
    const cpu::GemmKernel * g_;
    AlignedBuffer rhp_, rwp_;
    std::vector<float> ph_, pw_, rht_, rwt_;
};

// Tasks (whole heads of qblocks query blocks each) per chunk of ThreadPool::parallel_chunks: whole
// heads, so a chunk packs a head's keys and values once, and about kChunksPerThread chunks per thread.
int64_t head_chunk(const ThreadPool & pool, int64_t pairs, int64_t qblocks) {
    return std::max<int64_t>(1, pairs / ((int64_t) pool.size() * ThreadPool::kChunksPerThread)) * qblocks;
}

// Key block k0 .. k0 + kn for query sliver sl (nr lanes of the block's mq): scores in st, the
// sliver's running maxima and sums in m and l, its output o (hdp rows).
cpu::attn::KeyBlock key_block_args(float * st, int64_t k0, int64_t kn, int64_t W, const RelTerms * rel, int64_t sl,
                                   int64_t nr, int64_t mq, float * m, float * l, float * o, int64_t hdp) {
    return {st,
            kn,
            k0 / W,
            k0 % W,
            W,
            rel ? rel->rh() + sl * nr : nullptr,
            rel ? rel->rw() + sl * nr : nullptr,
            mq,
            m + sl * nr,
            l + sl * nr,
            o,
            hdp,
            k0 == 0};
}

// out rows q0 .. q0 + nq of head h: O^T (slivers of hdp x nr) divided by the running sums. Blocks of 8
// queries by 8 channels go through an 8 x 8 transpose; each element is src * (1 / l) either way.
void write_output(const float * ot, const float * l, int64_t hdp, int64_t nr, int64_t nq, int64_t hd, float * out,
                  int64_t C) {
    int64_t i = 0, hd8 = 0;
#ifdef __AVX2__
    hd8 = nr % 8 == 0 ? hd / 8 * 8 : 0;
    if (hd8 > 0)
        for (; i + 8 <= nq; i += 8) {  // 8 queries in one sliver (nr is a multiple of 8)
            const float * src = ot + i / nr * hdp * nr + i % nr;
            float inv[8];
            for (int r = 0; r < 8; ++r) inv[r] = 1.0f / l[i + r];
            for (int64_t c = 0; c < hd8; c += 8) {
                __m256 v[8];
                for (int r = 0; r < 8; ++r) v[r] = _mm256_loadu_ps(src + (c + r) * nr);
                cpu::transpose8_regs(v);  // v[r]: query i + r, channels c .. c + 8
                for (int r = 0; r < 8; ++r)
                    _mm256_storeu_ps(out + (i + r) * C + c, _mm256_mul_ps(v[r], _mm256_set1_ps(inv[r])));
            }
            for (int r = 0; r < 8; ++r)
                for (int64_t c = hd8; c < hd; ++c) out[(i + r) * C + c] = src[c * nr + r] * inv[r];
        }
#endif
    for (; i < nq; ++i) {
        const float inv = 1.0f / l[i];
        const float * src = ot + i / nr * hdp * nr + i % nr;
        float * orow = out + i * C;
        for (int64_t c = 0; c < hd; ++c) orow[c] = src[c * nr] * inv;
    }
}

#if defined(SA_HAVE_AMX)
// A bf16 backend at level amx: the same blocking with both products on AMX tiles (cpu/kernels-amx.h),
// 256 keys per block (a multiple of the 32-key tile step) and 32 query lanes per sliver.
void attention_vit_amx(ThreadPool & pool, const AttentionVitArgs & a, const std::vector<float> & Rh,
                       const std::vector<float> & Rw) {
    const auto & [qkv, out, B, H, W, nh, hd, rel_pos_h, rel_len_h, rel_pos_w, rel_len_w] = a;
    const bool use_rel = rel_pos_h != nullptr;
    const int64_t N = H * W, C = nh * hd, ld = 3 * C, nr = cpu::amx::kAttnLanes, nk = kKeyBudget;
    const float scale = 1.0f / std::sqrt((float) hd);
    const int64_t hd32 = cpu::amx::round_up32(hd), hdp = cpu::amx::round_up16(hd), ldv = cpu::amx::round_up32(N);
    const int64_t mq = kQuerySlivers * nr, qblocks = (N + mq - 1) / mq, pairs = B * nh;
    pool.parallel_chunks(pairs * qblocks, head_chunk(pool, pairs, qblocks), [&](int64_t t0, int64_t t1) {
        std::vector<uint16_t> kb((size_t) (cpu::amx::round_up16(N) * hd32)), vt((size_t) (hdp * ldv));
        std::vector<uint32_t> qt((size_t) (kQuerySlivers * hd32 / 2 * nr)), pp((size_t) (nk / 2 * nr));
        AlignedBuffer st((size_t) (nk * nr)), ot((size_t) (kQuerySlivers * hdp * nr));
        std::vector<float> m((size_t) mq), l((size_t) mq);
        std::unique_ptr<RelTerms> rel;
        if (use_rel) rel = std::make_unique<RelTerms>(Rh, Rw, H, W, hd, mq);
        int64_t packed = -1;  // the (batch, head) whose keys and values kb and vt hold
        for (int64_t t = t0; t < t1; ++t) {
            const int64_t bh = t / qblocks, b = bh / nh, h = bh % nh, q0 = t % qblocks * mq;
            const float * base = qkv + b * N * ld + h * hd;
            if (bh != packed) {
                cpu::amx::attention_vit_pack_keys(base + C, ld, N, hd, kb.data());
                cpu::amx::attention_vit_pack_values(base + 2 * C, ld, N, hd, vt.data());
                packed = bh;
            }
            const int64_t nq = std::min(mq, N - q0), slivers = (nq + nr - 1) / nr;
            const float * q = base + q0 * ld;
            for (int64_t sl = 0; sl < slivers; ++sl)
                cpu::amx::attention_vit_pack_queries(q + sl * nr * ld, ld, std::min(nr, nq - sl * nr), hd, scale,
                                                     qt.data() + sl * hd32 / 2 * nr);
            if (use_rel) rel->compute(q, ld, q0, nq);
            for (int64_t k0 = 0; k0 < N; k0 += nk) {
                const int64_t kn = std::min(nk, N - k0);
                for (int64_t sl = 0; sl < slivers; ++sl) {
                    float * o = ot.data() + sl * hdp * nr;
                    cpu::amx::attention_vit_scores(kb.data() + k0 * hd32, hd, kn, qt.data() + sl * hd32 / 2 * nr,
                                                   st.data());
                    const cpu::attn::KeyBlock kbk =
                        key_block_args(st.data(), k0, kn, W, rel.get(), sl, nr, mq, m.data(), l.data(), o, hdp);
                    cpu::amx::attention_vit_probabilities(kbk, pp.data());
                    cpu::amx::attention_vit_values(vt.data() + k0, ldv, hd, kn, pp.data(), o, k0 == 0);
                }
            }
            write_output(ot.data(), l.data(), hdp, nr, nq, hd, out + (b * N + q0) * C + h * hd, C);
        }
    });
}
#endif

}  // namespace

void CpuBackend::attention_vit_impl(const AttentionVitArgs & a) {
    const auto & [qkv, out, B, H, W, nh, hd, rel_pos_h, rel_len_h, rel_pos_w, rel_len_w] = a;
    const bool use_rel = rel_pos_h != nullptr;
    const int64_t N = H * W, C = nh * hd, ld = 3 * C;
    const float scale = 1.0f / std::sqrt((float) hd);
    std::vector<float> Rh, Rw;
    if (use_rel) {
        Rh = resample_rel_pos(rel_pos_h, rel_len_h, 2 * H - 1, hd);
        Rw = resample_rel_pos(rel_pos_w, rel_len_w, 2 * W - 1, hd);
    }
#if defined(SA_HAVE_AMX)
    if (bf16_ && cpu_isa() == Isa::amx) return attention_vit_amx(*pool(), a, Rh, Rw);
#endif
    // A bf16 backend below amx: the same blocking on the level's bf16 training kernel (VDPBF16PS at
    // avx512bf16): keys, values and queries are rounded to bf16 pairs as they are packed, the softmax
    // writes the probabilities as bf16 pairs (the values product's right operand), fp32 sums.
    const cpu::GemmKernel * g16 = encoder_products();
    const cpu::GemmKernel &gf = cpu::gemm_kernel_fp32(), &g = g16 ? *g16 : gf;
    SA_CHECK(gf.nr == g.nr, SA_ERR_INTERNAL, "attention_vit: the bf16 and fp32 tiles differ in width");
    SA_CHECK(g.begin == nullptr, SA_ERR_INTERNAL, "attention_vit: a kernel with tile state needs its own path");
    const int64_t mr = g.mr, nr = g.nr;
    const int64_t nk = std::max<int64_t>(1, kKeyBudget / mr) * mr;  // keys per block
    const int64_t Np = (N + mr - 1) / mr * mr, hdp = (hd + mr - 1) / mr * mr;
    // Packed words per key (row of K), per V^T row of a key block and per query (fp32: hd, nk and hd).
    const int64_t kw = cpu::packed_k(g, hd), vw = cpu::packed_k(g, nk), vblocks = (N + nk - 1) / nk;
    // fp32: a last sliver of at most short_rows output channels (a head dimension of 64 = 4 x 14 + 8) runs
    // on the kernel's short tile, so the output's rows past hd are neither computed nor rescaled.
    const int64_t tail = hd - (hdp - mr);
    const bool short_tail = !g16 && g.kernel_short && tail <= g.short_rows;
    const int64_t o_rows = g16 || short_tail ? hd : hdp;
    const int64_t mq = kQuerySlivers * nr, qblocks = (N + mq - 1) / mq;
    const int64_t pairs = B * nh;
    const std::shared_ptr<ThreadPool> held = pool();
    ThreadPool & tp = *held;
    tp.parallel_chunks(pairs * qblocks, head_chunk(tp, pairs, qblocks), [&](int64_t t0, int64_t t1) {
        AlignedBuffer kp((size_t) (Np * kw)), vtp((size_t) (hdp * vblocks * vw)), qp((size_t) (kw * mq));
        AlignedBuffer st((size_t) (nk * nr)), pp(g16 ? (size_t) ((nk + 31) / 32 * 16 * nr) : 0);
        AlignedBuffer ot((size_t) (kQuerySlivers * hdp * nr));
        std::vector<float> m((size_t) mq), l((size_t) mq), qscaled(g16 ? (size_t) (mq * hd) : 0);
        std::unique_ptr<RelTerms> rel;
        if (use_rel) rel = std::make_unique<RelTerms>(Rh, Rw, H, W, hd, mq, &gf);
        AlignedBuffer qf(g16 && use_rel ? (size_t) (hd * mq) : 0);  // bf16: Q^T packed for the fp32 kernel
        int64_t packed = -1;  // the (batch, head) whose keys and values kp and vtp hold
        for (int64_t t = t0; t < t1; ++t) {
            const int64_t bh = t / qblocks, b = bh / nh, h = bh % nh, q0 = t % qblocks * mq;
            const float * base = qkv + b * N * ld + h * hd;
            if (bh != packed) {
                g.pack_a(false, N, hd, base + C, ld, kp.data());  // K [N, hd] in mr-key slivers
                for (int64_t k0 = 0; k0 < N; k0 += nk)            // V^T [hd, keys] per key block
                    g.pack_a(true, hd, std::min(nk, N - k0), base + 2 * C + k0 * ld, ld,
                             vtp.data() + hdp * vw * (k0 / nk));
                packed = bh;
            }
            const int64_t nq = std::min(mq, N - q0), slivers = (nq + nr - 1) / nr;
            const float * q = base + q0 * ld;
            if (g16) {
                // bf16: the queries scaled before they are rounded (exact for a power-of-two scale, head
                // dim 64), so the scores tile stores in place with no scaling pass (as at level amx).
                float * qs = qscaled.data();
                for (int64_t i = 0; i < nq; ++i)
                    for (int64_t c = 0; c < hd; ++c) qs[i * hd + c] = q[i * ld + c] * scale;
                g.pack_b(true, hd, nq, qs, hd, qp.data());
            } else {
                g.pack_b(true, hd, nq, q, ld, qp.data());  // Q^T [hd, nq] in nr-query slivers
            }
            if (use_rel) {
                const float * qr = qp.data();
                if (g16) {
                    gf.pack_b(true, hd, nq, q, ld, qf.data());
                    qr = qf.data();
                }
                for (int64_t sl = 0; sl < slivers; ++sl) rel->compute_sliver(qr + sl * nr * hd, sl, q0, nq);
            }
            for (int64_t k0 = 0; k0 < N; k0 += nk) {
                const int64_t kn = std::min(nk, N - k0), kvw = cpu::packed_k(g, kn);
                const float * vt = vtp.data() + hdp * vw * (k0 / nk);
                for (int64_t sl = 0; sl < slivers; ++sl) {
                    float * o = ot.data() + sl * hdp * nr;
                    const float * qs = qp.data() + sl * nr * kw;
                    for (int64_t j = 0; j < kn; j += mr)
                        g.kernel(hd, kp.data() + (k0 + j) * kw, qs, st.data() + j * nr, nr, g16 ? 1.0f : scale, 0.0f,
                                 nullptr);
                    // The output's rows: hdp (fp32 on full tiles; the rows past hd hold zeros), hd (bf16 and
                    // a short last tile: rows past hd are not computed).
                    const cpu::attn::KeyBlock kbk =
                        key_block_args(st.data(), k0, kn, W, rel.get(), sl, nr, mq, m.data(), l.data(), o, o_rows);
                    // P^T: the probabilities in place (fp32), or written as bf16 pairs of consecutive keys.
                    if (g16) {
                        bf16_probabilities(kbk, reinterpret_cast<uint32_t *>(pp.data()));
                        bf16_values(vt, kvw, hd, kn, pp.data(), o, k0 == 0);
                        continue;
                    }
                    key_block(kbk, nr);
                    for (int64_t c = 0; c < hdp; c += mr) {
                        float * oc = o + c * nr;
                        if (short_tail && c + mr >= hdp) {
                            g.kernel_short(kn, vt + c * kvw, st.data(), oc, nr, k0 == 0 ? nullptr : oc, nr);
                        } else {
                            g.kernel(kn, vt + c * kvw, st.data(), oc, nr, 1.0f, k0 == 0 ? 0.0f : 1.0f, nullptr);
                        }
                    }
                }
            }
            write_output(ot.data(), l.data(), hdp, nr, nq, hd, out + (b * N + q0) * C + h * hd, C);
        }
    });
}

}  // namespace sa
