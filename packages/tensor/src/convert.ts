import { type DType, isFloatDType } from "./dtype.js";
import { TensorError } from "./errors.js";
import {
    bfloat16ToFloat32Array,
    float16ToFloat32Array,
    float32ToBfloat16Array,
    float32ToFloat16Array,
} from "./half.js";
import type { Tensor } from "./tensor.js";

/** The floating-point dtypes a tensor can be cast to with {@link castFloat}. */
export type FloatDType = "float32" | "float16" | "bfloat16" | "float64";

/**
 * The tensor's values as a new `Float32Array`. Float16/bfloat16 widen exactly; float64 and 64-bit
 * integers round to the nearest float32; bool gives 0/1. Always a fresh array (never aliases `t`).
 */
export function toFloat32Array(t: Tensor): Float32Array {
    switch (t.dtype) {
        case "float32":
            return t.data.slice();
        case "float16":
            return float16ToFloat32Array(t.data);
        case "bfloat16":
            return bfloat16ToFloat32Array(t.data);
        case "int64": {
            const out = new Float32Array(t.data.length);
            for (let i = 0; i < out.length; i++) out[i] = Number(t.data[i] as bigint);
            return out;
        }
        default:
            return Float32Array.from(t.data);
    }
}

/**
 * The tensor as float32. A float32 tensor is returned as is (same object, no copy); any other dtype
 * is converted into a new tensor as {@link toFloat32Array} describes.
 */
export function toFloat32(t: Tensor): Tensor<"float32"> {
    if (t.dtype === "float32") return t;
    return { dtype: "float32", shape: [...t.shape], data: toFloat32Array(t) };
}

/**
 * The tensor cast to a floating-point dtype, in a new tensor (a tensor already of that dtype is
 * returned as is). Narrowing to float16/bfloat16 goes through float32 and rounds to nearest even,
 * as PyTorch's `.half()` / `.bfloat16()` do.
 */
export function castFloat<D extends FloatDType>(t: Tensor, dtype: D): Tensor<D> {
    if (!isFloatDType(dtype as DType)) {
        throw new TensorError("ERR_SA_TENSOR_DTYPE", `castFloat: ${String(dtype)} is not a floating-point dtype`);
    }
    if (t.dtype === dtype) return t as Tensor<D>;
    const shape = [...t.shape];
    if (dtype === "float64") {
        const data =
            t.dtype === "float16" || t.dtype === "bfloat16"
                ? Float64Array.from(toFloat32Array(t))
                : t.dtype === "int64"
                  ? Float64Array.from(t.data, (v) => Number(v))
                  : Float64Array.from(t.data);
        return { dtype: "float64", shape, data } as Tensor<D>;
    }
    const f32 = t.dtype === "float32" ? t.data : toFloat32Array(t);
    if (dtype === "float32") return { dtype: "float32", shape, data: f32 } as Tensor<D>;
    if (dtype === "float16") return { dtype: "float16", shape, data: float32ToFloat16Array(f32) } as Tensor<D>;
    return { dtype: "bfloat16", shape, data: float32ToBfloat16Array(f32) } as Tensor<D>;
}
