import { type Tensor, toFloat32 } from "@sam-ablate/tensor";

/** Weights as the native addon takes them: name -> float32 data with its shape. */
export type Float32Record = Record<string, { shape: number[]; data: Float32Array }>;

/** Options for {@link stateDictToFloat32Record}. */
export interface Float32RecordOptions {
    /** Keep only the tensors whose names start with this (e.g. `"mask_decoder."`). */
    prefix?: string;
    /** Remove `prefix` from the names in the result (default false). */
    stripPrefix?: boolean;
}

/**
 * Converts a state dict to a {@link Float32Record}. Float32 tensors are shared, not copied; other
 * dtypes are converted (float16/bfloat16 exactly).
 */
export function stateDictToFloat32Record(
    tensors: ReadonlyMap<string, Tensor>,
    options: Float32RecordOptions = {},
): Float32Record {
    const prefix = options.prefix ?? "";
    const out: Float32Record = {};
    for (const [name, t] of tensors) {
        if (!name.startsWith(prefix)) continue;
        const key = options.stripPrefix ? name.slice(prefix.length) : name;
        const f = toFloat32(t);
        Object.defineProperty(out, key, {
            value: { shape: [...f.shape], data: f.data },
            enumerable: true,
            writable: true,
            configurable: true,
        });
    }
    return out;
}
