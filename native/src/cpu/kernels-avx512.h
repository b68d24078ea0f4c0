// SPDX-License-Identifier: Apache-2.0
// The AVX-512 versions of the CPU backend's fused hot ops (src/cpu/isa/<op>-avx512.cpp, compiled with
// the avx512 level's flags). The op files call them, inside their own chunks of work, when
// use_avx512() says the level in use is avx512 or higher, so threading and determinism stay those of
// the op: the same bits for a seed and thread count on one level. Elementwise kernels (GELU, Adam,
// depthwise convolutions) give the AVX2 path's bits lane for lane; reductions (softmax, LayerNorm
// statistics, attention row sums) add in another order, so levels may differ in the last bits.
// Declarations only: this header is shared by baseline and AVX-512 translation units.
#pragma once

#include <cstdint>

namespace sa::cpu {

namespace attn {
struct KeyBlock;
}

// One (window, head) task of attention_tinyvit (ops/attention-tinyvit.cpp) for the AVX-512 kernel:
// the window's tokens are read in place, tok[i] pointing at token i's q|k|v of the head (kd, kd and
// vd floats; kd and vd multiples of 16); queries are tokens [0, nq); rows [n, round_up(n, 16)) of tok
// point at zeros. The rest is the calling thread's scratch.
struct WindowHeadTask {
    const float * const * tok;
    const float * bias;   // [n, n] added to the head's scores, or null
    float * const * dst;  // [nq]: where query r's vd outputs go; null: a padding query, not computed
    int64_t n, nq, kd, vd;
    float scale;                  // of q k^T
    float *q, *kt, *s, *inv_sum;  // [nq][kd], [kd][round_up(n, 16)], [nq][round_up(n, 16)], [nq]
};

// True when sa::cpu_isa() >= avx512 and this build has the avx512 kernels (decided once).
bool use_avx512();

#if defined(SA_HAVE_AVX512)
namespace avx512 {

// gelu-avx512.cpp: y = GELU(x), dx = dy GELU'(x), v = GELU(v + bias), v = GELU(v + bias + r) over n.
void gelu(const float * x, float * y, int64_t n);
void gelu_backward(const float * x, const float * dy, float * dx, int64_t n);
void bias_gelu(float * v, float bias, int64_t n);
void bias_residual_gelu(float * v, float bias, const float * r, int64_t n);

// softmax-avx512.cpp: one row (as cpu/softmax-row.h); p = exp(p + bias - max) returning 1 / sum
// (bias may be null); x = exp(x - max(x)) returning 1 / sum.
void softmax_row(const float * x, float * y, int64_t n);
void softmax_backward_row(const float * y, const float * dy, float * dx, int64_t n, float scale);
float biased_exp_row(float * p, const float * bias, int64_t n);

// attention-tinyvit-avx512.cpp: one window and head of TinyViT window attention.
void attention_tinyvit_window(const WindowHeadTask & a);

// attention-vit-avx512.cpp: one key block of ViT attention's online softmax for 32 query lanes
// (cpu/attention-block.h).
void attention_vit_key_block(const attn::KeyBlock & a);

// layernorm-avx512.cpp: one row (as cpu/layernorm-row.h).
void layernorm_row(const float * x, const float * gamma, const float * beta, float * y, int64_t C, float eps,
                   float & mean_out, float & rstd_out);

// adam-avx512.cpp: elements [i0, i1) of one Adam / AdamW step (constants as in ops/adam.cpp).
struct AdamConsts {
    float beta1, beta2, one_m_b1, one_m_b2, weight_decay, decay, bc2_sqrt, eps, step_size;
    bool decoupled;
};
void adam_range(float * param, const float * grad, float * zero, float * m, float * v, int64_t i0, int64_t i1,
                const AdamConsts & k);

// depthwise-avx512.cpp: one output pixel of depthwise3x3_nhwc (n in-image taps src[k] / tw[k], C
// channels) and one row of TinyViT MBConv's depthwise conv + GELU (as ops/tinyvit-mbconv.cpp).
void depthwise_pixel_nhwc(const float * const * src, const float * const * tw, int n, const float * b, float * y,
                          int64_t C);
void depthwise3_row_gelu(const float * const rows[3], const float * w, float bias, float * o, int64_t W);

// mask-head-avx512.cpp: one row i of the E x E input grid of one sample of mask_head and of its
// backward pass (the layouts of ops/mask-head.cpp; Cf a multiple of 16, at most kMaskHeadMaxCf). feat,
// dfeat: the sample's sub-pixel rows; hyper: mask m at hyper + m hyper_stride; masks, dmasks: mask m at
// m mask_stride; dh: [M, Cf] partial sums of the hypernetwork gradient that the row adds to.
constexpr int64_t kMaskHeadMaxCf = 128;
void mask_head_row(const float * feat, const float * hyper, int64_t hyper_stride, int64_t M, float * masks,
                   int64_t mask_stride, int64_t i, int64_t E, int64_t Cf);
void mask_head_backward_row(const float * feat, const float * hyper, int64_t hyper_stride, int64_t M,
                            const float * dmasks, int64_t mask_stride, float * dfeat, float * dh, int64_t i, int64_t E,
                            int64_t Cf);

}  // namespace avx512
#endif

#if defined(SA_HAVE_AVX512BF16)
namespace avx512bf16 {

// attention-vit-avx512bf16.cpp: one key block of the bf16 ViT attention's online softmax for 32 query
// lanes with the probabilities written as bf16 pairs of consecutive keys, pp [round_up32(kn) / 2][32]
// words, zero past kn (isa/attention-probabilities-bf16.h; level amx uses the same).
void attention_vit_probabilities(const attn::KeyBlock & a, uint32_t * pp);
// attention-vit-avx512bf16.cpp: the values product of one key block for 32 query lanes, O^T [hd, 32]
// = (first ? 0 : O^T) + V^T P^T with V^T in the level's packed 14-row slivers (kvw words per row, kn
// keys) and P^T as written by attention_vit_probabilities; a last sliver of at most 8 rows runs on an
// 8-row tile.
void attention_vit_values(const uint32_t * vt, int64_t kvw, int64_t hd, int64_t kn, const uint32_t * pp, float * o,
                          bool first);

}  // namespace avx512bf16
#endif

}  // namespace sa::cpu
