// SPDX-License-Identifier: Apache-2.0
// The backend interface: every tensor operation the SAM models need, on raw device pointers.
// The models (ViT, TinyViT, prompt encoder, mask decoder forward/backward, losses, optimisers) are
// written once against this interface; the CPU backend (src/cpu/backend-cpu.cpp, one op per file in
// src/cpu/ops/) and the CUDA backend (src/cuda/, one op per .cu/.cuh pair) implement it.
//
// Conventions
//   * float32 everywhere, row-major, contiguous unless a stride is given.
//   * Pointers returned by alloc() belong to the backend's device; model code never dereferences them.
//   * Linear weights use PyTorch's layout W[out, in]; conv weights W[out, in/groups, kh, kw];
//     transposed-conv weights W[in, out, kh, kw] (PyTorch ConvTranspose2d).
//   * "_backward" ops ACCUMULATE into parameter gradients (dW, db, dgamma, dbeta: +=) and OVERWRITE
//     input gradients (dx) unless documented otherwise; any gradient pointer may be null (not needed).
//   * Ops validate their arguments (SA_CHECK_ARG) and throw sa::Error; they never abort. An op that
//     has a parameter struct (sa/ops.h) is a non-virtual checked entry point: its arguments are
//     validated once (src/core/ops/<op>.cpp), then the backend's <op>_impl runs (protected, virtual),
//     so backends never repeat the checks. Adding such an op: the struct in sa/ops.h, the entry and its
//     checks in src/core/ops/<op>.cpp, <op>_impl in each backend that has a kernel (the base version
//     of an op without a kernel everywhere throws SA_ERR_UNSUPPORTED), and the op in SA_BACKEND_OPS.
//   * supports(op) says whether an op has a kernel (or a base-class composition) on this backend,
//     so a missing kernel shows before a run (`doctor` lists them).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "sa/ops.h"
#include "sa/status.h"

namespace sa {

enum class DeviceKind { CPU, CUDA };

class Backend {
  public:
    virtual ~Backend() = default;
    virtual DeviceKind kind() const = 0;
    virtual std::string name() const = 0;
    // Whether `op` runs on this backend (false: it throws SA_ERR_UNSUPPORTED). The base answers for
    // the base-class versions: false for the ops whose base version only throws.
    virtual bool supports(Op op) const;

    // ---- threads ------------------------------------------------------------------------------
    // Host threads the backend's ops run on (the CPU backend's own pool; 1 where a device does the
    // work). set_threads(n) (n <= 0: SA_NUM_THREADS, else all cores) may be called while ops run on
    // other threads: an op finishes on the pool it started with, the next op takes the new one.
    virtual int threads() const { return 1; }
    virtual void set_threads(int n) { (void) n; }

    // ---- memory -------------------------------------------------------------------------------
    virtual float * alloc(size_t n_floats) = 0;  // throws SA_ERR_OOM
    virtual void free(float * p) = 0;
    virtual void upload(float * dst, const float * host_src, size_t n) = 0;
    virtual void download(float * host_dst, const float * src, size_t n) = 0;
    virtual void copy(float * dst, const float * src, size_t n) = 0;  // device to device
    virtual void fill(float * dst, float value, size_t n) = 0;
    virtual void synchronize() = 0;

    // ---- GEMM ---------------------------------------------------------------------------------
    // C[M,N] = alpha * op(A) op(B) + beta * C (row-major; GemmArgs in sa/ops.h): one product (the
    // strides and batch are ignored), or a.batch products with the operands' strides.
    void gemm(const GemmArgs & a);
    void gemm_batched(const GemmArgs & a);

    // ---- elementwise --------------------------------------------------------------------------
    virtual void add(const float * a, const float * b, float * y, int64_t n) = 0;  // y = a + b
    // y[r, c] = x[r, c] + bias[c]  (rows x cols), in place allowed
    virtual void add_bias(const float * x, const float * bias, float * y, int64_t rows, int64_t cols) = 0;
    virtual void scale(const float * x, float s, float * y, int64_t n) = 0;
    virtual void gelu(const float * x, float * y, int64_t n) = 0;  // exact (erf)
    virtual void gelu_backward(const float * x, const float * dy, float * dx, int64_t n) = 0;
    virtual void relu(const float * x, float * y, int64_t n) = 0;
    virtual void relu_backward(const float * y, const float * dy, float * dx, int64_t n) = 0;  // uses output

