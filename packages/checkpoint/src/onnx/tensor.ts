// TensorProto decoding: dims, data_type, raw_data and the typed repeated fields (packed or not),
// into typed arrays of the tensor's element type; and conversion of numeric tensors to float32.
import { bfloat16ToFloat32Array, float16ToFloat32Array } from "@sam-ablate/tensor";
import { concatChunks } from "../zip/writer.js";

import { ONNX_DATA_TYPES, type OnnxDType, type OnnxTensor, type OnnxTensorData } from "./types.js";
import { type ProtoReader, WireType } from "./wire.js";

const ITEM_SIZE: Record<Exclude<OnnxDType, "string">, number> = {
    float32: 4,
    uint8: 1,
    int8: 1,
    uint16: 2,
    int16: 2,
    int32: 4,
    int64: 8,
    bool: 1,
    float16: 2,
    float64: 8,
    uint32: 4,
    uint64: 8,
    bfloat16: 2,
};

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The reader's name for an ONNX data_type number, or undefined when it is not supported. */
export function onnxDType(dataType: number): OnnxDType | undefined {
    return (ONNX_DATA_TYPES as Record<number, OnnxDType>)[dataType];
}

function allocate(dtype: Exclude<OnnxDType, "string">, n: number): Exclude<OnnxTensorData, string[]> {
    switch (dtype) {
        case "float32":
            return new Float32Array(n);
        case "float64":
            return new Float64Array(n);
        case "int8":
            return new Int8Array(n);
        case "uint8":
        case "bool":
            return new Uint8Array(n);
        case "int16":
            return new Int16Array(n);
        case "uint16":
        case "float16":
        case "bfloat16":
            return new Uint16Array(n);
        case "int32":
            return new Int32Array(n);
        case "uint32":
            return new Uint32Array(n);
        case "int64":
            return new BigInt64Array(n);
        case "uint64":
            return new BigUint64Array(n);
    }
}

/** Copies little-endian bytes into a freshly allocated (hence aligned) typed array. */
function fromLittleEndian(dtype: Exclude<OnnxDType, "string">, n: number, bytes: Uint8Array) {
    const out = allocate(dtype, n);
    const dst = new Uint8Array(out.buffer);
    dst.set(bytes);
    const size = ITEM_SIZE[dtype];
    if (!LITTLE_ENDIAN && size > 1) {
        for (let i = 0; i < dst.length; i += size) dst.subarray(i, i + size).reverse();
    }
    return out;
}

/** Concatenates byte chunks (the unpacked or split occurrences of one repeated fixed field); one chunk is not copied. */
function concat(chunks: Uint8Array[]): Uint8Array {
    return chunks.length === 1 ? (chunks[0] as Uint8Array) : concatChunks(chunks);
}

/**
 * Decodes one TensorProto message. `r` reads the message's fields; `at` is its offset for errors.
 * Tensors stored outside the file (data_location EXTERNAL) or in segments are rejected.
 */
