// The parts of the ONNX schema (onnx.proto, IR version <= 10) that the weight reader decodes.

/** ONNX TensorProto.DataType values with the name this reader reports for each. */
export const ONNX_DATA_TYPES = {
    1: "float32",
    2: "uint8",
    3: "int8",
    4: "uint16",
    5: "int16",
    6: "int32",
    7: "int64",
    8: "string",
    9: "bool",
    10: "float16",
    11: "float64",
    12: "uint32",
    13: "uint64",
    16: "bfloat16",
} as const;

/** The element types this reader decodes. */
export type OnnxDType = (typeof ONNX_DATA_TYPES)[keyof typeof ONNX_DATA_TYPES];

/**
 * Tensor payloads by element type: float16/bfloat16 keep their raw 16-bit patterns in a Uint16Array
 * (see `toFloat32`), bool is a Uint8Array of 0/1, string tensors are arrays of strings.
 */
export type OnnxTensorData =
    | Float32Array
    | Float64Array
    | Int8Array
    | Uint8Array
    | Int16Array
    | Uint16Array
    | Int32Array
    | Uint32Array
    | BigInt64Array
    | BigUint64Array
    | string[];

/** A decoded TensorProto (an initializer or a Constant node's value). */
export interface OnnxTensor {
    name: string;
    dims: number[];
    dtype: OnnxDType;
    data: OnnxTensorData;
}

/** A decoded AttributeProto. `type` says which value kind it holds. */
export type OnnxAttribute =
    | { name: string; type: "float"; value: number }
    | { name: string; type: "int"; value: number }
    | { name: string; type: "string"; value: string }
    | { name: string; type: "tensor"; value: OnnxTensor }
    | { name: string; type: "graph"; value: OnnxGraph }
    | { name: string; type: "floats"; value: number[] }
    | { name: string; type: "ints"; value: number[] }
    | { name: string; type: "strings"; value: string[] }
    | { name: string; type: "tensors"; value: OnnxTensor[] }
    | { name: string; type: "graphs"; value: OnnxGraph[] }
    /** Sparse tensors and type protos: kept by name and ONNX AttributeType number only. */
    | { name: string; type: "other"; value: number };

/** A decoded NodeProto. Missing optional inputs are empty strings, as in ONNX. */
export interface OnnxNode {
    name: string;
    opType: string;
    domain: string;
    inputs: string[];
    outputs: string[];
    attributes: Map<string, OnnxAttribute>;
    /** Position of the node in its graph (ONNX graphs are stored in topological order). */
    index: number;
}

/** A graph input/output/value_info entry; dimensions are numbers, symbolic names, or null. */
export interface OnnxValueInfo {
    name: string;
    elemType: OnnxDType | undefined;
    shape: (number | string | null)[] | undefined;
}

/** A decoded GraphProto. */
export interface OnnxGraph {
    name: string;
    nodes: OnnxNode[];
    initializers: Map<string, OnnxTensor>;
    inputs: OnnxValueInfo[];
    outputs: OnnxValueInfo[];
    valueInfo: OnnxValueInfo[];
}

/** An operator set the model imports (domain "" is the default ONNX domain). */
export interface OnnxOpset {
    domain: string;
    version: number;
}
