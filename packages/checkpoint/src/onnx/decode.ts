// Decoding of the ONNX messages above TensorProto: ModelProto, GraphProto, NodeProto,
// AttributeProto and ValueInfoProto (with TypeProto.Tensor shapes). Unknown fields are skipped, as
// protobuf requires; fields the reader needs are checked for their wire type.
import { decodeTensor, onnxDType } from "./tensor.js";
import type { OnnxAttribute, OnnxGraph, OnnxNode, OnnxOpset, OnnxTensor, OnnxValueInfo } from "./types.js";
import { type FieldKey, type ProtoReader, WireType } from "./wire.js";

/** The decoded top level of a ModelProto. */
export interface DecodedModel {
    irVersion: number;
    opsetImports: OnnxOpset[];
    producerName: string;
    producerVersion: string;
    graph: OnnxGraph;
}

function str(r: ProtoReader, key: FieldKey, what: string): string {
    r.expect(key, WireType.LEN, what);
    return r.string();
}

function tensorField(r: ProtoReader, key: FieldKey, what: string): OnnxTensor {
    r.expect(key, WireType.LEN, what);
    const at = r.pos;
    return decodeTensor(r.message(), at);
}

/** Decodes a ModelProto spanning the whole reader. */
export function decodeModel(r: ProtoReader): DecodedModel {
    let irVersion = 0;
    const opsetImports: OnnxOpset[] = [];
    let producerName = "";
    let producerVersion = "";
    let graph: OnnxGraph | undefined;
    for (let key = r.next(); key; key = r.next()) {
        switch (key.field) {
            case 1:
                r.expect(key, WireType.VARINT, "ModelProto.ir_version");
                irVersion = r.int64();
                break;
            case 2:
                producerName = str(r, key, "ModelProto.producer_name");
                break;
            case 3:
                producerVersion = str(r, key, "ModelProto.producer_version");
                break;
            case 7:
                r.expect(key, WireType.LEN, "ModelProto.graph");
                graph = decodeGraph(r.message());
                break;
            case 8: {
                r.expect(key, WireType.LEN, "ModelProto.opset_import");
                opsetImports.push(decodeOpset(r.message()));
                break;
            }
            default:
                r.skip(key);
        }
    }
    if (!graph) throw r.error("not an ONNX model: ModelProto has no graph", 0);
    return { irVersion, opsetImports, producerName, producerVersion, graph };
}

function decodeOpset(r: ProtoReader): OnnxOpset {
    const out: OnnxOpset = { domain: "", version: 0 };
    for (let key = r.next(); key; key = r.next()) {
        if (key.field === 1) out.domain = str(r, key, "OperatorSetIdProto.domain");
        else if (key.field === 2) {
            r.expect(key, WireType.VARINT, "OperatorSetIdProto.version");
            out.version = r.int64();
        } else r.skip(key);
    }
    return out;
}

/** Decodes a GraphProto (also used for graph-valued attributes, e.g. If/Loop bodies). */
export function decodeGraph(r: ProtoReader): OnnxGraph {
    const g: OnnxGraph = { name: "", nodes: [], initializers: new Map(), inputs: [], outputs: [], valueInfo: [] };
    for (let key = r.next(); key; key = r.next()) {
        switch (key.field) {
            case 1:
                r.expect(key, WireType.LEN, "GraphProto.node");
                g.nodes.push(decodeNode(r.message(), g.nodes.length));
                break;
            case 2:
                g.name = str(r, key, "GraphProto.name");
                break;
            case 5: {
                const at = key.offset;
                const t = tensorField(r, key, "GraphProto.initializer");
                if (g.initializers.has(t.name)) throw r.error(`duplicate initializer ${t.name}`, at);
                g.initializers.set(t.name, t);
                break;
            }
            case 11:
                r.expect(key, WireType.LEN, "GraphProto.input");
                g.inputs.push(decodeValueInfo(r.message()));
                break;
            case 12:
                r.expect(key, WireType.LEN, "GraphProto.output");
                g.outputs.push(decodeValueInfo(r.message()));
                break;
            case 13:
                r.expect(key, WireType.LEN, "GraphProto.value_info");
                g.valueInfo.push(decodeValueInfo(r.message()));
                break;
            default:
                r.skip(key);
        }
    }
    return g;
}

function decodeNode(r: ProtoReader, index: number): OnnxNode {
    const n: OnnxNode = { name: "", opType: "", domain: "", inputs: [], outputs: [], attributes: new Map(), index };
    for (let key = r.next(); key; key = r.next()) {
        switch (key.field) {
            case 1:
                n.inputs.push(str(r, key, "NodeProto.input"));
                break;
            case 2:
                n.outputs.push(str(r, key, "NodeProto.output"));
                break;
            case 3:
                n.name = str(r, key, "NodeProto.name");
                break;
            case 4:
                n.opType = str(r, key, "NodeProto.op_type");
                break;
            case 5: {
                r.expect(key, WireType.LEN, "NodeProto.attribute");
                const a = decodeAttribute(r.message());
                n.attributes.set(a.name, a);
                break;
            }
            case 7:
                n.domain = str(r, key, "NodeProto.domain");
                break;
            default:
                r.skip(key);
        }
    }
    return n;
}

// AttributeProto.AttributeType numbers.
const A = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8, TENSORS: 9, GRAPHS: 10 };

