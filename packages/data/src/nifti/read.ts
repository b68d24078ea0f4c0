import { createReadStream } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { endianness } from "node:os";
import { createGunzip, gunzipSync, constants as zlibConstants } from "node:zlib";
import { maxDecodeBytes, megabytes } from "@sam-ablate/errors";
import { DataError, errorText } from "../errors.js";
import { type DatatypeInfo, datatypeByCode, describeDatatypeCode, SUPPORTED_DATATYPES } from "./datatypes.js";
import { NIFTI1_DEFAULT_VOX_OFFSET, NIFTI1_HEADER_BYTES, parseHeader } from "./header.js";
import type { NiftiHeader, NiftiVolume } from "./types.js";

const HOST_LITTLE_ENDIAN = endianness() === "LE";

/** Options of the NIfTI readers. */
export interface NiftiReadOptions {
    /**
     * The most bytes a file may decode to (header + voxel data, and the float32 volume); a header
     * that declares more is refused before anything is inflated or allocated. Default:
     * `SA_MAX_DECODE_MB` MiB, else 2048 MiB.
     */
    maxBytes?: number;
}

/** True when the bytes start with the gzip magic number (1f 8b). */
export function isGzip(bytes: Uint8Array): boolean {
    return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Where the voxels of a checked header are and how many bytes the file must hold for them. */
interface VoxelLayout {
    header: NiftiHeader;
    dims: [number, number, number];
    channels: number;
    info: DatatypeInfo;
    offset: number;
    count: number;
    /** vox_offset + voxel bytes: all a reader needs from the (inflated) file. */
    end: number;
}

/**
 * Reads a NIfTI-1 volume from `.nii` or `.nii.gz` (gzip is detected from the content, not the
 * name). The header is read (inflated) first; then exactly the bytes it declares are read, within
 * the decode limit, and nothing past them is inflated. Errors are DataError with code ERR_SA_NIFTI
 * naming the file and the problem.
 */
export async function readNifti(file: string, options: NiftiReadOptions = {}): Promise<NiftiVolume> {
    const limit = maxDecodeBytes(options.maxBytes);
    let handle: FileHandle | undefined;
    let magic: Uint8Array;
    let size: number;
    try {
        handle = await open(file, "r");
        const st = await handle.stat();
        if (st.isDirectory()) throw Object.assign(new Error("is a directory"), { code: "EISDIR" });
        size = st.size;
        magic = new Uint8Array(Math.min(size, NIFTI1_HEADER_BYTES));
        await handle.read(magic, 0, magic.length, 0);
    } catch (err) {
        await handle?.close().catch(() => undefined);
        const code = (err as NodeJS.ErrnoException).code;
        const why =
            code === "ENOENT"
                ? "file not found"
                : code === "EISDIR"
                  ? "is a directory, not a NIfTI file"
                  : `cannot read (${errorText(err)})`;
        throw new DataError("ERR_SA_NIFTI", `${file}: ${why}`, { cause: err });
    }
    try {
        if (!isGzip(magic)) {
            const layout = voxelLayout(parseHeader(magic, file), file, limit);
            const bytes = new Uint8Array(Math.min(layout.end, size));
            await handle.read(bytes, 0, bytes.length, 0);
            return buildVolume(bytes, layout, file);
        }
    } catch (err) {
        if (err instanceof DataError) throw err;
        throw new DataError("ERR_SA_NIFTI", `${file}: cannot read (${errorText(err)})`, { cause: err });
    } finally {
        await handle.close().catch(() => undefined);
    }
    return readGzipNifti(file, limit);
}

/**
 * Streams a gzip file through inflate: the header first, then only the bytes it declares. Memory
 * grows with the bytes actually inflated, so a short stream under a large header costs little.
 */
async function readGzipNifti(file: string, limit: number): Promise<NiftiVolume> {
    const input = createReadStream(file);
    const gunzip = createGunzip();
    input.on("error", (err) => gunzip.destroy(err));
    input.pipe(gunzip);
    const chunks: Buffer[] = [];
    let filled = 0;
    let layout: VoxelLayout | undefined;
    try {
        for await (const chunk of gunzip as AsyncIterable<Buffer>) {
            const room = layout === undefined ? chunk.length : layout.end - filled;
            chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
            filled += Math.min(chunk.length, room);
            if (layout === undefined && filled >= NIFTI1_HEADER_BYTES) {
                const head = Buffer.concat(chunks, filled);
                layout = voxelLayout(parseHeader(head, file), file, limit);
                chunks.length = 0;
                chunks.push(head.subarray(0, Math.min(head.length, layout.end)));
                filled = Math.min(filled, layout.end);
            }
            if (layout !== undefined && filled >= layout.end) break;
        }
    } catch (err) {
        if (err instanceof DataError) throw err;
        throw new DataError("ERR_SA_NIFTI", `${file}: gzip stream is corrupt or truncated (${errorText(err)})`, {
            cause: err,
        });
    } finally {
        input.destroy();
        gunzip.destroy();
    }
    return buildVolume(Buffer.concat(chunks, filled), layout, file, limit);
}

/**
 * Parses NIfTI-1 bytes (gzip-compressed or not). `source` names the data in error messages.
 * Accepts 3-D volumes, 2-D images (z = 1) and 4-D volumes with one time point. A gzip stream is
 * inflated in two bounded steps: a prefix for the header, then the whole stream with its output
 * capped at what the header declares (a stream that inflates past that is refused).
 */
export function parseNifti(input: Uint8Array, source = "<buffer>", options: NiftiReadOptions = {}): NiftiVolume {
    const limit = maxDecodeBytes(options.maxBytes);
    if (!isGzip(input)) return buildVolume(input, undefined, source, limit);
    const corrupt = (err: unknown): never => {
        throw new DataError("ERR_SA_NIFTI", `${source}: gzip stream is corrupt or truncated (${errorText(err)})`, {
            cause: err,
        });
    };
    // A prefix of P compressed bytes inflates to at most ~1032 P bytes: grow it until the header is out.
    let head: Uint8Array = new Uint8Array(0);
    for (let p = 1024; head.length < NIFTI1_HEADER_BYTES; p *= 8) {
        const prefix = input.subarray(0, Math.min(p, input.length));
        try {
            head = gunzipSync(prefix, { finishFlush: zlibConstants.Z_SYNC_FLUSH });
        } catch (err) {
            corrupt(err);
        }
        if (prefix.length === input.length) break;
    }
    const layout = voxelLayout(parseHeader(head, source), source, limit);
    let bytes: Uint8Array = new Uint8Array(0);
    try {
        bytes = gunzipSync(input, { maxOutputLength: Math.max(layout.end, 1) });
    } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") {
            throw new DataError(
                "ERR_SA_NIFTI",
                `${source}: the gzip stream inflates past the ${layout.end} bytes its header declares (vox_offset + voxel data)`,
                { cause: err },
            );
        }
        corrupt(err);
    }
    return buildVolume(bytes, layout, source);
}