export function decodeTensor(r: ProtoReader, at: number): OnnxTensor {
    const dims: number[] = [];
    let dataType = 0;
    let name = "";
    let raw: Uint8Array | undefined;
    const floatChunks: Uint8Array[] = [];
    const doubleChunks: Uint8Array[] = [];
    const int32s: number[] = [];
    const int64s: bigint[] = [];
    const uint64s: bigint[] = [];
    const strings: string[] = [];
    let external = false;
    for (let key = r.next(); key; key = r.next()) {
        switch (key.field) {
            case 1:
                r.repeatedVarint(key, (s) => s.int64(), dims);
                break;
            case 2:
                r.expect(key, WireType.VARINT, "TensorProto.data_type");
                dataType = r.int32();
                break;
            case 3:
                throw r.error(`tensor ${name || "(unnamed)"}: segmented tensors are not supported`, key.offset);
            case 4:
                floatChunks.push(r.repeatedFixed(key, 4));
                break;
            case 5:
                r.repeatedVarint(key, (s) => s.int32(), int32s);
                break;
            case 6:
                r.expect(key, WireType.LEN, "TensorProto.string_data");
                strings.push(r.string());
                break;
            case 7:
                r.repeatedVarint(key, (s) => s.int64Big(), int64s);
                break;
            case 8:
                r.expect(key, WireType.LEN, "TensorProto.name");
                name = r.string();
                break;
            case 9:
                r.expect(key, WireType.LEN, "TensorProto.raw_data");
                raw = r.bytes();
                break;
            case 10:
                doubleChunks.push(r.repeatedFixed(key, 8));
                break;
            case 11:
                r.repeatedVarint(key, (s) => s.uint64(), uint64s);
                break;
            case 14:
                r.expect(key, WireType.VARINT, "TensorProto.data_location");
                external = r.int32() === 1;
                break;
            default:
                r.skip(key);
        }
    }
    const label = `tensor ${name || "(unnamed)"}`;
    if (external) throw r.error(`${label}: data stored in an external file is not supported`, at);
    const dtype = onnxDType(dataType);
    if (!dtype) throw r.error(`${label}: unsupported data_type ${dataType}`, at);
    let numel = 1;
    for (const d of dims) {
        if (!Number.isSafeInteger(d) || d < 0) throw r.error(`${label}: invalid dimension ${d}`, at);
        numel *= d;
    }
    if (!Number.isSafeInteger(numel)) throw r.error(`${label}: element count overflows`, at);

    const count = (n: number, field: string) => {
        if (n !== numel) {
            throw r.error(`${label}: ${field} holds ${n} values, dims [${dims.join(", ")}] need ${numel}`, at);
        }
    };

    if (dtype === "string") {
        count(strings.length, "string_data");
        return { name, dims, dtype, data: strings };
    }
    if (raw !== undefined) {
        const bytes = numel * ITEM_SIZE[dtype];
        if (raw.length !== bytes) {
            throw r.error(
                `${label}: raw_data has ${raw.length} bytes, ${dtype} dims [${dims.join(", ")}] need ${bytes}`,
                at,
            );
        }
        return { name, dims, dtype, data: fromLittleEndian(dtype, numel, raw) };
    }
    let data: OnnxTensorData;
    switch (dtype) {
        case "float32": {
            const b = concat(floatChunks);
            count(b.length / 4, "float_data");
            data = fromLittleEndian(dtype, numel, b);
            break;
        }
        case "float64": {
            const b = concat(doubleChunks);
            count(b.length / 8, "double_data");
            data = fromLittleEndian(dtype, numel, b);
            break;
        }
        case "int64":
            count(int64s.length, "int64_data");
            data = BigInt64Array.from(int64s);
            break;
        case "uint32":
        case "uint64": {
            count(uint64s.length, "uint64_data");
            data = dtype === "uint64" ? BigUint64Array.from(uint64s) : Uint32Array.from(uint64s, (v) => Number(v));
            break;
        }
        default: {
            // int32_data carries int32, int16, int8, uint16, uint8, bool, and the bit patterns of
            // float16 and bfloat16 (the typed array's constructor keeps the low bits).
            count(int32s.length, "int32_data");
            const out = allocate(dtype, numel) as Exclude<OnnxTensorData, string[] | BigInt64Array | BigUint64Array>;
            for (let i = 0; i < numel; i++) out[i] = int32s[i] as number;
            data = out;
        }
    }
    return { name, dims, dtype, data };
}

/**
 * The tensor's values as float32 (float16 and bfloat16 decoded, integers and doubles converted).
 * A float32 tensor's own array is returned, not a copy. Throws for string tensors.
 */
export function onnxToFloat32(t: OnnxTensor): Float32Array {
    const d = t.data;
    if (d instanceof Float32Array) return d;
    if (Array.isArray(d)) throw new TypeError(`tensor ${t.name}: a string tensor has no float values`);
    if (t.dtype === "float16") return float16ToFloat32Array(d as Uint16Array);
    if (t.dtype === "bfloat16") return bfloat16ToFloat32Array(d as Uint16Array);
    const out = new Float32Array(d.length);
    if (d instanceof BigInt64Array || d instanceof BigUint64Array) {
        for (let i = 0; i < d.length; i++) out[i] = Number(d[i]);
    } else {
        out.set(d);
    }
    return out;
}

/** Integer tensor values (int8..int64, uint8..uint64, bool) as JS numbers; throws for other types. */
export function onnxToNumbers(t: OnnxTensor): number[] {
    const d = t.data;
    if (
        Array.isArray(d) ||
        d instanceof Float32Array ||
        d instanceof Float64Array ||
        t.dtype === "float16" ||
        t.dtype === "bfloat16"
    ) {
        throw new TypeError(`tensor ${t.name}: ${t.dtype} is not an integer type`);
    }
    return Array.from(d as ArrayLike<number | bigint>, (v) => Number(v));
}