    // ---- layers -------------------------------------------------------------------------------
    // y[M,N] = x[M,K] W[N,K]^T + b[N] (b may be null)
    virtual void linear(const float * x, const float * W, const float * b, float * y, int64_t M, int64_t K,
                        int64_t N) = 0;
    // dx[M,K] = dy W (overwrite; may be null); dW[N,K] += dy^T x; db[N] += sum_rows dy
    void linear_backward(const LinearBackwardArgs & a);

    // Frozen linear weights (the image encoders'): W [N, K] prepared once into a layout of the
    // backend's choosing (the CPU backend: its GEMM's packed panels), so no product repacks them.
    // prepare_linear writes prepared_linear_size(N, K) floats to Wp (a buffer from alloc());
    // linear_prepared(x, Wp, ...) equals linear(x, W, ...) bit for bit. The base versions keep W as is.
    virtual size_t prepared_linear_size(int64_t N, int64_t K) { return (size_t) (N * K); }
    virtual void prepare_linear(const float * W, float * Wp, int64_t N, int64_t K) { copy(Wp, W, (size_t) (N * K)); }
    virtual void linear_prepared(const float * x, const float * Wp, const float * b, float * y, int64_t M, int64_t K,
                                 int64_t N) {
        linear(x, Wp, b, y, M, K, N);
    }

    // LayerNorm over the last dim C for each of `rows` (LayerNormArgs); LayerNorm2d (SAM) over C of
    // channels-first x [B, C, HW] per pixel. mean/rstd are written when non-null (saved for the backward
    // pass).
    void layernorm(const LayerNormArgs & a);
    void layernorm_backward(const LayerNormBackwardArgs & a);
    void layernorm2d(const LayerNorm2dArgs & a);
    void layernorm2d_backward(const LayerNorm2dBackwardArgs & a);
    // GELU(LayerNorm(x)) and its backward pass (LayerNormGeluArgs: the mask decoder's upscaling, where
    // LayerNorm2d over channels-last rows is followed by GELU). The base versions compose layernorm and
    // gelu (and gelu_backward, layernorm_backward) through the y and dy_scratch buffers; the CPU fuses
    // both, with the bits of the composition, so neither the normalised rows nor their gradient go
    // through memory.
    void layernorm_gelu(const LayerNormGeluArgs & a);
    void layernorm_gelu_backward(const LayerNormGeluBackwardArgs & a);
    // LayerNorm with a second output y + addend (LayerNormAddArgs), and the decoder's first image keys
    // from channels-first embeddings (KeysFromEmbeddingArgs): the base versions compose layernorm, add,
    // transpose_last2 and add_bias; the CPU writes both outputs in one pass.
    void layernorm_add(const LayerNormAddArgs & a);
    void keys_from_embedding(const KeysFromEmbeddingArgs & a);

    // NCHW convolution, zero padding, groups (depthwise when groups == C); Conv2dArgs. Its backward for
    // groups 1: dx overwritten (may be null), dW and db accumulated (may be null); backends without it
    // throw SA_ERR_UNSUPPORTED.
    void conv2d(const Conv2dArgs & a);
    void conv2d_backward(const Conv2dBackwardArgs & a);
    // ConvTranspose2d with kernel k == stride k (SAM's 2x2/2 upscaling). W [C, O, k, k]. y [B, O, H*k, W*k]
    void conv_transpose_k2s2(const ConvTransposeArgs & a);
    void conv_transpose_k2s2_backward(const ConvTransposeBackwardArgs & a);