/** Checks the header's magic, dimensions, datatype, offset and declared size (against the limit). */
function voxelLayout(header: NiftiHeader, source: string, limit: number): VoxelLayout {
    const fail = (msg: string): never => {
        throw new DataError("ERR_SA_NIFTI", `${source}: ${msg}`);
    };
    if (header.magic === "ni1")
        fail("header/image pairs (.hdr + .img) are not supported; convert to a single .nii file");
    if (header.magic !== "n+1") fail(`bad magic '${header.magic}' (expected 'n+1'); not a single-file NIfTI-1`);

    const [dims, channels] = volumeDims(header, fail);
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
    const count = dims[0] * dims[1] * dims[2] * channels;
    const end = offset + count * info.bytes;
    const decoded = Math.max(end, count * 4);
    if (decoded > limit) {
        fail(
            `the header declares ${[...dims, ...(channels > 1 ? [channels] : [])].join("x")} ${info.name} at offset ${offset} (${megabytes(decoded)} decoded), more than the ${megabytes(limit)} limit (SA_MAX_DECODE_MB)`,
        );
    }
    return { header, dims, channels, info, offset, count, end };
}

/** Builds the volume from the (inflated) bytes; `layout` when the header was already checked. */
function buildVolume(
    bytes: Uint8Array,
    checked: VoxelLayout | undefined,
    source: string,
    limit = maxDecodeBytes(),
): NiftiVolume {
    const layout = checked ?? voxelLayout(parseHeader(bytes, source), source, limit);
    const { header, dims, channels, info, offset, count } = layout;
    const needed = count * info.bytes;
    const available = bytes.length - offset;
    if (available < needed) {
        throw new DataError(
            "ERR_SA_NIFTI",
            `${source}: truncated voxel data: ${dims.join("x")} ${info.name} needs ${needed} bytes at offset ${offset}, the file holds ${Math.max(0, available)}`,
        );
    }
    const data = decodeVoxels(bytes, offset, count, info, header);
    const pixdim = [1, 2, 3].map((i) => {
        const v = Math.abs(header.pixdim[i] as number);
        return Number.isFinite(v) && v > 0 ? v : 1;
    }) as [number, number, number];
    return { dims, channels, pixdim, data, datatype: info.name, header };
}

