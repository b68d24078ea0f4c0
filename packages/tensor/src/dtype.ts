import { TensorError } from "./errors.js";

/** Element types a tensor can hold. `float16` and `bfloat16` are stored as raw bits in a `Uint16Array`. */
export type DType =
    | "float32"
    | "float16"
    | "bfloat16"
    | "float64"
    | "int64"
    | "int32"
    | "int16"
    | "int8"
    | "uint8"
    | "bool";

/** The typed array that backs each dtype. `bool` is one byte per element (0 or 1). */
export interface DTypeArrayMap {
    float32: Float32Array;
    float16: Uint16Array;
    bfloat16: Uint16Array;
    float64: Float64Array;
    int64: BigInt64Array;
    int32: Int32Array;
    int16: Int16Array;
    int8: Int8Array;
    uint8: Uint8Array;
    bool: Uint8Array;
}

/** The typed array type backing dtype `D`. */
export type TypedArrayOf<D extends DType> = DTypeArrayMap[D];

/** Any typed array that can back a tensor. */
export type TensorData = DTypeArrayMap[DType];

/** Every dtype, in a fixed order. */
export const DTYPES: readonly DType[] = [
    "float32",
    "float16",
    "bfloat16",
    "float64",
    "int64",
    "int32",
    "int16",
    "int8",
    "uint8",
    "bool",
];

const ITEM_SIZE: Record<DType, number> = {
    float32: 4,
    float16: 2,
    bfloat16: 2,
    float64: 8,
    int64: 8,
    int32: 4,
    int16: 2,
    int8: 1,
    uint8: 1,
    bool: 1,
};

type TypedArrayCtor = {
    new (length: number): TensorData;
    new (buffer: ArrayBufferLike, byteOffset: number, length: number): TensorData;
};

const CTOR: Record<DType, TypedArrayCtor> = {
    float32: Float32Array,
    float16: Uint16Array,
    bfloat16: Uint16Array,
    float64: Float64Array,
    int64: BigInt64Array,
    int32: Int32Array,
    int16: Int16Array,
    int8: Int8Array,
    uint8: Uint8Array,
    bool: Uint8Array,
};

/** True when `value` names a supported dtype. */
export function isDType(value: unknown): value is DType {
    return typeof value === "string" && Object.hasOwn(ITEM_SIZE, value);
}

/** Bytes per element of `dtype`. */
export function itemSize(dtype: DType): number {
    const size = ITEM_SIZE[dtype];
    if (size === undefined) throw new TensorError("ERR_SA_TENSOR_DTYPE", `unknown dtype ${JSON.stringify(dtype)}`);
    return size;
}

/** True for the floating-point dtypes (float16, bfloat16, float32, float64). */
export function isFloatDType(dtype: DType): boolean {
    return dtype === "float32" || dtype === "float16" || dtype === "bfloat16" || dtype === "float64";
}

/** A new zero-filled typed array of `length` elements for `dtype`. */
export function allocate<D extends DType>(dtype: D, length: number): TypedArrayOf<D> {
    const ctor = CTOR[dtype];
    if (ctor === undefined) throw new TensorError("ERR_SA_TENSOR_DTYPE", `unknown dtype ${JSON.stringify(dtype)}`);
    return new ctor(length) as TypedArrayOf<D>;
}

/** A typed array of `dtype` viewing `length` elements of `buffer` from `byteOffset` (no copy). */
export function viewOf<D extends DType>(
    dtype: D,
    buffer: ArrayBufferLike,
    byteOffset: number,
    length: number,
): TypedArrayOf<D> {
    return new CTOR[dtype](buffer, byteOffset, length) as TypedArrayOf<D>;
}

/** True when `data` is the typed array class that backs `dtype`. */
export function dataMatchesDType(dtype: DType, data: unknown): boolean {
    const ctor = CTOR[dtype];
    return ctor !== undefined && data instanceof (ctor as unknown as typeof Uint8Array);
}
