// Shared machinery of the ONNX -> state-dict weight mappers: reading float constants, recognising
// the layer patterns the PyTorch exporter emits (Linear as MatMul + Add or Gemm, Conv, LayerNorm as
// its decomposition or as LayerNormalization), and bookkeeping of which initializers were mapped.
import { type OnnxModel, type OnnxNode, type OnnxTensor, onnxToFloat32 } from "@sam-ablate/checkpoint";
import type { NativeWeight, NativeWeights } from "@sam-ablate/native";

/** A float tensor found in the graph, with the ONNX name it had (for messages). */
export interface FoundTensor {
    onnxName: string;
    shape: number[];
    data: Float32Array;
}

/** Output of a mapper: state-dict names -> float32 tensors. */
export type MappedWeights = NativeWeights;

/** Row-major [rows, cols] -> [cols, rows]. */
export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
    const out = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) {
        const src = r * cols;
        for (let c = 0; c < cols; c++) out[c * rows + r] = data[src + c] as number;
    }
    return out;
}

/**
 * The mapping of one ONNX file: looks up float constants, records the initializers it consumed and
 * the state-dict entries it produced, and reports every problem at once.
 */
export class MappingContext {
    readonly model: OnnxModel;
    readonly out: MappedWeights = {};
    private readonly used = new Set<string>();
    private readonly problems: string[] = [];

    constructor(model: OnnxModel) {
        this.model = model;
    }

    /** A float constant (initializer or Constant node output), or undefined. Marks it used. */
    floatConstant(name: string): FoundTensor | undefined {
        const t: OnnxTensor | undefined = this.model.constant(name);
        if (
            !t ||
            !(t.dtype === "float32" || t.dtype === "float16" || t.dtype === "bfloat16" || t.dtype === "float64")
        ) {
            return undefined;
        }
        this.used.add(name);
        return { onnxName: name, shape: [...t.dims], data: onnxToFloat32(t) };
    }

    /** True when `name` is a float constant (does not mark it used). */
    isFloatConstant(name: string): boolean {
        const t = this.model.constant(name);
        return (
            !!t && (t.dtype === "float32" || t.dtype === "float16" || t.dtype === "bfloat16" || t.dtype === "float64")
        );
    }

    /** Records a problem; `finish()` throws them all together. */
    problem(message: string): void {
        this.problems.push(message);
    }

    /** Emits a state-dict entry, checking its element count against its shape. */
    emit(key: string, shape: number[], data: Float32Array, from: string): void {
        const n = shape.reduce((a, b) => a * b, 1);
        if (n !== data.length) {
            this.problem(`${key} (from ${from}): ${data.length} values do not fill shape [${shape.join(", ")}]`);
            return;
        }
        if (this.out[key]) {
            this.problem(`${key} is produced twice (again from ${from})`);
            return;
        }
        const w: NativeWeight = { shape, data };
        this.out[key] = w;
    }

    /**
     * Checks the produced weights against the expected state-dict keys and shapes, and that every
     * float initializer of the file was used; throws one ERR_SA_ONNX error listing every problem.
     */
    finish(expected: Map<string, number[]>, what: string): MappedWeights {
        for (const [key, shape] of expected) {
            const got = this.out[key];
            if (!got) this.problem(`missing ${key} [${shape.join(", ")}]`);
            else if (got.shape.length !== shape.length || got.shape.some((d, i) => d !== shape[i])) {
                this.problem(`${key}: expected shape [${shape.join(", ")}], mapped [${got.shape.join(", ")}]`);
            }
        }
        for (const key of Object.keys(this.out)) if (!expected.has(key)) this.problem(`unexpected ${key}`);
        const unmapped: string[] = [];
        for (const [name, t] of this.model.initializers) {
            const isFloat =
                t.dtype === "float32" || t.dtype === "float16" || t.dtype === "bfloat16" || t.dtype === "float64";
            if (isFloat && t.data.length > 1 && !this.used.has(name)) unmapped.push(`${name} [${t.dims.join(", ")}]`);
        }
        if (unmapped.length) this.problem(`initializers not mapped to any weight: ${unmapped.join(", ")}`);
        if (this.problems.length) {
            throw this.model.error(`cannot map the ${what} to its state dict: ${this.problems.join("; ")}`);
        }
        return this.out;
    }

    /** Nodes reading `tensor`, in graph order. */
    consumers(tensor: string): OnnxNode[] {
        return this.model.consumers(tensor).map((u) => u.node);
    }

    /** The single consumer of `tensor` with the given op type, or undefined. */
    soleConsumer(tensor: string, opType: string): OnnxNode | undefined {
        const c = this.consumers(tensor).filter((n) => n.opType === opType);
        return c.length === 1 ? c[0] : undefined;
    }

