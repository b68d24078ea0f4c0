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
    X(depthwise3x3_nhwc)            \
    X(attention)                    \
    X(attention_backward)           \
    X(attention_backward_kv_acc)    \
    X(softmax_rows)                 \
    X(softmax_rows_backward)        \
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

}  // namespace sa
