// A pickle virtual machine that never executes code: it builds plain values, calls only the
// allow-listed globals of globals.ts, and turns persistent ids into storage references.
import { isDType } from "@sam-ablate/tensor";
import { CheckpointError, IN_MEMORY, quoted } from "../errors.js";
import { PickleArgumentError, resolveGlobal } from "./globals.js";
import { OP, opName } from "./opcodes.js";
import { isList, PyGlobal, type PyValue, pyTypeName, StorageRef, TensorRef, tuple } from "./values.js";

/** Options for {@link unpickle}. */
export interface UnpickleOptions {
    /** File name for error messages. */
    file?: string;
    /**
     * Resolves a persistent id (BINPERSID). The default accepts torch's storage ids
     * `('storage', storage_class, key, location, numel)` and returns a {@link StorageRef}.
     */
    persistentLoad?: (pid: PyValue) => PyValue;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
const latin1 = new TextDecoder("latin1");

class Fail extends Error {}

/** The default persistent-id resolver for torch zip archives. */
export function torchPersistentLoad(pid: PyValue): StorageRef {
    if (!Array.isArray(pid) || pid.length < 5 || pid[0] !== "storage") {
        throw new Fail(
            `unsupported persistent id ${pyTypeName(pid)}${Array.isArray(pid) ? ` (${String(pid[0])})` : ""}`,
        );
    }
    const [, cls, key, location, numel] = pid;
    if (!(cls instanceof PyGlobal) || cls.dtype === undefined || !isDType(cls.dtype) || !cls.path.endsWith("Storage")) {
        throw new Fail(`persistent id names ${pyTypeName(cls)}, not a storage class`);
    }
    if (typeof key !== "string" || !/^[A-Za-z0-9_.-]+$/.test(key))
        throw new Fail("storage key must be a simple string");
    if (typeof location !== "string") throw new Fail("storage location must be a string");
    if (typeof numel !== "number" || !Number.isSafeInteger(numel) || numel < 0)
        throw new Fail("storage size must be a non-negative int");
    return new StorageRef(key, cls.dtype, location, numel);
}

/**
 * Runs a pickle stream (protocols 0-5 binary opcodes, plus the simple text ones) and returns the
 * object it builds. Globals outside the allow-list raise `ERR_SA_PICKLE_GLOBAL` naming the global;
 * malformed streams raise `ERR_SA_PICKLE` with the byte offset.
 */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions = {}): PyValue {
    const file = options.file ?? IN_MEMORY;
    const persistentLoad = options.persistentLoad ?? torchPersistentLoad;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const memo = new Map<number, PyValue>();
    const metastack: PyValue[][] = [];
    let stack: PyValue[] = [];
    let pos = 0;
    let opStart = 0;
    let op = 0;

    const need = (n: number): number => {
        if (n < 0 || pos + n > bytes.length)
            throw new Fail("the pickle stream ends in the middle of an opcode (truncated)");
        const at = pos;
        pos += n;
        return at;
    };
    const u8 = () => bytes[need(1)] as number;
    const u16 = () => view.getUint16(need(2), true);
    const u32 = () => view.getUint32(need(4), true);
    const u64 = () => {
        const v = view.getBigUint64(need(8), true);
        if (v > BigInt(bytes.length)) throw new Fail("length field larger than the pickle stream");
        return Number(v);
    };
    const take = (n: number) => bytes.subarray(need(n), pos);
    const line = (): string => {
        const end = bytes.indexOf(0x0a, pos);
        if (end < 0) throw new Fail("unterminated text argument");
        const s = latin1.decode(bytes.subarray(pos, end));
        pos = end + 1;
        return s;
    };
    const str = (n: number): string => {
        const b = take(n);
        try {
            return utf8.decode(b);
        } catch {
            throw new Fail("invalid UTF-8 in a string");
        }
    };
    // `stack` is re-bound by MARK handling, so it is read only after the value to push is computed.
    const push = (v: PyValue): void => {
        stack.push(v);
    };
    const pop = (): PyValue => {
        if (stack.length === 0) throw new Fail("stack underflow");
        return stack.pop() as PyValue;
    };
    const top = (): PyValue => {
        if (stack.length === 0) throw new Fail("stack underflow");
        return stack[stack.length - 1] as PyValue;
    };
    const popMark = (): PyValue[] => {
        const items = stack;
        const prev = metastack.pop();
        if (prev === undefined) throw new Fail("no MARK on the stack");
        stack = prev;
        return items;
    };
    const get = (key: number): PyValue => {
        if (!memo.has(key)) throw new Fail(`memo key ${key} was never stored`);
        return memo.get(key) as PyValue;
    };
    const put = (key: number) => memo.set(key, top());
    const global = (module: string, name: string): PyGlobal => {
        const g = resolveGlobal(module, name);
        if (g === undefined) {
            throw new CheckpointError(
                "ERR_SA_PICKLE_GLOBAL",
                file,
                `the pickle refers to the Python global ${module}.${name}, which is not allowed ` +
                    "(only state dicts of tensors are read, as with torch.load(weights_only=True); nothing is executed)",
            );
        }
        return g;
    };
    const call = (fn: PyValue, args: PyValue): PyValue => {
        if (!(fn instanceof PyGlobal) || fn.call === undefined) throw new Fail(`${pyTypeName(fn)} is not callable`);
        if (!Array.isArray(args)) throw new Fail(`call arguments must be a tuple, got ${pyTypeName(args)}`);
        return fn.call(args);
    };
    const int = (v: bigint): number | bigint =>
        v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
    const long = (b: Uint8Array): number | bigint => {
        if (b.length === 0) return 0;
        let v = 0n;
        for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i] as number);
        if (((b[b.length - 1] as number) & 0x80) !== 0) v -= 1n << BigInt(8 * b.length);
        return int(v);
    };
    const setItems = (dict: PyValue, kv: PyValue[]) => {
        if (!(dict instanceof Map)) throw new Fail(`cannot set items on a ${pyTypeName(dict)}`);
        if (kv.length % 2 !== 0) throw new Fail("odd number of items for SETITEMS");
        for (let i = 0; i < kv.length; i += 2) dict.set(kv[i] as PyValue, kv[i + 1] as PyValue);
    };
    const append = (list: PyValue, values: PyValue[]) => {
        if (!isList(list)) throw new Fail(`cannot append to a ${pyTypeName(list)}`);
        for (const v of values) list.push(v);
    };

    try {
        for (;;) {
            opStart = pos;
            if (pos >= bytes.length) throw new Fail("the pickle stream ends without a STOP opcode (truncated)");
            op = u8();
            switch (op) {
                case OP.PROTO: {
                    const v = u8();
                    if (v > 5) throw new Fail(`unsupported pickle protocol ${v}`);
                    break;
                }
                case OP.FRAME:
                    u64();
                    break;
                case OP.STOP:
                    return pop();
                case OP.MARK:
                    metastack.push(stack);
                    stack = [];
                    break;
                case OP.POP:
                    if (stack.length > 0) stack.pop();
                    else popMark();
                    break;
                case OP.POP_MARK:
                    popMark();
                    break;
                case OP.DUP:
                    push(top());
                    break;

                case OP.NONE:
                    push(null);
                    break;
                case OP.NEWTRUE:
                    push(true);
                    break;
                case OP.NEWFALSE:
                    push(false);
                    break;
                case OP.BININT:
                    push(view.getInt32(need(4), true));
                    break;
                case OP.BININT1:
                    push(u8());
                    break;
                case OP.BININT2:
                    push(u16());
                    break;
                case OP.LONG1:
                    push(long(take(u8())));
                    break;
                case OP.LONG4: {
                    const n = view.getInt32(need(4), true);
                    if (n < 0) throw new Fail("negative LONG4 length");
                    push(long(take(n)));
                    break;
                }
                case OP.INT: {
                    const s = line().trim();
                    if (s === "00" || s === "01") push(s === "01");
                    else if (/^[-+]?\d+$/.test(s)) push(int(BigInt(s)));
                    else throw new Fail(`bad INT literal ${quoted(s)}`);
                    break;
                }
                case OP.LONG: {
                    const s = line().trim().replace(/L$/, "");
                    if (!/^[-+]?\d+$/.test(s)) throw new Fail(`bad LONG literal ${quoted(s)}`);
                    push(int(BigInt(s)));
                    break;
                }
                case OP.BINFLOAT:
                    push(view.getFloat64(need(8), false));
                    break;
                case OP.FLOAT: {
                    const s = line().trim();
                    const v = Number(s);
                    if (s === "" || (Number.isNaN(v) && !/^[-+]?nan$/i.test(s)))
                        throw new Fail(`bad FLOAT literal ${quoted(s)}`);
                    push(v);
                    break;
                }

                case OP.BINUNICODE:
                    push(str(u32()));
                    break;
                case OP.SHORT_BINUNICODE:
                    push(str(u8()));
                    break;
                case OP.BINUNICODE8:
                    push(str(u64()));
                    break;
                case OP.BINSTRING: {
                    const n = view.getInt32(need(4), true);
                    if (n < 0) throw new Fail("negative BINSTRING length");
                    push(latin1.decode(take(n)));
                    break;
                }
                case OP.SHORT_BINSTRING:
                    push(latin1.decode(take(u8())));
                    break;
                case OP.BINBYTES:
                    push(take(u32()).slice());
                    break;
                case OP.SHORT_BINBYTES:
                    push(take(u8()).slice());
                    break;
                case OP.BINBYTES8:
                case OP.BYTEARRAY8:
                    push(take(u64()).slice());
                    break;

                case OP.EMPTY_TUPLE:
                    push(tuple([]));
                    break;
                case OP.TUPLE:
                    push(tuple(popMark()));
                    break;
                case OP.TUPLE1: {
                    const a = pop();
                    push(tuple([a]));
                    break;
                }
                case OP.TUPLE2: {
                    const b = pop();
                    const a = pop();
                    push(tuple([a, b]));
                    break;
                }
                case OP.TUPLE3: {
                    const c = pop();
                    const b = pop();
                    const a = pop();
                    push(tuple([a, b, c]));
                    break;
                }
                case OP.EMPTY_LIST:
                    push([]);
                    break;
                case OP.LIST:
                    push(popMark());
                    break;
                case OP.APPEND: {
                    const v = pop();
                    append(top(), [v]);
                    break;
                }
                case OP.APPENDS: {
                    const vs = popMark();
                    append(top(), vs);
                    break;
                }
                case OP.EMPTY_DICT:
                    push(new Map());
                    break;
                case OP.DICT: {
                    const d = new Map<PyValue, PyValue>();
                    setItems(d, popMark());
                    push(d);
                    break;
                }
                case OP.SETITEM: {
                    const v = pop();
                    const k = pop();
                    setItems(top(), [k, v]);
                    break;
                }
                case OP.SETITEMS: {
                    const kv = popMark();
                    setItems(top(), kv);
                    break;
                }
                case OP.EMPTY_SET:
                    push(new Set());
                    break;
                case OP.ADDITEMS: {
                    const vs = popMark();
                    const s = top();
                    if (!(s instanceof Set)) throw new Fail(`cannot add items to a ${pyTypeName(s)}`);
                    for (const v of vs) s.add(v);
                    break;
                }
                case OP.FROZENSET:
                    push(new Set(popMark()));
                    break;

                case OP.BINGET:
                    push(get(u8()));
                    break;
                case OP.LONG_BINGET:
                    push(get(u32()));
                    break;
                case OP.GET:
                    push(get(Number.parseInt(line(), 10)));
                    break;
                case OP.BINPUT:
                    put(u8());
                    break;
                case OP.LONG_BINPUT:
                    put(u32());
                    break;
                case OP.PUT:
                    put(Number.parseInt(line(), 10));
                    break;
                case OP.MEMOIZE:
                    put(memo.size);
                    break;

                case OP.GLOBAL: {
                    const module = line();
                    const name = line();
                    push(global(module, name));
                    break;
                }
                case OP.STACK_GLOBAL: {
                    const name = pop();
                    const module = pop();
                    if (typeof module !== "string" || typeof name !== "string")
                        throw new Fail("STACK_GLOBAL needs two strings");
                    push(global(module, name));
                    break;
                }
                case OP.INST: {
                    const g = global(line(), line());
                    push(call(g, popMark()));
                    break;
                }
                case OP.OBJ: {
                    const [cls, ...args] = popMark();
                    push(call(cls ?? null, args));
                    break;
                }
                case OP.REDUCE: {
                    const args = pop();
                    const fn = pop();
                    push(call(fn, args));
                    break;
                }
                case OP.NEWOBJ: {
                    const args = pop();
                    const cls = pop();
                    push(call(cls, args));
                    break;
                }
                case OP.NEWOBJ_EX: {
                    const kwargs = pop();
                    const args = pop();
                    const cls = pop();
                    if (!(kwargs instanceof Map) || kwargs.size > 0)
                        throw new Fail("NEWOBJ_EX with keyword arguments is not supported");
                    push(call(cls, args));
                    break;
                }
                case OP.BUILD: {
                    const state = pop();
                    const obj = top();
                    // OrderedDict state (e.g. a state dict's `_metadata`) and tensor state carry nothing
                    // the weights need; anything else would mean running a class's __setstate__.
                    if (!(obj instanceof Map) && !(obj instanceof TensorRef)) {
                        throw new Fail(`BUILD on a ${pyTypeName(obj)} is not supported`);
                    }
                    if (state !== null && !(state instanceof Map) && !Array.isArray(state)) {
                        throw new Fail(`BUILD with a ${pyTypeName(state)} state is not supported`);
                    }
                    break;
                }
                case OP.BINPERSID:
                    push(persistentLoad(pop()));
                    break;
                default:
                    throw new Fail(`unsupported opcode ${opName(op)}`);
            }
        }
    } catch (err) {
        if (err instanceof CheckpointError) throw err;
        if (err instanceof Fail || err instanceof PickleArgumentError) {
            throw new CheckpointError(
                "ERR_SA_PICKLE",
                file,
                `corrupt or unsupported pickle: ${err.message} (opcode ${opName(op)} at byte ${opStart})`,
            );
        }
        throw err;
    }
}
