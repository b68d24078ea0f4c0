// The ONNX model as the weight mappers see it: the decoded graph plus indices to follow tensors
// from the nodes that produce them to the nodes that consume them.
import { readFile } from "node:fs/promises";

import { decodeModel } from "./decode.js";
import { OnnxError } from "./errors.js";
import { decodeTensor } from "./tensor.js";
import type { OnnxGraph, OnnxNode, OnnxOpset, OnnxTensor } from "./types.js";
import { ProtoReader } from "./wire.js";

/** A node that reads a tensor, and the input slot it reads it in. */
export interface OnnxUse {
    node: OnnxNode;
    slot: number;
}

/** A decoded ONNX model (ModelProto) with graph navigation helpers. */
export class OnnxModel {
    /** The file name (or label) the model was read from; used in error messages. */
    readonly file: string;
    readonly irVersion: number;
    readonly opsetImports: OnnxOpset[];
    readonly producerName: string;
    readonly producerVersion: string;
    readonly graph: OnnxGraph;
    private consumerIndex: Map<string, OnnxUse[]> | undefined;
    private producerIndex: Map<string, OnnxNode> | undefined;

    constructor(file: string, m: ReturnType<typeof decodeModel>) {
        this.file = file;
        this.irVersion = m.irVersion;
        this.opsetImports = m.opsetImports;
        this.producerName = m.producerName;
        this.producerVersion = m.producerVersion;
        this.graph = m.graph;
    }

    /** The main graph's initializers by name. */
    get initializers(): Map<string, OnnxTensor> {
        return this.graph.initializers;
    }

    /** The main graph's nodes in file (topological) order. */
    get nodes(): OnnxNode[] {
        return this.graph.nodes;
    }

    /** The default-domain opset version (0 when the model does not import it). */
    get opset(): number {
        return this.opsetImports.find((o) => o.domain === "" || o.domain === "ai.onnx")?.version ?? 0;
    }

    /** Every (node, input slot) of the main graph that reads `name`, in node order. */
    consumers(name: string): OnnxUse[] {
        if (!this.consumerIndex) {
            const idx = new Map<string, OnnxUse[]>();
            for (const node of this.graph.nodes) {
                node.inputs.forEach((input, slot) => {
                    if (!input) return;
                    const list = idx.get(input);
                    if (list) list.push({ node, slot });
                    else idx.set(input, [{ node, slot }]);
                });
            }
            this.consumerIndex = idx;
        }
        return this.consumerIndex.get(name) ?? [];
    }

    /** The node of the main graph that outputs `name` (undefined for graph inputs and initializers). */
    producer(name: string): OnnxNode | undefined {
        if (!this.producerIndex) {
            const idx = new Map<string, OnnxNode>();
            for (const node of this.graph.nodes) for (const out of node.outputs) if (out) idx.set(out, node);
            this.producerIndex = idx;
        }
        return this.producerIndex.get(name);
    }

    /**
     * The constant value of `name` when it is known without running the graph: an initializer, or
     * the output of a Constant node (`value`, `value_float(s)`, `value_int(s)`).
     */
    constant(name: string): OnnxTensor | undefined {
        const init = this.graph.initializers.get(name);
        if (init) return init;
        const node = this.producer(name);
        if (node?.opType !== "Constant" || node.domain !== "") return undefined;
        for (const a of node.attributes.values()) {
            if (a.type === "tensor" && a.name === "value") return { ...a.value, name };
            if (a.name === "value_float" && a.type === "float") {
                return { name, dims: [], dtype: "float32", data: Float32Array.of(a.value) };
            }
            if (a.name === "value_floats" && a.type === "floats") {
                return { name, dims: [a.value.length], dtype: "float32", data: Float32Array.from(a.value) };
            }
            if (a.name === "value_int" && a.type === "int") {
                return { name, dims: [], dtype: "int64", data: BigInt64Array.of(BigInt(a.value)) };
            }
            if (a.name === "value_ints" && a.type === "ints") {
                return {
                    name,
                    dims: [a.value.length],
                    dtype: "int64",
                    data: BigInt64Array.from(a.value, (v) => BigInt(v)),
                };
            }
        }
        return undefined;
    }

    /** An error about this model (code ERR_SA_ONNX) naming its file. */
    error(message: string): OnnxError {
        return new OnnxError(this.file, message);
    }
}

/**
 * Decodes an ONNX model from its bytes. `file` names the source in error messages. Malformed
 * protobuf (truncated fields, bad wire types, lengths past the end) raises an OnnxError with the
 * byte offset of the problem.
 */
export function readOnnx(bytes: Uint8Array, file = "<onnx>"): OnnxModel {
    if (bytes.length === 0) throw new OnnxError(file, "empty file, not an ONNX model");
    return new OnnxModel(file, decodeModel(new ProtoReader(bytes, file)));
}

/** Reads and decodes an ONNX model file. */
export async function readOnnxFile(path: string): Promise<OnnxModel> {
    let bytes: Uint8Array;
    try {
        bytes = await readFile(path);
    } catch (e) {
        throw new OnnxError(path, `cannot read the file: ${(e as Error).message}`);
    }
    return readOnnx(bytes, path);
}

/** Decodes one serialised TensorProto (e.g. an ONNX test-data `.pb` file). */
export function readOnnxTensor(bytes: Uint8Array, file = "<tensor>"): OnnxTensor {
    return decodeTensor(new ProtoReader(bytes, file), 0);
}
