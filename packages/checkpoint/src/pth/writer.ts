// Writing a state dict as torch.save does (zip format, pickle protocol 2, persistent-id storages),
// using only globals that torch.load(weights_only=True) accepts: collections.OrderedDict,
// torch._utils._rebuild_tensor_v2 and the legacy storage classes (torch.FloatStorage for float32).
import { type Tensor, tensor, tensorBytes } from "@sam-ablate/tensor";
import { writeFileAtomic } from "../atomic-write.js";
import { OP } from "../pickle/opcodes.js";
import { PickleWriter } from "../pickle/pickler.js";
import { STORAGE_CLASS_BY_DTYPE } from "../pickle/torch-types.js";
import { concatChunks, type ZipRecord, zipChunks } from "../zip/writer.js";

/** Options for writing a `.pth`. */
export interface PthWriteOptions {
    /** Folder name every record is stored under (default `archive`, as current PyTorch). */
    recordPrefix?: string;
}

/** A state dict: parameter names to tensors, in the order to write them. */
export type StateDict = ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>;

const BATCH = 1000; // items per SETITEMS, as CPython's pickler batches them

function entriesOf(tensors: StateDict): [string, Tensor][] {
    return tensors instanceof Map ? [...tensors] : Object.entries(tensors as Record<string, Tensor>);
}

/** The pickle (data.pkl) of a state dict whose storages are keyed "0", "1", ... in order. */
export function pickleStateDict(entries: readonly (readonly [string, Tensor])[]): Uint8Array {
    const w = new PickleWriter();
    w.proto(2);
    w.global("collections", "OrderedDict").op(OP.EMPTY_TUPLE).op(OP.REDUCE);
    for (let start = 0; start < entries.length; start += BATCH) {
        const batch = entries.slice(start, start + BATCH);
        if (batch.length > 1) w.op(OP.MARK);
        batch.forEach(([name, t], i) => {
            const key = String(start + i);
            const n = t.data.length;
            w.str(name);
            w.global("torch._utils", "_rebuild_tensor_v2");
            w.op(OP.MARK);
            // Persistent id ('storage', torch.<Type>Storage, key, 'cpu', numel).
            w.op(OP.MARK)
                .str("storage", true)
                .global("torch", STORAGE_CLASS_BY_DTYPE[t.dtype])
                .str(key)
                .str("cpu", true)
                .int(n)
                .op(OP.TUPLE)
                .op(OP.BINPERSID);
            w.int(0); // storage offset
            w.intTuple(t.shape);
            const stride = new Array<number>(t.shape.length);
            let s = 1;
            for (let d = t.shape.length - 1; d >= 0; d--) {
                stride[d] = s;
                s *= t.shape[d] as number;
            }
            w.intTuple(stride);
            w.bool(false); // requires_grad
            w.global("collections", "OrderedDict").op(OP.EMPTY_TUPLE).op(OP.REDUCE); // backward hooks
            w.op(OP.TUPLE).op(OP.REDUCE);
        });
        w.op(batch.length > 1 ? OP.SETITEMS : OP.SETITEM);
    }
    w.op(OP.STOP);
    return w.bytes();
}

/**
 * The `.pth` archive as chunks to write in order: `<prefix>/data.pkl`, `byteorder` ("little"),
 * `data/<i>` (each tensor's bytes, 64-byte aligned) and `version` ("3").
 */
export function pthChunks(tensors: StateDict, options: PthWriteOptions = {}): Uint8Array[] {
    const prefix = options.recordPrefix ?? "archive";
    if (prefix === "" || /[/\\]/.test(prefix)) {
        throw new RangeError(`record prefix must be a single folder name, got ${JSON.stringify(prefix)}`);
    }
    const entries = entriesOf(tensors).map(([name, t]) => [name, tensor(t.dtype, t.shape, t.data)] as const);
    const records: ZipRecord[] = [
        { name: `${prefix}/data.pkl`, data: pickleStateDict(entries) },
        { name: `${prefix}/byteorder`, data: new TextEncoder().encode("little") },
    ];
    for (const [i, [, t]] of entries.entries()) records.push({ name: `${prefix}/data/${i}`, data: tensorBytes(t) });
    records.push({ name: `${prefix}/version`, data: new TextEncoder().encode("3\n") });
    return zipChunks(records, { align: 64 });
}

/** The `.pth` as one array (see {@link pthChunks}). */
export function writePth(tensors: StateDict, options: PthWriteOptions = {}): Uint8Array {
    return concatChunks(pthChunks(tensors, options));
}

/** Writes a `.pth` file atomically (temporary file + rename). */
export async function writePthFile(file: string, tensors: StateDict, options: PthWriteOptions = {}): Promise<void> {
    await writeFileAtomic(file, pthChunks(tensors, options));
}