    // Bilinear resize of N planes [N, H, W] -> [N, Ho, Wo] with PyTorch's align_corners=False
    // (F.interpolate(mode="bilinear")): source coordinate (o + 0.5) * in / out - 0.5, clamped at 0, the
    // upper neighbour clamped at the edge. The backward pass scatters dy onto dx (overwritten). Used by
    // the prompt-free heads; backends without it throw SA_ERR_UNSUPPORTED.
    virtual void upsample_bilinear(const float * x, float * y, int64_t N, int64_t H, int64_t Wd, int64_t Ho,
                                   int64_t Wo) {
        fail(SA_ERR_UNSUPPORTED, name() + " backend has no upsample_bilinear kernel (prediction heads)");
    }
    virtual void upsample_bilinear_backward(const float * dy, float * dx, int64_t N, int64_t H, int64_t Wd, int64_t Ho,
                                            int64_t Wo) {
        fail(SA_ERR_UNSUPPORTED, name() + " backend has no upsample_bilinear_backward kernel (prediction heads)");
    }

    // [B, C, HW] <-> [B, HW, C]
    virtual void transpose_last2(const float * x, float * y, int64_t B, int64_t R, int64_t C) = 0;

    // ---- attention ----------------------------------------------------------------------------
    // SAM ViT attention over a H x W token grid. qkv [B, H*W, 3, nh, hd] (the output of the qkv linear);
    // out [B, H*W, nh*hd]. When rel_pos_h/rel_pos_w are non-null they are the raw tables
    // [rel_len_h, hd] / [rel_len_w, hd] (interpolated linearly to 2*H-1 / 2*W-1 when sizes differ, as
    // SAM's get_rel_pos) and the decomposed relative-position bias is added before the softmax.
    void attention_vit(const AttentionVitArgs & a);
    // Backward of attention_vit (the probabilities are recomputed): dqkv [B, H*W, 3, nh, hd] overwritten
    // from dout [B, H*W, nh*hd]; drel_pos_h / drel_pos_w (the tables' gradients) accumulated (+=, may
    // be null). Tables must have 2H-1 / 2W-1 rows (no resampling). Backends without it throw
    // SA_ERR_UNSUPPORTED.
    void attention_vit_backward(const AttentionVitBackwardArgs & a);
    // [B, H, W, C] -> windows [B * nWh * nWw, win, win, C], zero padded to multiples of win, and back.
    void window_partition(const WindowArgs & a);
    void window_unpartition(const WindowArgs & a);

    // TinyViT window attention with learned biases over a B x H x W token grid (channels last).
    // qkv [B, H*W, nh * (2*kd + vd)]: per token and head h, q (kd), k (kd), v (vd) from column
    // h * (2*kd + vd) (TinyViT's qkv.view(B, N, nh, -1).split([kd, kd, vd], dim=3)). The grid is cut into
    // win x win windows after padding it at the bottom/right to multiples of win; padding tokens take
    // the qkv row pad_qkv [nh * (2*kd + vd)] (null: zeros), since TinyViT pads before its LayerNorm and
    // qkv projection. Per window and head: softmax(q k^T / sqrt(kd) + bias[h]) v, bias [nh, win*win,
    // win*win] (null: none). out [B, H*W, nh*vd] for the grid's own tokens. Backends without it throw
    // SA_ERR_UNSUPPORTED.
    void attention_tinyvit(const AttentionTinyVitArgs & a);

    // Backward of attention_tinyvit (probabilities recomputed per window and head) from dout
    // [B, H*W, nh*vd]: dqkv [B, H*W, nh*(2*kd + vd)] overwritten; dpad_qkv [nh*(2*kd + vd)] accumulated
    // with the gradient of every padding token's row (may be null; pad_qkv null: zero padding
    // tokens, no gradient); dbias [nh, win*win, win*win] accumulated (may be null). Padding queries get
    // no gradient (their outputs are discarded). Backends without it throw SA_ERR_UNSUPPORTED.
    void attention_tinyvit_backward(const AttentionTinyVitBackwardArgs & a);
    // Backward of the depthwise NCHW convolution (conv2d with groups == C == O, W [C, 1, k, k]):
    // dx [B, C, H, Wd] overwritten (may be null), dW [C, 1, k, k] and db [C] accumulated (may be null).
    // Backends without it throw SA_ERR_UNSUPPORTED.
    void depthwise_conv2d_backward(const DepthwiseConv2dBackwardArgs & a);

