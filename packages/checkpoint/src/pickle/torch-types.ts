// The torch storage classes and dtypes a weights-only load understands, mapped to tensor dtypes.
import type { DType } from "@sam-ablate/tensor";

/** Legacy typed-storage class names (`torch.<Name>`) by the dtype they hold. */
export const STORAGE_CLASS_BY_DTYPE: Readonly<Record<DType, string>> = {
    float32: "FloatStorage",
    float64: "DoubleStorage",
    float16: "HalfStorage",
    bfloat16: "BFloat16Storage",
    int64: "LongStorage",
    int32: "IntStorage",
    int16: "ShortStorage",
    int8: "CharStorage",
    uint8: "ByteStorage",
    bool: "BoolStorage",
};

/** Storage class name -> dtype. */
export const DTYPE_BY_STORAGE_CLASS: ReadonlyMap<string, DType> = new Map(
    Object.entries(STORAGE_CLASS_BY_DTYPE).map(([dtype, cls]) => [cls, dtype as DType]),
);

/** `torch.<name>` dtype constants (and their aliases) -> dtype. */
export const DTYPE_BY_TORCH_NAME: ReadonlyMap<string, DType> = new Map<string, DType>([
    ["float32", "float32"],
    ["float", "float32"],
    ["float64", "float64"],
    ["double", "float64"],
    ["float16", "float16"],
    ["half", "float16"],
    ["bfloat16", "bfloat16"],
    ["int64", "int64"],
    ["long", "int64"],
    ["int32", "int32"],
    ["int", "int32"],
    ["int16", "int16"],
    ["short", "int16"],
    ["int8", "int8"],
    ["uint8", "uint8"],
    ["bool", "bool"],
]);
