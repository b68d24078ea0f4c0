// The allow-list of Python globals, mirroring what torch.load(weights_only=True) accepts for state
// dicts. Every other global (os.system, builtins.eval, a model class, ...) is refused: nothing in a
// checkpoint can run code.
import type { DType } from "@sam-ablate/tensor";
import { quoted } from "../errors.js";
import { DTYPE_BY_STORAGE_CLASS, DTYPE_BY_TORCH_NAME } from "./torch-types.js";
import { isList, isTuple, PyGlobal, type PyValue, pyTypeName, StorageRef, TensorRef, tuple } from "./values.js";

/** Thrown by a global's call for bad arguments; the unpickler adds the file and offset. */
export class PickleArgumentError extends Error {}

function fail(message: string): never {
    throw new PickleArgumentError(message);
}

function items(v: PyValue | undefined, what: string): readonly PyValue[] {
    if (Array.isArray(v)) return v;
    if (v instanceof Set) return [...v];
    if (v instanceof Map) return [...v.keys()];
    return fail(`${what}: expected a sequence, got ${pyTypeName(v)}`);
}

function intArg(v: PyValue | undefined, what: string): number {
    if (typeof v === "number" && Number.isSafeInteger(v)) return v;
    if (typeof v === "bigint" && v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) {
        return Number(v);
    }
    if (typeof v === "boolean") return v ? 1 : 0;
    return fail(`${what}: expected an int, got ${pyTypeName(v)}`);
}

function intTuple(v: PyValue | undefined, what: string): number[] {
    if (!Array.isArray(v)) return fail(`${what}: expected a tuple of ints, got ${pyTypeName(v)}`);
    return v.map((d, i) => intArg(d, `${what}[${i}]`));
}

function rebuildTensor(args: readonly PyValue[], fn: string): TensorRef {
    const [storage, offset, size, stride, requiresGrad] = args;
    if (!(storage instanceof StorageRef))
        return fail(`${fn}: argument 0 must be a storage, got ${pyTypeName(storage)}`);
    const shape = intTuple(size, `${fn} size`);
    const strides = intTuple(stride, `${fn} stride`);
    if (strides.length !== shape.length) {
        fail(`${fn}: size has ${shape.length} dimensions but stride has ${strides.length}`);
    }
    return new TensorRef(storage, intArg(offset, `${fn} storage_offset`), shape, strides, requiresGrad === true);
}

function makeDict(args: readonly PyValue[]): Map<PyValue, PyValue> {
    const out = new Map<PyValue, PyValue>();
    const src = args[0];
    if (src === undefined) return out;
    if (src instanceof Map) {
        for (const [k, v] of src) out.set(k, v);
        return out;
    }
    for (const pair of items(src, "OrderedDict")) {
        if (!Array.isArray(pair) || pair.length !== 2) fail("OrderedDict: items must be (key, value) pairs");
        out.set(pair[0] as PyValue, pair[1] as PyValue);
    }
    return out;
}

function makeBytes(args: readonly PyValue[], fn: string): Uint8Array {
    const [src, encoding] = args;
    if (src === undefined) return new Uint8Array(0);
    if (src instanceof Uint8Array) return src.slice();
    if (typeof src === "string") {
        const enc = typeof encoding === "string" ? encoding.toLowerCase() : "";
        if (enc === "latin1" || enc === "latin-1" || enc === "iso-8859-1") {
            const out = new Uint8Array(src.length);
            for (let i = 0; i < src.length; i++) {
                const c = src.charCodeAt(i);
                if (c > 0xff) fail(`${fn}: character U+${c.toString(16)} is not latin-1`);
                out[i] = c;
            }
            return out;
        }
        if (enc === "utf8" || enc === "utf-8") return new TextEncoder().encode(src);
        return fail(`${fn}: unsupported encoding ${quoted(encoding)}`);
    }
    if (isList(src) || isTuple(src)) return Uint8Array.from(src.map((b, i) => intArg(b, `${fn}[${i}]`)));
    return fail(`${fn}: cannot make bytes from ${pyTypeName(src)}`);
}

function build(): Map<string, PyGlobal> {
    const g = new Map<string, PyGlobal>();
    const add = (path: string, call?: (args: readonly PyValue[]) => PyValue, dtype?: DType) =>
        g.set(path, new PyGlobal(path, call, dtype));

    add("collections.OrderedDict", makeDict);
    add("builtins.set", (a) => new Set(a[0] === undefined ? [] : items(a[0], "set")));
    add("builtins.bytearray", (a) => makeBytes(a, "bytearray"));
    add("_codecs.encode", (a) => makeBytes(a, "_codecs.encode"));

    add("torch._utils._rebuild_tensor", (a) => rebuildTensor(a, "_rebuild_tensor"));
    add("torch._utils._rebuild_tensor_v2", (a) => rebuildTensor(a, "_rebuild_tensor_v2"));
    const parameter = (a: readonly PyValue[]) => {
        if (!(a[0] instanceof TensorRef)) return fail(`Parameter: expected a tensor, got ${pyTypeName(a[0])}`);
        return a[0];
    };
    add("torch._utils._rebuild_parameter", parameter);
    add("torch._utils._rebuild_parameter_with_state", parameter);
    add("torch.nn.parameter.Parameter", parameter);
    add("torch.Tensor");
    add("torch._tensor._rebuild_from_type_v2", (a) => {
        const [fn, type, args] = a;
        if (!(fn instanceof PyGlobal) || fn.call === undefined) {
            return fail(`_rebuild_from_type_v2: ${pyTypeName(fn)} is not callable`);
        }
        if (
            !(type instanceof PyGlobal) ||
            (type.path !== "torch.Tensor" && type.path !== "torch.nn.parameter.Parameter")
        ) {
            return fail(`_rebuild_from_type_v2: tensor subclass ${pyTypeName(type)} is not supported`);
        }
        return fn.call(items(args, "_rebuild_from_type_v2 args"));
    });
    add("torch.Size", (a) => tuple([...items(a[0] ?? tuple([]), "torch.Size")]));
    add("torch.device", (a) => {
        const [type, index] = a;
        if (typeof type !== "string") return fail(`torch.device: expected a str, got ${pyTypeName(type)}`);
        return index === undefined || index === null ? type : `${type}:${intArg(index, "torch.device index")}`;
    });

    for (const [cls, dtype] of DTYPE_BY_STORAGE_CLASS) {
        add(`torch.${cls}`, undefined, dtype);
        add(`torch.cuda.${cls}`, undefined, dtype);
    }
    for (const [name, dtype] of DTYPE_BY_TORCH_NAME) add(`torch.${name}`, undefined, dtype);
    return g;
}

let allowed: Map<string, PyGlobal> | undefined;

/** Python 2 module names that pickle protocol 2 maps to their Python 3 names. */
const PY2_MODULES: Readonly<Record<string, string>> = { __builtin__: "builtins", copy_reg: "copyreg" };

/** The allow-listed global for `module.name`, or undefined when it is not allowed. */
export function resolveGlobal(module: string, name: string): PyGlobal | undefined {
    allowed ??= build();
    return allowed.get(`${PY2_MODULES[module] ?? module}.${name}`);
}
