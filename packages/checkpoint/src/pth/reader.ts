// Reading PyTorch checkpoints (torch.save's zip format): the zip's data.pkl is unpickled without
// running code, the state dict is located, and each tensor's storage record is read and viewed.

import { maxDecodeBytes } from "@sam-ablate/errors";
import { byteSwap, itemSize, type Tensor } from "@sam-ablate/tensor";
import { type ByteSource, bytesSource, withFileSource } from "../byte-source.js";
import { CheckpointError, IN_MEMORY, quoted } from "../errors.js";
import { unpickle } from "../pickle/unpickler.js";
import type { StorageRef, TensorRef } from "../pickle/values.js";
import { openZip, readZipEntry, type ZipArchive } from "../zip/reader.js";
import { materialize } from "./materialize.js";
import { collectRefs, locateStateDict, toPlain } from "./state-dict.js";

/** Options for reading a `.pth`. */
export interface PthReadOptions {
    /**
     * Key path of the state dict inside the checkpoint (e.g. `["model"]`). By default it is found:
     * the top level, or under "state_dict", "model", "module", ... (see `STATE_DICT_KEYS`).
     */
    stateDictPath?: readonly string[];
    /** Remove this prefix (e.g. `"module."` from DataParallel training) from the keys that have it. */
    stripPrefix?: string;
    /** Check the CRC-32 of every record (default true). */
    verifyCrc?: boolean;
    /** The most bytes one record or tensor may decode to (default: `SA_MAX_DECODE_MB` MiB, else 2048 MiB). */
    maxBytes?: number;
}

/** The contents of a `.pth`. */
export interface PthCheckpoint {
    /** The state dict, in file order. */
    tensors: Map<string, Tensor>;
    /**
     * Everything at the top level besides the state dict (e.g. `epoch`), as plain values: dicts
     * with string keys become objects, tuples arrays, tensors `Tensor`s.
     */
    extras: Record<string, unknown>;
    /** Key path where the state dict was found (empty: the top level). */
    stateDictPath: string[];
    /** The archive's record prefix, e.g. `archive/`. */
    recordPrefix: string;
}

function findRecordPrefix(zip: ZipArchive, file: string): string {
    const pickles = zip.entries.filter((e) => e.name === "data.pkl" || e.name.endsWith("/data.pkl"));
    if (pickles.length === 0) {
        throw new CheckpointError(
            "ERR_SA_CHECKPOINT_FORMAT",
            file,
            "a zip archive without a data.pkl record: not a PyTorch checkpoint",
        );
    }
    pickles.sort((a, b) => a.name.length - b.name.length);
    const [first, second] = pickles;
    if (second !== undefined && second.name.length === (first as { name: string }).name.length) {
        throw new CheckpointError(
            "ERR_SA_CHECKPOINT_FORMAT",
            file,
            `the archive holds several pickles (${first?.name}, ${second.name}); cannot tell which is the checkpoint`,
        );
    }
    return (first as { name: string }).name.slice(0, -"data.pkl".length);
}

/** Reads a `.pth` from any byte source. */
export async function readPthSource(src: ByteSource, options: PthReadOptions = {}): Promise<PthCheckpoint> {
    const file = src.name;
    const zip = await openZip(src);
    const prefix = findRecordPrefix(zip, file);
    const limit = maxDecodeBytes(options.maxBytes);
    const zipOptions = { verifyCrc: options.verifyCrc ?? true, maxBytes: limit };
    const record = (name: string) => zip.byName.get(prefix + name);

    let bigEndian = false;
    const byteorder = record("byteorder");
    if (byteorder !== undefined) {
        const text = new TextDecoder().decode(await readZipEntry(zip, byteorder, zipOptions)).trim();
        if (text !== "little" && text !== "big") {
            throw new CheckpointError("ERR_SA_CHECKPOINT_FORMAT", file, `unknown byteorder record ${quoted(text)}`);
        }
        bigEndian = text === "big";
    }

    const pkl = await readZipEntry(zip, record("data.pkl") as NonNullable<ReturnType<typeof record>>, zipOptions);
    const root = unpickle(pkl, { file });
    const located = locateStateDict(root, file, options.stateDictPath);

    const refs = new Set<TensorRef | StorageRef>();
    for (const t of located.dict.values()) refs.add(t);
    const extrasRoot = new Map<string, unknown>();
    if (located.path.length > 0 && root instanceof Map) {
        for (const [k, v] of root) {
            if (k === located.path[0]) continue;
            collectRefs(v, refs);
            extrasRoot.set(typeof k === "string" ? k : String(k), v);
        }
    }

    const tensorsByRef = await materialize(
        refs,
        async (st) => {
            const entry = record(`data/${st.key}`);
            if (entry === undefined) {
                throw new CheckpointError(
                    "ERR_SA_CHECKPOINT_FORMAT",
                    file,
                    `the pickle refers to storage record ${prefix}data/${st.key}, which the archive does not hold`,
                );
            }
            const bytes = await readZipEntry(zip, entry, zipOptions);
            if (bigEndian) byteSwap(bytes, itemSize(st.dtype));
            return bytes;
        },
        file,
        limit,
    );

    const tensors = new Map<string, Tensor>();
    for (const [key, ref] of located.dict) {
        let name = key;
        if (options.stripPrefix !== undefined && options.stripPrefix !== "" && name.startsWith(options.stripPrefix)) {
            name = name.slice(options.stripPrefix.length);
        }
        if (tensors.has(name)) {
            throw new CheckpointError(
                "ERR_SA_CHECKPOINT_FORMAT",
                file,
                `stripping ${quoted(options.stripPrefix)} makes two tensors named ${quoted(name)}`,
            );
        }
        tensors.set(name, tensorsByRef.get(ref) as Tensor);
    }
    const extras: Record<string, unknown> = {};
    const memo = new Map<object, unknown>();
    for (const [k, v] of extrasRoot) {
        Object.defineProperty(extras, k, {
            value: toPlain(v as Parameters<typeof toPlain>[0], (r) => tensorsByRef.get(r), memo),
            enumerable: true,
            writable: true,
            configurable: true,
        });
    }
    return { tensors, extras, stateDictPath: located.path, recordPrefix: prefix };
}

/** Reads a `.pth` held in memory; `file` names it in error messages. */
export function readPth(bytes: Uint8Array, options: PthReadOptions & { file?: string } = {}): Promise<PthCheckpoint> {
    return readPthSource(bytesSource(bytes, options.file ?? IN_MEMORY), options);
}

/** Reads a `.pth` file piece by piece (files larger than 2 GiB work). */
export function readPthFile(file: string, options: PthReadOptions = {}): Promise<PthCheckpoint> {
    return withFileSource(file, (src) => readPthSource(src, options));
}
