// Turning storage references into tensors: each storage record is read once, viewed as its dtype,
// and every tensor copies out its (possibly strided, offset) view. A tensor that is the only,
// whole, contiguous user of its storage takes the storage's array without a copy.

import { megabytes } from "@sam-ablate/errors";
import { allocate, itemSize, type Tensor, type TensorData, typedArrayFromBytes } from "@sam-ablate/tensor";
import { CheckpointError } from "../errors.js";
import { type StorageRef, TensorRef } from "../pickle/values.js";

/** Reads the raw bytes of storage `key` (the `data/<key>` record). */
export type StorageLoader = (storage: StorageRef) => Promise<Uint8Array>;

function contiguousStrides(shape: readonly number[]): number[] {
    const strides = new Array<number>(shape.length);
    let s = 1;
    for (let i = shape.length - 1; i >= 0; i--) {
        strides[i] = s;
        s *= shape[i] as number;
    }
    return strides;
}

function isContiguous(shape: readonly number[], stride: readonly number[]): boolean {
    const expected = contiguousStrides(shape);
    return shape.every((d, i) => d <= 1 || stride[i] === expected[i]);
}

/** Copies a strided view out of `src` into a new contiguous array. */
function gather(src: TensorData, ref: TensorRef, n: number): TensorData {
    const out = allocate(ref.storage.dtype, n) as TensorData;
    const { shape, stride } = ref;
    const rank = shape.length;
    const idx = new Array<number>(rank).fill(0);
    const s = src as unknown as { [i: number]: number | bigint };
    const o = out as unknown as { [i: number]: number | bigint };
    let at = ref.offset;
    for (let i = 0; i < n; i++) {
        o[i] = s[at] as number | bigint;
        for (let d = rank - 1; d >= 0; d--) {
            const next = (idx[d] as number) + 1;
            if (next < (shape[d] as number)) {
                idx[d] = next;
                at += stride[d] as number;
                break;
            }
            idx[d] = 0;
            at -= (next - 1) * (stride[d] as number);
        }
    }
    return out;
}

/**
 * Materialises every reference in `refs` (tensors and bare storages). Storages are loaded in the
 * order the references need them and released as soon as their last user is built.
 */
export async function materialize(
    refs: Iterable<TensorRef | StorageRef>,
    load: StorageLoader,
    file: string,
    limit: number,
): Promise<Map<TensorRef | StorageRef, Tensor>> {
    const list = [...refs];
    const users = new Map<string, number>();
    const dtypes = new Map<string, StorageRef>();
    for (const r of list) {
        const st = r instanceof TensorRef ? r.storage : r;
        users.set(st.key, (users.get(st.key) ?? 0) + 1);
        const prev = dtypes.get(st.key);
        if (prev !== undefined && prev.dtype !== st.dtype) {
            throw new CheckpointError(
                "ERR_SA_CHECKPOINT_FORMAT",
                file,
                `storage ${st.key} is used as both ${prev.dtype} and ${st.dtype}`,
            );
        }
        dtypes.set(st.key, st);
    }
    const cache = new Map<string, TensorData>();
    const out = new Map<TensorRef | StorageRef, Tensor>();
    for (const r of list) {
        const st = r instanceof TensorRef ? r.storage : r;
        let data = cache.get(st.key);
        if (data === undefined) {
            const bytes = await load(st);
            const need = st.numel * itemSize(st.dtype);
            if (bytes.byteLength < need) {
                throw new CheckpointError(
                    "ERR_SA_CHECKPOINT_FORMAT",
                    file,
                    `storage data/${st.key} has ${bytes.byteLength} bytes, its ${st.dtype} storage of ${st.numel} elements needs ${need}`,
                );
            }
            data = typedArrayFromBytes(st.dtype, bytes.subarray(0, need), false) as TensorData;
            cache.set(st.key, data);
        }
        const remaining = (users.get(st.key) as number) - 1;
        users.set(st.key, remaining);
        if (remaining === 0) cache.delete(st.key);
        if (!(r instanceof TensorRef)) {
            out.set(r, {
                dtype: st.dtype,
                shape: [data.length],
                data: remaining === 0 ? data : data.slice(),
            } as Tensor);
            continue;
        }
        const n = r.shape.reduce((a, b) => a * b, 1);
        if (r.shape.some((d) => d < 0) || r.stride.some((s) => s < 0) || r.offset < 0) {
            throw new CheckpointError(
                "ERR_SA_CHECKPOINT_FORMAT",
                file,
                `tensor on storage ${st.key} has a negative size, stride or offset`,
            );
        }
        if (n > 0) {
            const last = r.offset + r.shape.reduce((a, d, i) => a + (d - 1) * (r.stride[i] as number), 0);
            if (last >= data.length) {
                throw new CheckpointError(
                    "ERR_SA_CHECKPOINT_FORMAT",
                    file,
                    `tensor of shape [${r.shape.join(", ")}] at offset ${r.offset} reaches element ${last} of storage ${st.key}, which has ${data.length}`,
                );
            }
        }
        // A view with more elements than its storage repeats elements (stride 0 or overlapping
        // strides): copying it out could allocate far more than the file holds, so it is refused.
        if (n > data.length) {
            throw new CheckpointError(
                "ERR_SA_CHECKPOINT_FORMAT",
                file,
                `tensor of shape [${r.shape.join(", ")}] (strides [${r.stride.join(", ")}]) has ${n} elements, more than the ${data.length} of its storage ${st.key} (stride-0 or overlapping views are not supported)`,
            );
        }
        if (n * itemSize(st.dtype) > limit) {
            throw new CheckpointError(
                "ERR_SA_CHECKPOINT_LIMIT",
                file,
                `tensor of shape [${r.shape.join(", ")}] on storage ${st.key} needs ${megabytes(n * itemSize(st.dtype))}, more than the ${megabytes(limit)} limit (SA_MAX_DECODE_MB)`,
            );
        }
        let tdata: TensorData;
        if (n === 0) tdata = allocate(st.dtype, 0) as TensorData;
        else if (isContiguous(r.shape, r.stride)) {
            const whole = r.offset === 0 && n === data.length;
            tdata = whole && remaining === 0 ? data : data.slice(r.offset, r.offset + n);
        } else tdata = gather(data, r, n);
        out.set(r, { dtype: st.dtype, shape: [...r.shape], data: tdata } as Tensor);
    }
    return out;
}
