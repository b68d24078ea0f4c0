// The Python values a weights-only unpickler can produce, in JavaScript form.
import type { DType } from "@sam-ablate/tensor";

/**
 * A Python value: `None` -> null, bool, int (number when it is a safe integer, else bigint),
 * float -> number, str -> string, bytes/bytearray -> Uint8Array, list -> array, tuple -> frozen
 * array, dict/OrderedDict -> Map, set/frozenset -> Set, plus the torch-specific objects below.
 */
export type PyValue =
    | null
    | boolean
    | number
    | bigint
    | string
    | Uint8Array
    | PyValue[]
    | readonly PyValue[]
    | Map<PyValue, PyValue>
    | Set<PyValue>
    | PyGlobal
    | StorageRef
    | TensorRef;

/** An allow-listed Python global (a function, class or constant such as `torch.float16`). */
export class PyGlobal {
    constructor(
        /** Dotted path, e.g. `torch._utils._rebuild_tensor_v2`. */
        readonly path: string,
        /** Calls the global with positional arguments (REDUCE, NEWOBJ); absent for constants. */
        readonly call?: (args: readonly PyValue[]) => PyValue,
        /** The element type for storage classes and dtype constants. */
        readonly dtype?: DType,
    ) {}

    toString(): string {
        return this.path;
    }
}

/**
 * A tensor storage named by a persistent id: its bytes are the archive record `data/<key>`,
 * loaded only when the tensors are materialised.
 */
export class StorageRef {
    constructor(
        readonly key: string,
        readonly dtype: DType,
        /** Device the storage was saved from (e.g. `cpu`, `cuda:0`); data are always loaded on the CPU. */
        readonly location: string,
        /** Number of elements, as recorded in the persistent id. */
        readonly numel: number,
    ) {}
}

/** A tensor view of a storage (`torch._utils._rebuild_tensor_v2`), not yet materialised. */
export class TensorRef {
    constructor(
        readonly storage: StorageRef,
        readonly offset: number,
        readonly shape: readonly number[],
        readonly stride: readonly number[],
        readonly requiresGrad: boolean,
    ) {}
}

/** True for a Python tuple (a frozen array). */
export function isTuple(v: PyValue): v is readonly PyValue[] {
    return Array.isArray(v) && Object.isFrozen(v);
}

/** True for a Python list (a mutable array). */
export function isList(v: PyValue): v is PyValue[] {
    return Array.isArray(v) && !Object.isFrozen(v);
}

/** Makes a Python tuple. */
export function tuple(items: PyValue[]): readonly PyValue[] {
    return Object.freeze(items);
}

/** A short description of a value's Python type, for error messages. */
export function pyTypeName(v: PyValue | undefined): string {
    if (v === undefined) return "nothing";
    if (v === null) return "None";
    if (typeof v === "boolean") return "bool";
    if (typeof v === "number") return Number.isInteger(v) ? "int" : "float";
    if (typeof v === "bigint") return "int";
    if (typeof v === "string") return "str";
    if (v instanceof Uint8Array) return "bytes";
    if (Array.isArray(v)) return isTuple(v) ? "tuple" : "list";
    if (v instanceof Map) return "dict";
    if (v instanceof Set) return "set";
    if (v instanceof PyGlobal) return v.path;
    if (v instanceof StorageRef) return "storage";
    return "Tensor";
}
