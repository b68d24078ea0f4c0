import { allocate, type DType, dataMatchesDType, isDType, type TypedArrayOf } from "./dtype.js";
import { TensorError } from "./errors.js";

/**
 * A dense, row-major (C-contiguous) tensor: a dtype, a shape and a typed array holding exactly
 * `numel(shape)` elements. `Tensor` (without a type argument) is a union discriminated by `dtype`,
 * so `if (t.dtype === "float16") t.data` is known to be a `Uint16Array`.
 */
export type Tensor<D extends DType = DType> = D extends DType
    ? { readonly dtype: D; readonly shape: number[]; readonly data: TypedArrayOf<D> }
    : never;

/** A shape pattern for {@link assertShape}: a number fixes a dimension, `null` accepts any size. */
export type ShapePattern = readonly (number | null)[];

/** Number of elements of a shape (1 for the scalar shape `[]`), or of a tensor. */
export function numel(shapeOrTensor: readonly number[] | { readonly shape: readonly number[] }): number {
    const shape = Array.isArray(shapeOrTensor)
        ? (shapeOrTensor as readonly number[])
        : (shapeOrTensor as { readonly shape: readonly number[] }).shape;
    let n = 1;
    for (const d of shape) n *= d;
    return n;
}

/**
 * Validates a shape: every dimension a non-negative safe integer and the element count a safe
 * integer. Throws `ERR_SA_TENSOR_SHAPE` naming `what` otherwise.
 */
export function checkShape(shape: readonly unknown[], what = "shape"): asserts shape is number[] {
    if (!Array.isArray(shape)) throw new TensorError("ERR_SA_TENSOR_SHAPE", `${what} must be an array of integers`);
    let n = 1;
    for (let i = 0; i < shape.length; i++) {
        const d = shape[i];
        if (typeof d !== "number" || !Number.isSafeInteger(d) || d < 0) {
            throw new TensorError(
                "ERR_SA_TENSOR_SHAPE",
                `${what} ${formatShape(shape)}: dimension ${i} is ${String(d)}, expected a non-negative integer`,
            );
        }
        n *= d;
    }
    if (!Number.isSafeInteger(n)) {
        throw new TensorError("ERR_SA_TENSOR_SHAPE", `${what} ${formatShape(shape)} has too many elements`);
    }
}

/** The shape as text, e.g. `[1, 256, 64, 64]`. */
export function formatShape(shape: readonly unknown[]): string {
    return `[${shape.map((d) => (d === null ? "*" : String(d))).join(", ")}]`;
}

/**
 * Creates a tensor. Without `data` the tensor is zero-filled; with `data` the array is used as is
 * (not copied) and must be the typed array of `dtype` with exactly `numel(shape)` elements.
 */
export function tensor<D extends DType>(dtype: D, shape: readonly number[], data?: TypedArrayOf<D>): Tensor<D> {
    if (!isDType(dtype)) throw new TensorError("ERR_SA_TENSOR_DTYPE", `unknown dtype ${JSON.stringify(dtype)}`);
    checkShape(shape);
    const n = numel(shape);
    if (data === undefined) return { dtype, shape: [...shape], data: allocate(dtype, n) } as Tensor<D>;
    if (!dataMatchesDType(dtype, data)) {
        throw new TensorError(
            "ERR_SA_TENSOR_DTYPE",
            `data for a ${dtype} tensor must be a ${allocate(dtype, 0).constructor.name}, got ${describe(data)}`,
        );
    }
    if (data.length !== n) {
        throw new TensorError(
            "ERR_SA_TENSOR_SHAPE",
            `shape ${formatShape(shape)} needs ${n} elements but the ${dtype} data has ${data.length}`,
        );
    }
    return { dtype, shape: [...shape], data } as Tensor<D>;
}

/** A zero-filled tensor. */
export function zeros<D extends DType>(dtype: D, shape: readonly number[]): Tensor<D> {
    return tensor(dtype, shape);
}

/** A float32 tensor from numbers (copied into a new `Float32Array`). */
export function float32(shape: readonly number[], values: ArrayLike<number>): Tensor<"float32"> {
    return tensor("float32", shape, Float32Array.from(values));
}

/** A tensor with the same data viewed under a new shape of the same element count (no copy). */
export function reshape<D extends DType>(t: Tensor<D>, shape: readonly number[]): Tensor<D> {
    checkShape(shape);
    if (numel(shape) !== t.data.length) {
        throw new TensorError(
            "ERR_SA_TENSOR_SHAPE",
            `cannot reshape ${formatShape(t.shape)} (${t.data.length} elements) to ${formatShape(shape)}`,
        );
    }
    return { dtype: t.dtype, shape: [...shape], data: t.data } as Tensor<D>;
}

/** True when both shapes have the same rank and dimensions. */
export function shapesEqual(a: readonly number[], b: readonly number[]): boolean {
    return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** True when `shape` matches `pattern` (`null` entries accept any size). */
export function shapeMatches(shape: readonly number[], pattern: ShapePattern): boolean {
    return shape.length === pattern.length && pattern.every((d, i) => d === null || d === shape[i]);
}

/**
 * Throws `ERR_SA_TENSOR_SHAPE` unless `t.shape` matches `pattern`; the message names the tensor as
 * `name` and shows both shapes.
 */
export function assertShape(t: { readonly shape: readonly number[] }, pattern: ShapePattern, name = "tensor"): void {
    if (!shapeMatches(t.shape, pattern)) {
        throw new TensorError(
            "ERR_SA_TENSOR_SHAPE",
            `${name} has shape ${formatShape(t.shape)}, expected ${formatShape(pattern)}`,
        );
    }
}

/** Throws `ERR_SA_TENSOR_DTYPE` unless `t.dtype` is `dtype`; narrows the tensor's type. */
export function assertDType<D extends DType>(t: Tensor, dtype: D, name = "tensor"): asserts t is Tensor<D> {
    if (t.dtype !== dtype) {
        throw new TensorError("ERR_SA_TENSOR_DTYPE", `${name} has dtype ${t.dtype}, expected ${dtype}`);
    }
}

function describe(value: unknown): string {
    if (value === null) return "null";
    if (typeof value === "object") return (value as object).constructor?.name ?? "object";
    return typeof value;
}