    // TinyViT fused blocks (MobileSAM layout, BatchNorm folded; y must not alias x). The base
    // versions compose the ops above with temporary buffers (src/core/ops/tinyvit-fallbacks.cpp);
    // backends override them with kernels that keep the wide intermediates in cache.
    //   mbconv:      y = GELU(x + conv1x1(w3, b3, GELU(dwconv3x3(w2, b2, GELU(conv1x1(w1, b1, x))))));
    //                x, y [B, C, H, W], w1 [hidden, C], w2 [hidden, 1, 3, 3], w3 [C, hidden]
    //   patch_embed: y = conv3x3/2(w1, b1, GELU(conv3x3/2(w0, b0, x))), padding 1;
    //                x [B, Cin, H, W], w0 [C0, Cin, 3, 3], w1 [C1, C0, 3, 3], y [B, C1, ceil(H/4), ceil(W/4)]
    //   mlp:         tokens x [M, C] in place: x += fc(w2, b2, GELU(fc(w1, b1, LayerNorm(gamma, beta, eps; x)))),
    //                w1 [hidden, C], w2 [C, hidden], both prepared by prepare_linear
    //   merge:       PatchMerging on channels-last tokens, x [B, H*W, C] -> y [B, H2*W2, O]:
    //                y = fc(w3, b3, GELU(dwconv3x3/stride(w2, b2, GELU(fc(w1, b1, x))))), padding 1,
    //                H2 = (H - 1) / stride + 1 (likewise W2), stride 1 or 2; w1 [O, C] and w3 [O, O]
    //                (the 1x1 convolutions) prepared by prepare_linear, w2 [O, 1, 3, 3]
    void tinyvit_mbconv(const TinyVitMbconvArgs & a);
    void tinyvit_patch_embed(const TinyVitPatchEmbedArgs & a);
    void tinyvit_mlp(const TinyVitMlpArgs & a);
    void tinyvit_merge(const TinyVitMergeArgs & a);
    // Depthwise 3x3 convolution, stride 1, zero padding 1, on channels-last tokens (TinyViT's local
    // conv): x, y [B, H, W, C] (y must not alias x), w [C, 1, 3, 3], b [C] (may be null). The base
    // version runs conv2d between two transpose_last2.
    void depthwise3x3_nhwc(const Depthwise3x3NhwcArgs & a);

    // Plain multi-head attention (the decoder's): q [B, Nq, nh*d], k/v [B, Nk, nh*d], out [B, Nq, nh*d];
    // softmax(q k^T / sqrt(d)) v per head. probs [B, nh, Nq, Nk] is written when non-null (saved for
    // the backward pass).
    void attention(const AttentionArgs & a);
    void attention_backward(const AttentionBackwardArgs & a);
    // attention_backward for keys and values that feed one tensor (the mask decoder's image keys):
    // dkv += dk + dv. The base version runs attention_backward into scratch (2 B Nk nh d floats) and
    // adds; backends that accumulate in place ignore scratch.
    void attention_backward_kv_acc(const AttentionKvAccArgs & a);

    // Row softmax over the last dim: y[r, :] = softmax(x[r, :]) for `rows` rows of n (y must not alias
    // x), and its backward from the output: dx = y (dy - sum(dy y)) per row (dx must not alias dy).
    // The base versions run attention() against scaled identity keys and values (exact, but
    // O(rows n^2): meant for short rows such as per-head token logits).
    virtual void softmax_rows(const float * x, float * y, int64_t rows, int64_t n);
    virtual void softmax_rows_backward(const float * y, const float * dy, float * dx, int64_t rows, int64_t n);