function volumeDims(header: NiftiHeader, fail: (msg: string) => never): [[number, number, number], number] {
    const dim = header.dim;
    const rank = dim[0] as number;
    if (rank < 1 || rank > 7) fail(`dim[0] = ${rank} (expected 1 to 7)`);
    for (let i = 1; i <= rank; i++) {
        if ((dim[i] as number) <= 0) fail(`dim[${i}] = ${dim[i]}; every dimension must be positive`);
    }
    for (let i = 5; i <= rank; i++) {
        if (dim[i] !== 1) {
            fail(
                `${rank}-D data with dim[${i}] = ${dim[i]} is not supported; expected a 3-D volume or a 4-D stack of them`,
            );
        }
    }
    const channels = rank >= 4 ? (dim[4] as number) : 1;
    return [[dim[1] as number, rank >= 2 ? (dim[2] as number) : 1, rank >= 3 ? (dim[3] as number) : 1], channels];
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
    const swap = header.littleEndian !== HOST_LITTLE_ENDIAN && info.bytes > 1;
    const at = bytes.byteOffset + offset;
    let stored: ArrayLike<number>;
    if (!swap && at % info.bytes === 0) {
        // Aligned and in host order: read in place (no second copy of a large volume).
        stored = typedView(bytes.buffer, info, at, count);
    } else {
        const raw = new Uint8Array(count * info.bytes);
        raw.set(bytes.subarray(offset, offset + raw.length));
        if (swap) swapBytes(raw, info.bytes);
        stored = typedView(raw.buffer, info, 0, count);
    }
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

function typedView(buffer: ArrayBufferLike, info: DatatypeInfo, at: number, n: number): ArrayLike<number> {
    switch (info.name) {
        case "int8":
            return new Int8Array(buffer, at, n);
        case "uint8":
            return new Uint8Array(buffer, at, n);
        case "int16":
            return new Int16Array(buffer, at, n);
        case "uint16":
            return new Uint16Array(buffer, at, n);
        case "int32":
            return new Int32Array(buffer, at, n);
        case "uint32":
            return new Uint32Array(buffer, at, n);
        case "int64":
            return Float64Array.from(new BigInt64Array(buffer, at, n), Number);
        case "uint64":
            return Float64Array.from(new BigUint64Array(buffer, at, n), Number);
        case "float32":
            return new Float32Array(buffer, at, n);
        case "float64":
            return new Float64Array(buffer, at, n);
    }
}
