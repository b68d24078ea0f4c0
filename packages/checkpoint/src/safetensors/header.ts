// The safetensors header: an 8-byte little-endian length, then that many bytes of JSON mapping
// tensor names to {dtype, shape, data_offsets} (offsets relative to the data section), plus an
// optional "__metadata__" object of strings. Validation follows the reference implementation.
import { type DType, itemSize } from "@sam-ablate/tensor";
import { CheckpointError, quoted } from "../errors.js";

/** Largest header accepted (as the reference implementation: 100 MB). */
export const MAX_HEADER_BYTES = 100_000_000;

/** safetensors dtype codes -> tensor dtypes. */
export const SAFETENSORS_DTYPES: Readonly<Record<string, DType>> = {
    F64: "float64",
    F32: "float32",
    F16: "float16",
    BF16: "bfloat16",
    I64: "int64",
    I32: "int32",
    I16: "int16",
    I8: "int8",
    U8: "uint8",
    BOOL: "bool",
};

/** Tensor dtypes -> safetensors dtype codes. */
export const SAFETENSORS_CODES: Readonly<Record<DType, string>> = Object.fromEntries(
    Object.entries(SAFETENSORS_DTYPES).map(([code, dtype]) => [dtype, code]),
) as Record<DType, string>;

/** One tensor described by the header. */
export interface SafetensorsEntry {
    name: string;
    dtype: DType;
    shape: number[];
    /** Byte range in the data section: [begin, end). */
    begin: number;
    end: number;
}

/** A parsed and validated header. */
export interface SafetensorsHeader {
    /** Entries in data order. */
    entries: SafetensorsEntry[];
    metadata: Record<string, string>;
    /** Absolute offset of the data section (8 + header length). */
    dataOffset: number;
}

function bad(file: string, message: string): CheckpointError {
    return new CheckpointError("ERR_SA_SAFETENSORS", file, message);
}

/** Reads the header length from the first 8 bytes and checks it against the file size. */
export function headerLength(first8: Uint8Array, fileSize: number, file: string): number {
    if (fileSize < 8)
        throw new CheckpointError(
            "ERR_SA_CHECKPOINT_TRUNCATED",
            file,
            `a safetensors file needs at least 8 bytes, got ${fileSize}`,
        );
    const n = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
    if (n > BigInt(MAX_HEADER_BYTES)) throw bad(file, `header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
    const len = Number(n);
    if (8 + len > fileSize) {
        throw new CheckpointError(
            "ERR_SA_CHECKPOINT_TRUNCATED",
            file,
            `the safetensors header says ${len} bytes but the file has only ${fileSize - 8} after the length (truncated?)`,
        );
    }
    return len;
}

/**
 * Parses the JSON header and validates it against the data section's length: known dtypes,
 * integer shapes, offsets in range, contiguous from 0 with no gap or overlap, each range the exact
 * size of its tensor, and the last ending exactly at the end of the data.
 */
export function parseHeader(json: Uint8Array, dataLength: number, file: string): SafetensorsHeader {
    if (json.length === 0 || json[0] !== 0x7b) throw bad(file, "the header does not start with '{'");
    let parsed: unknown;
    try {
        parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(json));
    } catch (err) {
        throw new CheckpointError(
            "ERR_SA_SAFETENSORS",
            file,
            `the header is not valid UTF-8 JSON (${(err as Error).message})`,
            { cause: err },
        );
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed))
        throw bad(file, "the header is not a JSON object");
    const metadata: Record<string, string> = {};
    const entries: SafetensorsEntry[] = [];
    for (const [name, info] of Object.entries(parsed as Record<string, unknown>)) {
        if (name === "__metadata__") {
            if (info === null || typeof info !== "object" || Array.isArray(info))
                throw bad(file, "__metadata__ must be an object of strings");
            for (const [k, v] of Object.entries(info as Record<string, unknown>)) {
                if (typeof v !== "string") throw bad(file, `__metadata__.${k} must be a string`);
                Object.defineProperty(metadata, k, { value: v, enumerable: true, writable: true, configurable: true });
            }
            continue;
        }
        if (info === null || typeof info !== "object")
            throw bad(file, `tensor ${quoted(name)}: entry is not an object`);
        const { dtype: code, shape, data_offsets: offsets } = info as Record<string, unknown>;
        if (typeof code !== "string") throw bad(file, `tensor ${quoted(name)}: missing dtype`);
        const dtype = Object.hasOwn(SAFETENSORS_DTYPES, code) ? SAFETENSORS_DTYPES[code] : undefined;
        if (dtype === undefined) throw bad(file, `tensor ${quoted(name)}: dtype ${code} is not supported`);
        if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
            throw bad(file, `tensor ${quoted(name)}: shape must be an array of non-negative integers`);
        }
        if (
            !Array.isArray(offsets) ||
            offsets.length !== 2 ||
            !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
            offsets[0] > offsets[1]
        ) {
            throw bad(file, `tensor ${quoted(name)}: data_offsets must be [begin, end] with 0 <= begin <= end`);
        }
        const [begin, end] = offsets as [number, number];
        const need = (shape as number[]).reduce((a, d) => a * d, 1) * itemSize(dtype);
        if (end - begin !== need) {
            throw bad(
                file,
                `tensor ${quoted(name)}: ${code} [${shape.join(", ")}] needs ${need} bytes but data_offsets span ${end - begin}`,
            );
        }
        entries.push({ name, dtype, shape: shape as number[], begin, end });
    }
    entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
    let at = 0;
    for (const e of entries) {
        if (e.begin !== at) {
            throw bad(
                file,
                e.begin < at
                    ? `tensor ${quoted(e.name)} overlaps the previous tensor (begins at ${e.begin}, previous ends at ${at})`
                    : `gap in the data before tensor ${quoted(e.name)} (bytes ${at}..${e.begin} belong to no tensor)`,
            );
        }
        at = e.end;
    }
    if (at > dataLength) {
        throw new CheckpointError(
            "ERR_SA_CHECKPOINT_TRUNCATED",
            file,
            `the header describes ${at} bytes of tensor data but the file holds ${dataLength} (truncated?)`,
        );
    }
    if (at < dataLength) throw bad(file, `${dataLength - at} bytes after the last tensor belong to no tensor`);
    return { entries, metadata, dataOffset: 8 + json.length };
}