    // SAM's mask head on sub-pixel-ordered features. Two stacked 2x2/2 transposed convolutions written
    // as linear layers on channels-last pixels (each input pixel row becomes 4 rows, one per kernel
    // tap) turn an E x E grid into 16 E^2 rows, row ((p * 4 + s1) * 4 + s2) holding output pixel
    // (4i + 2 ki1 + ki2, 4j + 2 kj1 + kj2) of the 4E x 4E mask, p = i E + j, s1 = 2 ki1 + kj1,
    // s2 = 2 ki2 + kj2. feat [B, 16 E^2, Cf] holds those rows before the final GELU; hyper [M, B, Cf]
    // the hypernetwork outputs of M mask tokens. Then, in raster order,
    //   masks[b, m, y, x] = sum_c hyper[m, b, c] GELU(feat[b, row(y, x), c])     masks [B, M, 4E, 4E]
    // and the backward pass (dfeat, dhyper overwritten; either may be null)
    //   dfeat[b, r, c]  = GELU'(feat[b, r, c]) sum_m hyper[m, b, c] dmasks[b, m, pixel(r)]
    //   dhyper[m, b, c] = sum_r dmasks[b, m, pixel(r)] GELU(feat[b, r, c]).
    // The base versions compose gelu, gemm and transpose_last2 (src/core/ops/decoder-fallbacks.cpp).
    void mask_head(const MaskHeadArgs & a);
    void mask_head_backward(const MaskHeadBackwardArgs & a);

    // ---- losses and optimisers ----------------------------------------------------------------
    // Segmentation loss (MaskLossArgs; kind: sa::LossKind, see sa/losses.h) on M candidate masks per
    // sample: logits [B, M, HW], binary targets [B, 1, HW] shared by the M candidates; iou_pred (kind SAM
    // only, else null) holds the candidates' predicted IoUs at iou_pred[b * iou_ld + m]. Per sample the
    // candidate with the smallest loss is selected (M == 1: the only one); loss_out[0] (device) = mean
    // over the batch of the selected losses. dlogits [B, M, HW] (overwrite; zero for candidates not
    // selected) and diou_pred (same layout as iou_pred; entries m < M overwritten) may be null.
    void mask_loss(const MaskLossArgs & a);
    // One Adam/AdamW step over a flat parameter buffer (AdamArgs; t = step number starting at 1).
    // adam_step_zero_grad then sets grad[0, n) = 0, ready for the next step's accumulation (the base
    // version runs adam_step and fill; backends may zero in the same pass).
    void adam_step(const AdamArgs & a);
    void adam_step_zero_grad(const AdamArgs & a);
    // Sum of squares of x into out[0] (device) for gradient clipping and NaN checks.
    virtual void sum_squares(const float * x, float * out, int64_t n) = 0;

