import { endianness } from "node:os";
import { promisify } from "node:util";
import { gzip, gzipSync } from "node:zlib";
import { writeFileAtomic } from "@sam-ablate/run-folder";
import { DataError, errorText } from "../errors.js";
import { type DatatypeInfo, datatypeByName, type NiftiDatatype, SUPPORTED_DATATYPES } from "./datatypes.js";
import { encodeHeader } from "./header.js";
import type { NiftiHeader } from "./types.js";

const gzipAsync = promisify(gzip);
const HOST_LITTLE_ENDIAN = endianness() === "LE";

/** A volume to write. `data` holds the stored values (before scl_slope/scl_inter), x fastest. */
export interface NiftiWriteInput {
    /** x, y, z voxel counts, and a 4th for a stack of volumes (channels, x fastest, channel slowest). */
    dims: [number, number, number] | [number, number, number, number];
    data: ArrayLike<number>;
    datatype: NiftiDatatype;
    /** Voxel sizes in mm (default 1, 1, 1). */
    pixdim?: [number, number, number];
    /** Written as scl_slope (default 0: values are not scaled). */
    sclSlope?: number;
    /** Written as scl_inter (default 0). */
    sclInter?: number;
    /** Header description, ASCII, at most 79 characters kept. */
    description?: string;
    /**
     * Voxel-to-world geometry: the qform/sform of another file's header (a mask written on an image's
     * grid keeps the image's affine, codes and units), or rows of a 3x4 affine written as the sform.
     * Default: the canonical orientation (L, P, S) with the voxel sizes, as sform.
     */
    geometry?: NiftiHeader | [number[], number[], number[]];
}

/** Encoding options for NIfTI output. */
export interface NiftiWriteOptions {
    /** Byte order (default little endian). */
    littleEndian?: boolean;
    /** gzip the file (writeNifti defaults to true for names ending in .gz). */
    gzip?: boolean;
    /** zlib level 1-9 when gzipping (default 6). */
    compressionLevel?: number;
}

/**
 * Encodes a single-file NIfTI-1 (header, empty extension flag, voxels at offset 352). Integer
 * datatypes require integer values within range; errors are DataError ERR_SA_NIFTI.
 */
export function encodeNifti(input: NiftiWriteInput, options: NiftiWriteOptions = {}): Uint8Array {
    const raw = encodeRaw(input, options.littleEndian ?? true, "encodeNifti");
    return options.gzip ? gzipSync(raw, { level: compressionLevel(options) }) : raw;
}

/**
 * Writes a NIfTI-1 file atomically (run-folder's writer: temporary sibling, flush, rename). gzip follows the file name (.gz)
 * unless options.gzip says otherwise.
 */
export async function writeNifti(file: string, input: NiftiWriteInput, options: NiftiWriteOptions = {}): Promise<void> {
    const raw = encodeRaw(input, options.littleEndian ?? true, file);
    const compress = options.gzip ?? file.endsWith(".gz");
    const bytes = compress ? await gzipAsync(raw, { level: compressionLevel(options) }) : raw;
    try {
        await writeFileAtomic(file, bytes, { mkdir: false });
    } catch (err) {
        throw new DataError("ERR_SA_NIFTI", `${file}: cannot write (${errorText(err)})`, { cause: err });
    }
}

function compressionLevel(options: NiftiWriteOptions): number {
    const level = options.compressionLevel ?? 6;
    if (!Number.isInteger(level) || level < 1 || level > 9) {
        throw new DataError("ERR_SA_NIFTI", `compressionLevel must be an integer 1-9, got ${level}`);
    }
    return level;
}

function encodeRaw(input: NiftiWriteInput, littleEndian: boolean, source: string): Uint8Array {
    const fail = (msg: string): never => {
        throw new DataError("ERR_SA_NIFTI", `${source}: ${msg}`);
    };
    if (!SUPPORTED_DATATYPES.includes(input.datatype)) fail(`unsupported datatype '${String(input.datatype)}'`);
    const info = datatypeByName(input.datatype);
    const dims = input.dims;
    if (
        !Array.isArray(dims) ||
        (dims.length !== 3 && dims.length !== 4) ||
        dims.some((d) => !Number.isInteger(d) || d <= 0 || d > 32767)
    ) {
        fail(`dims must be three or four integers in 1..32767, got ${JSON.stringify(dims)}`);
    }
    const count = dims.reduce((a, d) => a * d, 1);
    if (input.data.length !== count) fail(`data has ${input.data.length} values, dims ${dims.join("x")} need ${count}`);
    const pixdim = input.pixdim ?? [1, 1, 1];
    if (pixdim.length !== 3 || pixdim.some((p) => !Number.isFinite(p) || p <= 0)) {
        fail(`pixdim must be three positive numbers, got ${JSON.stringify(pixdim)}`);
    }
    const header = encodeHeader({
        dims,
        datatypeCode: info.code,
        bitpix: info.bytes * 8,
        pixdim,
        sclSlope: input.sclSlope ?? 0,
        sclInter: input.sclInter ?? 0,
        descrip: input.description ?? "",
        littleEndian,
        ...(input.geometry ? { geometry: input.geometry } : {}),
    });
    const out = new Uint8Array(header.length + count * info.bytes);
    out.set(header);
    const body = out.subarray(header.length);
    const typed = typedArray(body.buffer, body.byteOffset, count, info);
    for (let i = 0; i < count; i++) {
        const v = input.data[i] as number;
        if (info.integer && (!Number.isInteger(v) || v < info.min || v > info.max)) {
            fail(`value ${v} at voxel ${i} does not fit ${info.name}`);
        }
        if (typeof typed[0] === "bigint") (typed as BigInt64Array)[i] = BigInt(v);
        else (typed as Float64Array)[i] = v;
    }
    if (littleEndian !== HOST_LITTLE_ENDIAN && info.bytes > 1) {
        for (let i = 0; i < body.length; i += info.bytes) body.subarray(i, i + info.bytes).reverse();
    }
    return out;
}

type NumericArray =
    | Int8Array
    | Uint8Array
    | Int16Array
    | Uint16Array
    | Int32Array
    | Uint32Array
    | BigInt64Array
    | BigUint64Array
    | Float32Array
    | Float64Array;

function typedArray(buffer: ArrayBufferLike, offset: number, count: number, info: DatatypeInfo): NumericArray {
    switch (info.name) {
        case "int8":
            return new Int8Array(buffer, offset, count);
        case "uint8":
            return new Uint8Array(buffer, offset, count);
        case "int16":
            return new Int16Array(buffer, offset, count);
        case "uint16":
            return new Uint16Array(buffer, offset, count);
        case "int32":
            return new Int32Array(buffer, offset, count);
        case "uint32":
            return new Uint32Array(buffer, offset, count);
        case "int64":
            return new BigInt64Array(buffer, offset, count);
        case "uint64":
            return new BigUint64Array(buffer, offset, count);
        case "float32":
            return new Float32Array(buffer, offset, count);
        case "float64":
            return new Float64Array(buffer, offset, count);
    }
}
