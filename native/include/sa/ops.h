// SPDX-License-Identifier: Apache-2.0
// The backend's ops by name (Backend::supports, `doctor`), and the parameter structs of the ops with
// many arguments. Each Backend op is one non-virtual checked entry point (its arguments validated once,
// in src/core/ops/<op>.cpp) that calls the backend's virtual <op>_impl.
#pragma once

#include <cstdint>

namespace sa {

// One line per op (a new op: add its line here, in Backend, and to supports() where it has no kernel).
#define SA_BACKEND_OPS(X)           \
    X(gemm)                         \
    X(gemm_batched)                 \
    X(add)                          \
    X(add_bias)                     \
    X(scale)                        \
    X(gelu)                         \
    X(gelu_backward)                \
    X(relu)                         \
    X(relu_backward)                \
    X(linear)                       \
    X(linear_backward)              \
    X(prepare_linear)               \
    X(linear_prepared)              \
    X(layernorm)                    \
    X(layernorm_backward)           \
    X(layernorm2d)                  \
    X(layernorm2d_backward)         \
    X(conv2d)                       \
    X(conv2d_backward)              \
    X(depthwise_conv2d_backward)    \
    X(conv_transpose_k2s2)          \
    X(conv_transpose_k2s2_backward) \
    X(upsample_bilinear)            \
    X(upsample_bilinear_backward)   \
    X(transpose_last2)              \
    X(attention_vit)                \
    X(attention_vit_backward)       \
    X(window_partition)             \
    X(window_unpartition)           \
    X(attention_tinyvit)            \
    X(attention_tinyvit_backward)   \
    X(tinyvit_mbconv)               \
    X(tinyvit_patch_embed)          \
    X(tinyvit_mlp)                  \
    X(tinyvit_merge)                \
    X(depthwise3x3_nhwc)            \
    X(attention)                    \
    X(attention_backward)           \
    X(attention_backward_kv_acc)    \
    X(softmax_rows)                 \
    X(softmax_rows_backward)        \
    X(layernorm_gelu)               \
    X(layernorm_gelu_backward)      \
    X(layernorm_add)                \
    X(keys_from_embedding)          \
    X(mask_head)                    \
    X(mask_head_backward)           \
    X(mask_loss)                    \
    X(adam_step)                    \
    X(adam_step_zero_grad)          \
    X(sum_squares)

enum class Op {
#define SA_OP_ENUM(name) name,
    SA_BACKEND_OPS(SA_OP_ENUM)
#undef SA_OP_ENUM
        count
};

const char * op_name(Op op);

// ---- parameter structs -------------------------------------------------------------------------------
// A matrix operand: its data, leading dimension (row stride) and, for batched ops, the distance between
// consecutive batch items (0: the same matrix for every item).
struct MatIn {
    const float * data = nullptr;
    int64_t ld = 0;
    int64_t stride = 0;
};
struct MatOut {
    float * data = nullptr;
    int64_t ld = 0;
    int64_t stride = 0;
};

// C[M,N] = alpha * op(A) op(B) + beta * C, row-major (sa/gemm.h); `batch` products for gemm_batched
// (gemm: batch 1). op(A) = A [M, K] (A.ld >= K), or A^T with A stored [K, M] when trans_a (A.ld >= M);
// likewise B. beta == 0 overwrites C.
struct GemmArgs {
    bool trans_a = false, trans_b = false;
    int64_t M = 0, N = 0, K = 0;
    float alpha = 1.0f;
    MatIn A, B;
    float beta = 0.0f;
    MatOut C;
    int64_t batch = 1;
};

// The ops that take a parameter struct, with it: each is a checked entry point Backend::op(const Args &)
// over a virtual op_impl (sa/backend.h).
#define SA_OP_STRUCTS(X)                                        \
    X(gemm, GemmArgs)                                           \
    X(gemm_batched, GemmArgs)                                   \
    X(layernorm, LayerNormArgs)                                 \
    X(layernorm_backward, LayerNormBackwardArgs)                \
    X(layernorm2d, LayerNorm2dArgs)                             \
    X(layernorm2d_backward, LayerNorm2dBackwardArgs)            \
    X(conv2d, Conv2dArgs)                                       \
    X(conv2d_backward, Conv2dBackwardArgs)                      \
    X(depthwise_conv2d_backward, DepthwiseConv2dBackwardArgs)   \
    X(conv_transpose_k2s2, ConvTransposeArgs)                   \
    X(conv_transpose_k2s2_backward, ConvTransposeBackwardArgs)  \
    X(window_partition, WindowArgs)                             \
    X(window_unpartition, WindowArgs)                           \
    X(mask_loss, MaskLossArgs)                                  \
    X(adam_step, AdamArgs)                                      \
    X(adam_step_zero_grad, AdamArgs)                            \
    X(attention_vit, AttentionVitArgs)                          \
    X(attention_vit_backward, AttentionVitBackwardArgs)         \
    X(attention_tinyvit, AttentionTinyVitArgs)                  \
    X(attention_tinyvit_backward, AttentionTinyVitBackwardArgs) \
    X(attention, AttentionArgs)                                 \
    X(attention_backward, AttentionBackwardArgs)                \
    X(attention_backward_kv_acc, AttentionKvAccArgs)            \
    X(mask_head, MaskHeadArgs)                                  \
    X(mask_head_backward, MaskHeadBackwardArgs)                 \
    X(layernorm_gelu, LayerNormGeluArgs)                        \
    X(layernorm_gelu_backward, LayerNormGeluBackwardArgs)       \
    X(layernorm_add, LayerNormAddArgs)                          \
    X(keys_from_embedding, KeysFromEmbeddingArgs)               \
    X(linear_backward, LinearBackwardArgs)                      \
    X(tinyvit_mbconv, TinyVitMbconvArgs)                        \
    X(tinyvit_patch_embed, TinyVitPatchEmbedArgs)               \
    X(tinyvit_mlp, TinyVitMlpArgs)                              \
    X(tinyvit_merge, TinyVitMergeArgs)                          \
    X(depthwise3x3_nhwc, Depthwise3x3NhwcArgs)

// The structs below are filled positionally, in the order of the op's former argument list
// (be.layernorm({x, gamma, beta, y, mean, rstd, rows, C, eps})); fields left out are zero.

// layernorm: LayerNorm over the last dim C of `rows` rows; mean/rstd [rows] written when non-null
// (saved for the backward pass).
struct LayerNormArgs {
    const float *x, *gamma, *beta;
    float *y, *mean, *rstd;
    int64_t rows, C;
    float eps;
};
// layernorm_backward: dx [rows, C] overwritten, dgamma / dbeta [C] accumulated (any may be null).
struct LayerNormBackwardArgs {
    const float *x, *gamma, *mean, *rstd, *dy;
    float *dx, *dgamma, *dbeta;
    int64_t rows, C;
};
// layernorm_add: LayerNorm (ln) and y2 = y + addend, addend [add_rows, C] repeated down the rows
// (rows a multiple of add_rows): the mask decoder's keys and keys + key_pe in one pass.
struct LayerNormAddArgs {
    LayerNormArgs ln;
    const float * addend;
    float * y2;
    int64_t add_rows;
};
// keys_from_embedding: the mask decoder's first image keys from channels-first embeddings,
// keys[b, p, c] = emb[b emb_stride + c HW + p] + bias[c] (bias may be null), and keys_pe = keys +
// pe [HW, C] (keys_pe may be null); emb_stride 0 shares one embedding across the batch.
struct KeysFromEmbeddingArgs {
    const float *emb, *bias, *pe;
    float *keys, *keys_pe;
    int64_t B, C, HW, emb_stride;
};
// layernorm_gelu: g = GELU(LayerNorm(x)) over the last dim, [rows, C]; mean/rstd [rows] written (the
// backward pass needs them). y [rows, C]: the normalised rows, written by backends that compose the op
// from layernorm and gelu and left untouched by those that fuse it; the backward pass gets it back.
struct LayerNormGeluArgs {
    const float *x, *gamma, *beta;
    float *g, *mean, *rstd, *y;
    int64_t rows, C;
    float eps;
};
// layernorm_gelu_backward, from dg = d loss / d g: dx [rows, C] overwritten, dgamma / dbeta [C]
// accumulated (either may be null). y: the forward pass's y buffer as it left it; dy_scratch
// [rows, C]: room for d loss / d y on backends that compose (a fused kernel recomputes y per row).
struct LayerNormGeluBackwardArgs {
    const float *x, *gamma, *beta, *mean, *rstd, *y, *dg;
    float *dx, *dgamma, *dbeta, *dy_scratch;
    int64_t rows, C;
};
// layernorm2d (SAM's LayerNorm2d): x [B, C, HW] channels-first, normalised over C per pixel; mean/rstd
// [B, HW].
struct LayerNorm2dArgs {
    const float *x, *gamma, *beta;
    float *y, *mean, *rstd;
    int64_t B, C, HW;
    float eps;
};
struct LayerNorm2dBackwardArgs {
    const float *x, *gamma, *mean, *rstd, *dy;
    float *dx, *dgamma, *dbeta;
    int64_t B, C, HW;
};

// conv2d: NCHW convolution, zero padding, groups; x [B, C, H, Wd], W [O, C/groups, kh, kw], b [O] (may
// be null), y [B, O, Ho, Wo] with Ho = (H + 2 pad - kh) / stride + 1 (likewise Wo).
struct Conv2dArgs {
    const float *x, *W, *b;
    float * y;
    int64_t B, C, H, Wd, O, kh, kw, stride, pad, groups;
};
// conv2d_backward (groups 1): dx overwritten, dW and db accumulated (any may be null).
struct Conv2dBackwardArgs {
    const float *x, *W, *dy;
    float *dx, *dW, *db;
    int64_t B, C, H, Wd, O, kh, kw, stride, pad;
};
// depthwise_conv2d_backward: conv2d with groups == C == O, W [C, 1, k, k].
struct DepthwiseConv2dBackwardArgs {
    const float *x, *W, *dy;
    float *dx, *dW, *db;
    int64_t B, C, H, Wd, k, stride, pad;
};
// conv_transpose_k2s2: ConvTranspose2d with kernel == stride == 2, x [B, C, H, Wd], W [C, O, 2, 2],
// b [O] (may be null), y [B, O, 2H, 2Wd].
struct ConvTransposeArgs {
    const float *x, *W, *b;
    float * y;
    int64_t B, C, H, Wd, O;
};
struct ConvTransposeBackwardArgs {
    const float *x, *W, *dy;
    float *dx, *dW, *db;
    int64_t B, C, H, Wd, O;
};

// window_partition: x [B, H, W, C] -> y [B * nWh * nWw, win, win, C], zero padded to multiples of win;
// window_unpartition: the inverse (x the windows, y [B, H, W, C]).
struct WindowArgs {
    const float * x;
    float * y;
    int64_t B, H, W, C, win;
};

// mask_loss: see Backend::mask_loss; kind is an sa::LossKind (sa/losses.h).
struct MaskLossArgs {
    int kind;
    const float *logits, *target;
    float *loss_out, *dlogits;
    int64_t B, M, HW;
    const float * iou_pred;
    int64_t iou_ld;
    float * diou_pred;
};

// adam_step / adam_step_zero_grad over a flat buffer of n parameters (t: step number from 1). grad is
// only written by adam_step_zero_grad.
struct AdamArgs {
    float *param, *grad, *m, *v;
    int64_t n;
    float lr, beta1, beta2, eps, weight_decay;
    bool decoupled;
    int64_t t;
};

// attention (the decoder's multi-head attention): q [B, Nq, nh*d], k/v [B, Nk, nh*d], out [B, Nq, nh*d];
// probs [B, nh, Nq, Nk] written when non-null (saved for the backward pass).
struct AttentionArgs {
    const float *q, *k, *v;
    float *out, *probs;
    int64_t B, Nq, Nk, nh, d;
};
// attention_backward: dq, dk, dv overwritten (any may be null).
struct AttentionBackwardArgs {
    const float *q, *k, *v, *probs, *dout;
    float *dq, *dk, *dv;
    int64_t B, Nq, Nk, nh, d;
};
// attention_backward_kv_acc: dkv += dk + dv (keys and values from one tensor); scratch 2 B Nk nh d
// floats for backends that do not accumulate in place.
struct AttentionKvAccArgs {
    const float *q, *k, *v, *probs, *dout;
    float *dq, *dkv, *scratch;
    int64_t B, Nq, Nk, nh, d;
};

// attention_vit: SAM ViT attention over an H x W token grid, qkv [B, H*W, 3, nh, hd], out [B, H*W, nh*hd];
// rel_pos_h / rel_pos_w the raw relative-position tables [rel_len_h, hd] / [rel_len_w, hd] (both null:
// no relative-position bias).
struct AttentionVitArgs {
    const float * qkv;
    float * out;
    int64_t B, H, W, nh, hd;
    const float * rel_pos_h;
    int64_t rel_len_h;
    const float * rel_pos_w;
    int64_t rel_len_w;
};
struct AttentionVitBackwardArgs {
    const float *qkv, *dout;
    float * dqkv;
    int64_t B, H, W, nh, hd;
    const float * rel_pos_h;
    int64_t rel_len_h;
    const float * rel_pos_w;
    int64_t rel_len_w;
    float *drel_pos_h, *drel_pos_w;
};

// attention_tinyvit: TinyViT window attention with learned biases (see Backend::attention_tinyvit).
struct AttentionTinyVitArgs {
    const float *qkv, *pad_qkv, *bias;
    float * out;
    int64_t B, H, W, win, nh, kd, vd;
};
struct AttentionTinyVitBackwardArgs {
    const float *qkv, *pad_qkv, *bias, *dout;
    float *dqkv, *dpad_qkv, *dbias;
    int64_t B, H, W, win, nh, kd, vd;
};

// mask_head / mask_head_backward: SAM's mask head on sub-pixel-ordered features (see
// Backend::mask_head); the backward pass overwrites dfeat and dhyper (either may be null).
struct MaskHeadArgs {
    const float *feat, *hyper;
    float * masks;
    int64_t B, M, E, Cf;
};
struct MaskHeadBackwardArgs {
    const float *feat, *hyper, *dmasks;
    float *dfeat, *dhyper;
    int64_t B, M, E, Cf;
};

// linear_backward: dx[M,K] = dy W (overwrite; may be null); dW[N,K] += dy^T x; db[N] += sum_rows dy.
struct LinearBackwardArgs {
    const float *x, *W, *dy;
    float *dx, *dW, *db;
    int64_t M, K, N;
};

// TinyViT's fused blocks (Backend::tinyvit_mbconv / tinyvit_patch_embed / tinyvit_mlp / tinyvit_merge) and the
// channels-last depthwise 3x3 convolution (Backend::depthwise3x3_nhwc); shapes in sa/backend.h.
struct TinyVitMbconvArgs {
    const float *x, *w1, *b1, *w2, *b2, *w3, *b3;
    float * y;
    int64_t B, C, H, W, hidden;
};
struct TinyVitPatchEmbedArgs {
    const float *x, *w0, *b0, *w1, *b1;
    float * y;
    int64_t B, Cin, H, W, C0, C1;
};
struct TinyVitMlpArgs {
    float * x;
    const float *gamma, *beta;
    float eps;
    const float *w1, *b1, *w2, *b2;
    int64_t M, C, hidden;
};
struct TinyVitMergeArgs {
    const float *x, *w1, *b1, *w2, *b2, *w3, *b3;
    float * y;
    int64_t B, H, W, C, O, stride;
};
struct Depthwise3x3NhwcArgs {
    const float *x, *w, *b;
    float * y;
    int64_t B, H, W, C;
};

}  // namespace sa