  protected:
    // The backends' kernels behind the checked entry points (arguments already validated; empty
    // problems never reach them).
    virtual void gemm_impl(const GemmArgs & a) = 0;
    virtual void gemm_batched_impl(const GemmArgs & a) = 0;
    virtual void layernorm_impl(const LayerNormArgs & a) = 0;
    virtual void layernorm_backward_impl(const LayerNormBackwardArgs & a) = 0;
    virtual void layernorm2d_impl(const LayerNorm2dArgs & a) = 0;
    virtual void layernorm2d_backward_impl(const LayerNorm2dBackwardArgs & a) = 0;
    virtual void conv2d_impl(const Conv2dArgs & a) = 0;
    virtual void conv2d_backward_impl(const Conv2dBackwardArgs & a) {
        fail(SA_ERR_UNSUPPORTED, name() + " backend has no conv2d_backward kernel (image-encoder training)");
    }
    virtual void depthwise_conv2d_backward_impl(const DepthwiseConv2dBackwardArgs & a) {
        fail(SA_ERR_UNSUPPORTED, name() + " backend has no depthwise_conv2d_backward kernel (image-encoder training)");
    }
    virtual void conv_transpose_k2s2_impl(const ConvTransposeArgs & a) = 0;
    virtual void conv_transpose_k2s2_backward_impl(const ConvTransposeBackwardArgs & a) = 0;
    virtual void window_partition_impl(const WindowArgs & a) = 0;
    virtual void window_unpartition_impl(const WindowArgs & a) = 0;
    virtual void mask_loss_impl(const MaskLossArgs & a) = 0;
    virtual void adam_step_impl(const AdamArgs & a) = 0;
    virtual void adam_step_zero_grad_impl(const AdamArgs & a);
    virtual void attention_vit_impl(const AttentionVitArgs & a) = 0;
    virtual void attention_vit_backward_impl(const AttentionVitBackwardArgs & a) {
        fail(SA_ERR_UNSUPPORTED, name() + " backend has no attention_vit_backward kernel (image-encoder training)");
    }
    virtual void attention_tinyvit_impl(const AttentionTinyVitArgs & a) {
        fail(SA_ERR_UNSUPPORTED, name() + " backend has no attention_tinyvit kernel");
    }
    virtual void attention_tinyvit_backward_impl(const AttentionTinyVitBackwardArgs & a) {
        fail(SA_ERR_UNSUPPORTED, name() + " backend has no attention_tinyvit_backward kernel (image-encoder training)");
    }
    virtual void attention_impl(const AttentionArgs & a) = 0;
    virtual void attention_backward_impl(const AttentionBackwardArgs & a) = 0;
    virtual void attention_backward_kv_acc_impl(const AttentionKvAccArgs & a);
    virtual void mask_head_impl(const MaskHeadArgs & a);
    virtual void mask_head_backward_impl(const MaskHeadBackwardArgs & a);
    virtual void layernorm_gelu_impl(const LayerNormGeluArgs & a);
    virtual void layernorm_gelu_backward_impl(const LayerNormGeluBackwardArgs & a);
    virtual void layernorm_add_impl(const LayerNormAddArgs & a);
    virtual void keys_from_embedding_impl(const KeysFromEmbeddingArgs & a);
    virtual void linear_backward_impl(const LinearBackwardArgs & a) = 0;
    // The base versions compose other ops (src/core/ops/tinyvit-fallbacks.cpp).
    virtual void tinyvit_mbconv_impl(const TinyVitMbconvArgs & a);
    virtual void tinyvit_patch_embed_impl(const TinyVitPatchEmbedArgs & a);
    virtual void tinyvit_mlp_impl(const TinyVitMlpArgs & a);
    virtual void tinyvit_merge_impl(const TinyVitMergeArgs & a);
    virtual void depthwise3x3_nhwc_impl(const Depthwise3x3NhwcArgs & a);
};

// Precision of the frozen encoder products (prepare_linear / linear_prepared; on the CPU also those of
// attention_vit and of TinyViT's MBConv blocks). fp32: exact fp32. bf16: weights rounded to bf16 when
// prepared, activations rounded to bf16 per product, fp32 accumulation (CPU: needs the avx512bf16 or
// amx level, see sa/isa.h). tf32: CUDA only.
enum class Precision { fp32, tf32, bf16 };
const char * precision_name(Precision p);

// The CPU backend with its own thread pool of `threads` threads (<= 0: SA_NUM_THREADS, else all
// cores). Throws SA_ERR_UNSUPPORTED for a precision this CPU cannot run (bf16 below avx512bf16,
// tf32) and for an unusable SA_ISA.
// `products`: precision of the mask decoder's products, forward and backward (the ops linear,
// linear_backward, gemm, gemm_batched, attention and its backward passes, conv_transpose_k2s2 and its
// backward). fp32, or bf16 (operands rounded to bf16 as they are packed,
// fp32 accumulation, fp32 everywhere else: weights, gradients, Adam; needs the amx level, else
// SA_ERR_UNSUPPORTED).
std::unique_ptr<Backend> make_cpu_backend();
std::unique_ptr<Backend> make_cpu_backend(Precision precision, int threads = 0, Precision products = Precision::fp32);
// Whether the CPU backend runs `op` (its supports(); answered without a backend, for `doctor`).
bool cpu_supports(Op op);

}  // namespace sa