    /** The other input of a binary node, given one of its inputs. */
    otherInput(node: OnnxNode, input: string): string | undefined {
        if (node.inputs.length !== 2) return undefined;
        return node.inputs[0] === input ? node.inputs[1] : node.inputs[0];
    }
}

/** Integer attribute `name` of a node (or `fallback`). */
export function intAttr(node: OnnxNode, name: string, fallback: number): number {
    const a = node.attributes.get(name);
    return a && a.type === "int" ? a.value : fallback;
}

/** Integer-list attribute `name` of a node (or `fallback`). */
export function intsAttr(node: OnnxNode, name: string, fallback: number[]): number[] {
    const a = node.attributes.get(name);
    return a && a.type === "ints" ? a.value : fallback;
}

/** A Linear layer found in the graph: weight in PyTorch's [out, in] layout, bias [out] (if any). */
export interface FoundLinear {
    node: OnnxNode;
    weight: FoundTensor;
    bias: FoundTensor | undefined;
    /** The node producing the layer's output (the bias Add, or the MatMul/Gemm itself). */
    outputNode: OnnxNode;
}

/**
 * Recognises a Linear layer at `node`:
 *   MatMul(x, W[in, out]) followed by Add(., b[out]) (the exporter's form for inputs of rank > 2;
 *   W is the transpose of PyTorch's weight), or
 *   Gemm(x, W, b) with transB = 1 (W already [out, in]) or transB = 0 (W [in, out]), alpha = beta = 1.
 * Returns undefined when `node` is not such a layer (e.g. an activation-activation MatMul).
 */
export function findLinear(ctx: MappingContext, node: OnnxNode): FoundLinear | undefined {
    if (node.opType === "MatMul") {
        const wName = node.inputs[1];
        if (!wName || !ctx.isFloatConstant(wName) || ctx.isFloatConstant(node.inputs[0] ?? "")) return undefined;
        const w = ctx.floatConstant(wName) as FoundTensor;
        if (w.shape.length !== 2) return undefined;
        const [inF, outF] = w.shape as [number, number];
        const weight: FoundTensor = { onnxName: w.onnxName, shape: [outF, inF], data: transpose2d(w.data, inF, outF) };
        const out = node.outputs[0] as string;
        const add = ctx.soleConsumer(out, "Add");
        const biasName = add ? ctx.otherInput(add, out) : undefined;
        if (add && biasName && ctx.isFloatConstant(biasName)) {
            const b = ctx.floatConstant(biasName) as FoundTensor;
            if (b.data.length === outF) return { node, weight, bias: { ...b, shape: [outF] }, outputNode: add };
        }
        return { node, weight, bias: undefined, outputNode: node };
    }
    if (node.opType === "Gemm") {
        const wName = node.inputs[1];
        if (!wName || !ctx.isFloatConstant(wName)) return undefined;
        if (intAttr(node, "transA", 0) !== 0) return undefined;
        const alpha = node.attributes.get("alpha");
        const beta = node.attributes.get("beta");
        if (
            (alpha && alpha.type === "float" && alpha.value !== 1) ||
            (beta && beta.type === "float" && beta.value !== 1)
        ) {
            return undefined;
        }
        const w = ctx.floatConstant(wName) as FoundTensor;
        if (w.shape.length !== 2) return undefined;
        const transB = intAttr(node, "transB", 0) !== 0;
        const [r, c] = w.shape as [number, number];
        const weight: FoundTensor = transB
            ? w
            : { onnxName: w.onnxName, shape: [c, r], data: transpose2d(w.data, r, c) };
        const outF = weight.shape[0] as number;
        let bias: FoundTensor | undefined;
        const bName = node.inputs[2];
        if (bName) {
            const b = ctx.floatConstant(bName);
            if (!b || b.data.length !== outF) return undefined;
            bias = { ...b, shape: [outF] };
        }
        return { node, weight, bias, outputNode: node };
    }
    return undefined;
}

/** A convolution found in the graph (ONNX Conv / ConvTranspose with constant weights). */
export interface FoundConv {
    node: OnnxNode;
    weight: FoundTensor;
    bias: FoundTensor | undefined;
    group: number;
    stride: number;
    pad: number;
}

/** Recognises a Conv or ConvTranspose with a constant weight (and optional constant bias). */
export function findConv(ctx: MappingContext, node: OnnxNode): FoundConv | undefined {
    if (node.opType !== "Conv" && node.opType !== "ConvTranspose") return undefined;
    const wName = node.inputs[1];
    if (!wName || !ctx.isFloatConstant(wName)) return undefined;
    const weight = ctx.floatConstant(wName) as FoundTensor;
    const bName = node.inputs[2];
    const bias = bName ? ctx.floatConstant(bName) : undefined;
    const strides = intsAttr(node, "strides", [1, 1]);
    const pads = intsAttr(node, "pads", [0, 0, 0, 0]);
    return { node, weight, bias, group: intAttr(node, "group", 1), stride: strides[0] ?? 1, pad: pads[0] ?? 0 };
}

