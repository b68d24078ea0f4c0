import { allocate, type DType, itemSize, type TypedArrayOf, viewOf } from "./dtype.js";
import { TensorError } from "./errors.js";
import { checkShape, formatShape, numel, type Tensor } from "./tensor.js";

/** True on a little-endian host (every platform Node supports in practice). */
export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Reverses the byte order of each `size`-byte element of `bytes`, in place. */
export function byteSwap(bytes: Uint8Array, size: number): void {
    if (size === 1) return;
    for (let i = 0; i < bytes.length; i += size) {
        for (let a = i, b = i + size - 1; a < b; a++, b--) {
            const tmp = bytes[a] as number;
            bytes[a] = bytes[b] as number;
            bytes[b] = tmp;
        }
    }
}

/**
 * Interprets little-endian bytes as elements of `dtype`. With `copy` false the result views the
 * same memory when the bytes are suitably aligned (and the host is little-endian); otherwise, or
 * with `copy` true (the default), the elements are copied into a new array.
 */
export function typedArrayFromBytes<D extends DType>(dtype: D, bytes: Uint8Array, copy = true): TypedArrayOf<D> {
    const size = itemSize(dtype);
    if (bytes.byteLength % size !== 0) {
        throw new TensorError(
            "ERR_SA_TENSOR_SHAPE",
            `${bytes.byteLength} bytes is not a whole number of ${dtype} elements (${size} bytes each)`,
        );
    }
    const n = bytes.byteLength / size;
    if (!copy && HOST_LITTLE_ENDIAN && bytes.byteOffset % size === 0)
        return viewOf(dtype, bytes.buffer, bytes.byteOffset, n);
    const out = allocate(dtype, n);
    const outBytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    outBytes.set(bytes);
    if (!HOST_LITTLE_ENDIAN) byteSwap(outBytes, size);
    return out;
}

/** A tensor from little-endian bytes; see {@link typedArrayFromBytes} for `copy`. */
export function tensorFromBytes<D extends DType>(
    dtype: D,
    shape: readonly number[],
    bytes: Uint8Array,
    copy = true,
): Tensor<D> {
    checkShape(shape);
    const expected = numel(shape) * itemSize(dtype);
    if (bytes.byteLength !== expected) {
        throw new TensorError(
            "ERR_SA_TENSOR_SHAPE",
            `a ${dtype} tensor of shape ${formatShape(shape)} needs ${expected} bytes, got ${bytes.byteLength}`,
        );
    }
    return { dtype, shape: [...shape], data: typedArrayFromBytes(dtype, bytes, copy) } as Tensor<D>;
}

/**
 * The tensor's elements as little-endian bytes. On a little-endian host this views the tensor's
 * memory (no copy); do not modify it unless you mean to modify the tensor.
 */
export function tensorBytes(t: Tensor): Uint8Array {
    const view = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    if (HOST_LITTLE_ENDIAN) return view;
    const copy = view.slice();
    byteSwap(copy, itemSize(t.dtype));
    return copy;
}