function decodeAttribute(r: ProtoReader): OnnxAttribute {
    const start = r.pos;
    let name = "";
    let type = 0;
    let f: number | undefined;
    let i: number | undefined;
    let s: string | undefined;
    let t: OnnxTensor | undefined;
    let g: OnnxGraph | undefined;
    const floats: number[] = [];
    const ints: number[] = [];
    const strings: string[] = [];
    const tensors: OnnxTensor[] = [];
    const graphs: OnnxGraph[] = [];
    const seen = new Set<number>();
    for (let key = r.next(); key; key = r.next()) {
        seen.add(key.field);
        switch (key.field) {
            case 1:
                name = str(r, key, "AttributeProto.name");
                break;
            case 20:
                r.expect(key, WireType.VARINT, "AttributeProto.type");
                type = r.int32();
                break;
            case 2:
                r.expect(key, WireType.I32, "AttributeProto.f");
                f = r.float32();
                break;
            case 3:
                r.expect(key, WireType.VARINT, "AttributeProto.i");
                i = r.int64();
                break;
            case 4:
                s = str(r, key, "AttributeProto.s");
                break;
            case 5:
                t = tensorField(r, key, "AttributeProto.t");
                break;
            case 6:
                r.expect(key, WireType.LEN, "AttributeProto.g");
                g = decodeGraph(r.message());
                break;
            case 7: {
                const b = r.repeatedFixed(key, 4);
                const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
                for (let k = 0; k < b.length; k += 4) floats.push(v.getFloat32(k, true));
                break;
            }
            case 8:
                r.repeatedVarint(key, (x) => x.int64(), ints);
                break;
            case 9:
                strings.push(str(r, key, "AttributeProto.strings"));
                break;
            case 10:
                tensors.push(tensorField(r, key, "AttributeProto.tensors"));
                break;
            case 11:
                r.expect(key, WireType.LEN, "AttributeProto.graphs");
                graphs.push(decodeGraph(r.message()));
                break;
            default:
                r.skip(key);
        }
    }
    if (type === 0) {
        // IR version 1 files may omit the type: infer it from the field that is present.
        const byField: [number, number][] = [
            [2, A.FLOAT],
            [3, A.INT],
            [4, A.STRING],
            [5, A.TENSOR],
            [6, A.GRAPH],
            [7, A.FLOATS],
            [8, A.INTS],
            [9, A.STRINGS],
            [10, A.TENSORS],
            [11, A.GRAPHS],
        ];
        for (const [field, ty] of byField) if (seen.has(field)) type = ty;
    }
    const missing = (what: string) => r.error(`attribute ${name}: type ${type} but no ${what} value`, start);
    switch (type) {
        case A.FLOAT:
            if (f === undefined) f = 0; // proto3 omits zero scalars
            return { name, type: "float", value: f };
        case A.INT:
            return { name, type: "int", value: i ?? 0 };
        case A.STRING:
            return { name, type: "string", value: s ?? "" };
        case A.TENSOR:
            if (!t) throw missing("tensor");
            return { name, type: "tensor", value: t };
        case A.GRAPH:
            if (!g) throw missing("graph");
            return { name, type: "graph", value: g };
        case A.FLOATS:
            return { name, type: "floats", value: floats };
        case A.INTS:
            return { name, type: "ints", value: ints };
        case A.STRINGS:
            return { name, type: "strings", value: strings };
        case A.TENSORS:
            return { name, type: "tensors", value: tensors };
        case A.GRAPHS:
            return { name, type: "graphs", value: graphs };
        default:
            return { name, type: "other", value: type };
    }
}

function decodeValueInfo(r: ProtoReader): OnnxValueInfo {
    const v: OnnxValueInfo = { name: "", elemType: undefined, shape: undefined };
    for (let key = r.next(); key; key = r.next()) {
        if (key.field === 1) v.name = str(r, key, "ValueInfoProto.name");
        else if (key.field === 2) {
            r.expect(key, WireType.LEN, "ValueInfoProto.type");
            decodeType(r.message(), v);
        } else r.skip(key);
    }
    return v;
}

function decodeType(r: ProtoReader, v: OnnxValueInfo): void {
    for (let key = r.next(); key; key = r.next()) {
        if (key.field !== 1) {
            r.skip(key); // sequence, map, optional and sparse types carry no tensor shape here
            continue;
        }
        r.expect(key, WireType.LEN, "TypeProto.tensor_type");
        const t = r.message();
        for (let k = t.next(); k; k = t.next()) {
            if (k.field === 1) {
                t.expect(k, WireType.VARINT, "TypeProto.Tensor.elem_type");
                v.elemType = onnxDType(t.int32());
            } else if (k.field === 2) {
                t.expect(k, WireType.LEN, "TypeProto.Tensor.shape");
                v.shape = decodeShape(t.message());
            } else t.skip(k);
        }
    }
}

function decodeShape(r: ProtoReader): (number | string | null)[] {
    const dims: (number | string | null)[] = [];
    for (let key = r.next(); key; key = r.next()) {
        if (key.field !== 1) {
            r.skip(key);
            continue;
        }
        r.expect(key, WireType.LEN, "TensorShapeProto.dim");
        const d = r.message();
        let value: number | string | null = null;
        for (let k = d.next(); k; k = d.next()) {
            if (k.field === 1) {
                d.expect(k, WireType.VARINT, "Dimension.dim_value");
                value = d.int64();
            } else if (k.field === 2) value = str(d, k, "Dimension.dim_param");
            else d.skip(k);
        }
        dims.push(value);
    }
    return dims;
}
