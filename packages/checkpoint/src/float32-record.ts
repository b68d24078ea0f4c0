import { type Tensor, toFloat32 } from "@sam-ablate/tensor";
import { CheckpointError } from "./errors.js";

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

/** Number of NaN/infinite values in `data` and the index of the first (-1 when all are finite). */
export function countNonFinite(data: Float32Array): { count: number; first: number } {
    let count = 0;
    let first = -1;
    for (let i = 0; i < data.length; i++) {
        const v = data[i] as number;
        if (v - v !== 0) {
            if (first < 0) first = i;
            count++;
        }
    }
    return { count, first };
}

/**
 * Throws `ERR_SA_CHECKPOINT_NONFINITE` naming `file` and the first tensor that holds NaN or infinite
 * values: such weights load and run, but every prediction is then silently empty.
 */
export function assertFiniteWeights(record: Float32Record, file: string): void {
    for (const [name, { data }] of Object.entries(record)) {
        const { count, first } = countNonFinite(data);
        if (count > 0) {
            throw new CheckpointError(
                "ERR_SA_CHECKPOINT_NONFINITE",
                file,
                `tensor ${name} holds ${count} non-finite value${count === 1 ? "" : "s"} (NaN or infinity; the first at element ${first}): the weights are corrupt or come from a diverged training`,
            );
        }
    }
}
