import { readFile } from "node:fs/promises";
import { endianness } from "node:os";
import { promisify } from "node:util";
import { gunzip, gunzipSync } from "node:zlib";
import { DataError, errorText } from "../errors.js";
import { type DatatypeInfo, datatypeByCode, describeDatatypeCode, SUPPORTED_DATATYPES } from "./datatypes.js";
import { NIFTI1_DEFAULT_VOX_OFFSET, NIFTI1_HEADER_BYTES, parseHeader } from "./header.js";
import type { NiftiHeader, NiftiVolume } from "./types.js";

const gunzipAsync = promisify(gunzip);
const HOST_LITTLE_ENDIAN = endianness() === "LE";

/** True when the bytes start with the gzip magic number (1f 8b). */
export function isGzip(bytes: Uint8Array): boolean {
    return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Reads a NIfTI-1 volume from `.nii` or `.nii.gz` (gzip is detected from the content, not the
 * name). Errors are DataError with code ERR_SA_NIFTI naming the file and the problem.
 */
export async function readNifti(file: string): Promise<NiftiVolume> {
    let bytes: Uint8Array;
    try {
        bytes = await readFile(file);
    } catch (err) {
        const why =
            (err as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : `cannot read (${errorText(err)})`;
        throw new DataError("ERR_SA_NIFTI", `${file}: ${why}`, { cause: err });
    }
    if (isGzip(bytes)) {
        try {
            bytes = await gunzipAsync(bytes);
        } catch (err) {
            throw new DataError("ERR_SA_NIFTI", `${file}: gzip stream is corrupt or truncated (${errorText(err)})`, {
                cause: err,
            });
        }
    }
    return parseNifti(bytes, file);
}

/**
 * Parses NIfTI-1 bytes (gzip-compressed or not). `source` names the data in error messages.
 * Accepts 3-D volumes, 2-D images (z = 1) and 4-D volumes with one time point.
 */
export function parseNifti(input: Uint8Array, source = "<buffer>"): NiftiVolume {
    let bytes = input;
    if (isGzip(bytes)) {
        try {
            bytes = gunzipSync(bytes);
        } catch (err) {
            throw new DataError("ERR_SA_NIFTI", `${source}: gzip stream is corrupt or truncated (${errorText(err)})`, {
                cause: err,
            });
        }
    }
    const header = parseHeader(bytes, source);
    const fail = (msg: string): never => {
        throw new DataError("ERR_SA_NIFTI", `${source}: ${msg}`);
    };
    if (header.magic === "ni1")
        fail("header/image pairs (.hdr + .img) are not supported; convert to a single .nii file");
    if (header.magic !== "n+1") fail(`bad magic '${header.magic}' (expected 'n+1'); not a single-file NIfTI-1`);

    const dims = volumeDims(header, fail);
    const type = datatypeByCode(header.datatypeCode);
    if (!type) {
        fail(
            `unsupported datatype ${describeDatatypeCode(header.datatypeCode)}; supported: ${SUPPORTED_DATATYPES.join(", ")}`,
        );
    }
    const info = type as DatatypeInfo;
    let offset = header.voxOffset;
    if (offset === 0) offset = NIFTI1_DEFAULT_VOX_OFFSET;
    if (!Number.isInteger(offset) || offset < NIFTI1_HEADER_BYTES) {
        fail(`invalid vox_offset ${offset} (must be an integer >= ${NIFTI1_HEADER_BYTES})`);
    }
    const count = dims[0] * dims[1] * dims[2];
    const needed = count * info.bytes;
    const available = bytes.length - offset;
    if (available < needed) {
        fail(
            `truncated voxel data: ${dims.join("x")} ${info.name} needs ${needed} bytes at offset ${offset}, the file holds ${Math.max(0, available)}`,
        );
    }
    const data = decodeVoxels(bytes, offset, count, info, header);
    const pixdim = [1, 2, 3].map((i) => {
        const v = Math.abs(header.pixdim[i] as number);
        return Number.isFinite(v) && v > 0 ? v : 1;
    }) as [number, number, number];
    return { dims, pixdim, data, datatype: info.name, header };
}

function volumeDims(header: NiftiHeader, fail: (msg: string) => never): [number, number, number] {
    const dim = header.dim;
    const rank = dim[0] as number;
    if (rank < 1 || rank > 7) fail(`dim[0] = ${rank} (expected 1 to 7)`);
    for (let i = 1; i <= rank; i++) {
        if ((dim[i] as number) <= 0) fail(`dim[${i}] = ${dim[i]}; every dimension must be positive`);
    }
    for (let i = 4; i <= rank; i++) {
        if (dim[i] !== 1) {
            const what = i === 4 ? `${dim[i]} time points` : `size ${dim[i]}`;
            fail(`${rank}-D data with dim[${i}] = ${dim[i]} (${what}) is not supported; expected a 3-D volume`);
        }
    }
    return [dim[1] as number, rank >= 2 ? (dim[2] as number) : 1, rank >= 3 ? (dim[3] as number) : 1];
}

/**
 * Copies the voxel bytes into an aligned buffer in host byte order and converts them to float32,
 * applying value = stored * scl_slope + scl_inter in double precision unless scl_slope is 0 or not
 * finite (nifti1.h: no scaling).
 */
function decodeVoxels(
    bytes: Uint8Array,
    offset: number,
    count: number,
    info: DatatypeInfo,
    header: NiftiHeader,
): Float32Array {
    const raw = new Uint8Array(count * info.bytes);
    raw.set(bytes.subarray(offset, offset + raw.length));
    if (header.littleEndian !== HOST_LITTLE_ENDIAN && info.bytes > 1) swapBytes(raw, info.bytes);
    const stored = typedView(raw.buffer, info);
    const out = new Float32Array(count);
    const slope = header.sclSlope;
    const inter = Number.isFinite(header.sclInter) ? header.sclInter : 0;
    if (slope === 0 || !Number.isFinite(slope) || (slope === 1 && inter === 0)) {
        out.set(stored);
    } else {
        for (let i = 0; i < count; i++) out[i] = (stored[i] as number) * slope + inter;
    }
    return out;
}

function swapBytes(raw: Uint8Array, size: number): void {
    for (let i = 0; i < raw.length; i += size) {
        for (let a = i, b = i + size - 1; a < b; a++, b--) {
            const t = raw[a] as number;
            raw[a] = raw[b] as number;
            raw[b] = t;
        }
    }
}

function typedView(buffer: ArrayBufferLike, info: DatatypeInfo): ArrayLike<number> {
    switch (info.name) {
        case "int8":
            return new Int8Array(buffer);
        case "uint8":
            return new Uint8Array(buffer);
        case "int16":
            return new Int16Array(buffer);
        case "uint16":
            return new Uint16Array(buffer);
        case "int32":
            return new Int32Array(buffer);
        case "uint32":
            return new Uint32Array(buffer);
        case "float32":
            return new Float32Array(buffer);
        case "float64":
            return new Float64Array(buffer);
    }
}