/** A LayerNorm found in the graph: affine parameters and epsilon. */
export interface FoundNorm {
    /** First node of the pattern (ReduceMean or LayerNormalization). */
    node: OnnxNode;
    /** Node producing the normalised, affine-transformed output. */
    outputNode: OnnxNode;
    weight: FoundTensor;
    bias: FoundTensor;
    eps: number;
    /** Normalised axis as exported (-1: channels last, 1: channels first as SAM's LayerNorm2d). */
    axis: number;
}

function scalarConstant(ctx: MappingContext, name: string | undefined): number | undefined {
    if (!name) return undefined;
    const t = ctx.model.constant(name);
    if (t?.data.length !== 1 || Array.isArray(t.data)) return undefined;
    return Number(t.data[0]);
}

/**
 * Recognises a LayerNorm at `node`: either ONNX LayerNormalization(x, scale, B), or the opset < 17
 * decomposition the PyTorch exporter emits for nn.LayerNorm and for SAM's LayerNorm2d:
 *   m = ReduceMean(x); d = Sub(x, m); v = ReduceMean(Pow(d, 2)); s = Sqrt(Add(v, eps));
 *   y = Add(Mul(Div(d, s), weight), bias)
 * (Mul/Add operands in either order). Weights of LayerNorm2d are exported as [C, 1, 1]; the result
 * gives them as [C].
 */
export function findNorm(ctx: MappingContext, node: OnnxNode): FoundNorm | undefined {
    if (node.opType === "LayerNormalization") {
        const w = node.inputs[1] ? ctx.floatConstant(node.inputs[1]) : undefined;
        const b = node.inputs[2] ? ctx.floatConstant(node.inputs[2]) : undefined;
        if (!w || !b) return undefined;
        const epsA = node.attributes.get("epsilon");
        const eps = epsA && epsA.type === "float" ? epsA.value : 1e-5;
        const axis = intAttr(node, "axis", -1);
        return { node, outputNode: node, weight: flat(w), bias: flat(b), eps, axis };
    }
    if (node.opType !== "ReduceMean") return undefined;
    const x = node.inputs[0] as string;
    const mean = node.outputs[0] as string;
    const sub = ctx.consumers(mean).find((n) => n.opType === "Sub" && n.inputs[0] === x && n.inputs[1] === mean);
    if (!sub) return undefined;
    const d = sub.outputs[0] as string;
    const pow = ctx.consumers(d).find((n) => n.opType === "Pow" && scalarConstant(ctx, n.inputs[1]) === 2);
    const div = ctx.consumers(d).find((n) => n.opType === "Div" && n.inputs[0] === d);
    if (!pow || !div) return undefined;
    const var_ = ctx.soleConsumer(pow.outputs[0] as string, "ReduceMean");
    const addEps = var_ ? ctx.soleConsumer(var_.outputs[0] as string, "Add") : undefined;
    const eps = addEps ? scalarConstant(ctx, ctx.otherInput(addEps, var_?.outputs[0] as string)) : undefined;
    const sqrt = addEps ? ctx.soleConsumer(addEps.outputs[0] as string, "Sqrt") : undefined;
    if (!sqrt || eps === undefined || div.inputs[1] !== sqrt.outputs[0]) return undefined;
    const mul = ctx.soleConsumer(div.outputs[0] as string, "Mul");
    const wName = mul ? ctx.otherInput(mul, div.outputs[0] as string) : undefined;
    const add = mul ? ctx.soleConsumer(mul.outputs[0] as string, "Add") : undefined;
    const bName = add ? ctx.otherInput(add, mul?.outputs[0] as string) : undefined;
    if (!mul || !add || !wName || !bName || !ctx.isFloatConstant(wName) || !ctx.isFloatConstant(bName))
        return undefined;
    // ReduceMean's axes: an attribute up to opset 17, a constant second input from opset 18.
    const axesInput = node.inputs[1] ? ctx.model.constant(node.inputs[1]) : undefined;
    const axes =
        axesInput && !Array.isArray(axesInput.data)
            ? Array.from(axesInput.data as ArrayLike<number | bigint>, Number)
            : intsAttr(node, "axes", [-1]);
    const w = ctx.floatConstant(wName) as FoundTensor;
    const b = ctx.floatConstant(bName) as FoundTensor;
    return {
        node,
        outputNode: add,
        weight: flat(w),
        bias: flat(b),
        eps,
        axis: axes.length === 1 ? (axes[0] as number) : Number.NaN,
    };
}

function flat(t: FoundTensor): FoundTensor {
    return { ...t, shape: [t.data.length] };
}
