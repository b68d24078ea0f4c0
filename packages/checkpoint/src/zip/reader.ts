// A ZIP reader for PyTorch archives: the central directory is the source of truth (torch writes
// local headers with zero sizes and data descriptors), entries are stored or deflated, and ZIP64
// records are followed where sizes or offsets do not fit in 32 bits.
import { inflateRawSync } from "node:zlib";
import { maxDecodeBytes, megabytes } from "@sam-ablate/errors";
import type { ByteSource } from "../byte-source.js";
import { crc32 } from "../crc32.js";
import { CheckpointError } from "../errors.js";

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_EOCD64_LOCATOR = 0x07064b50;
const EOCD_SIZE = 22;
const LOCATOR_SIZE = 20;
const MAX_COMMENT = 0xffff;

/** One file of a ZIP archive, as described by the central directory. */
export interface ZipEntry {
    /** Path inside the archive. */
    readonly name: string;
    /** Compression method: 0 stored, 8 deflate. */
    readonly method: number;
    /** General-purpose flags. */
    readonly flags: number;
    /** CRC-32 of the uncompressed bytes. */
    readonly crc32: number;
    /** Size of the stored (possibly compressed) bytes. */
    readonly compressedSize: number;
    /** Size after decompression. */
    readonly size: number;
    /** Offset of the entry's local header in the file. */
    readonly localHeaderOffset: number;
}

/** An opened ZIP archive: its entries, readable through the source. */
export interface ZipArchive {
    readonly source: ByteSource;
    /** Entries in central-directory order. */
    readonly entries: readonly ZipEntry[];
    /** Entries by name. */
    readonly byName: ReadonlyMap<string, ZipEntry>;
}

const utf8 = new TextDecoder("utf-8");

function u64(view: DataView, at: number): number {
    const v = view.getBigUint64(at, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) return Number.MAX_SAFE_INTEGER;
    return Number(v);
}

/**
 * Reads the central directory of a ZIP archive. A file that starts like a ZIP but has no
 * end-of-central-directory record is reported as truncated.
 */
export async function openZip(src: ByteSource): Promise<ZipArchive> {
    const name = src.name;
    const tailLength = Math.min(src.size, EOCD_SIZE + MAX_COMMENT + LOCATOR_SIZE);
    const tailStart = src.size - tailLength;
    const tail = await src.read(tailStart, tailLength, "the zip end-of-central-directory record");
    const tv = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
    let eocd = -1;
    for (let i = tail.length - EOCD_SIZE; i >= 0; i--) {
        if (tv.getUint32(i, true) === SIG_EOCD && i + EOCD_SIZE + tv.getUint16(i + 20, true) <= tail.length) {
            eocd = i;
            break;
        }
    }
    if (eocd < 0) {
        throw new CheckpointError(
            "ERR_SA_CHECKPOINT_TRUNCATED",
            name,
            "zip end-of-central-directory record not found: the archive is truncated or damaged",
        );
    }
    let count = tv.getUint16(eocd + 10, true);
    let cdSize = tv.getUint32(eocd + 12, true);
    let cdOffset = tv.getUint32(eocd + 16, true);
    if (eocd >= LOCATOR_SIZE && tv.getUint32(eocd - LOCATOR_SIZE, true) === SIG_EOCD64_LOCATOR) {
        const eocd64Offset = u64(tv, eocd - LOCATOR_SIZE + 8);
        const rec = await src.read(eocd64Offset, 56, "the zip64 end-of-central-directory record");
        const rv = new DataView(rec.buffer, rec.byteOffset, rec.byteLength);
        if (rv.getUint32(0, true) !== SIG_EOCD64) {
            throw new CheckpointError("ERR_SA_CHECKPOINT_FORMAT", name, "bad zip64 end-of-central-directory record");
        }
        count = u64(rv, 32);
        cdSize = u64(rv, 40);
        cdOffset = u64(rv, 48);
    }
    const cd = await src.read(cdOffset, cdSize, "the zip central directory");
    const cv = new DataView(cd.buffer, cd.byteOffset, cd.byteLength);
    const entries: ZipEntry[] = [];
    const byName = new Map<string, ZipEntry>();
    let p = 0;
    for (let i = 0; i < count; i++) {
        if (p + 46 > cd.length || cv.getUint32(p, true) !== SIG_CENTRAL) {
            throw new CheckpointError("ERR_SA_CHECKPOINT_FORMAT", name, `zip central directory entry ${i} is damaged`);
        }
        const flags = cv.getUint16(p + 8, true);
        const method = cv.getUint16(p + 10, true);
        const crc = cv.getUint32(p + 16, true);
        let compressedSize = cv.getUint32(p + 20, true);
        let size = cv.getUint32(p + 24, true);
        const nameLen = cv.getUint16(p + 28, true);
        const extraLen = cv.getUint16(p + 30, true);
        const commentLen = cv.getUint16(p + 32, true);
        let localHeaderOffset = cv.getUint32(p + 42, true);
        const end = p + 46 + nameLen + extraLen + commentLen;
        if (end > cd.length) {
            throw new CheckpointError("ERR_SA_CHECKPOINT_FORMAT", name, `zip central directory entry ${i} is damaged`);
        }
        const entryName = utf8.decode(cd.subarray(p + 46, p + 46 + nameLen));
        // ZIP64 extended information: only the fields saturated in the fixed header are present, in this order.
        let x = p + 46 + nameLen;
        const extraEnd = x + extraLen;
        while (x + 4 <= extraEnd) {
            const id = cv.getUint16(x, true);
            const len = cv.getUint16(x + 2, true);
            if (id === 0x0001) {
                let f = x + 4;
                const fEnd = Math.min(f + len, extraEnd);
                if (size === 0xffffffff && f + 8 <= fEnd) {
                    size = u64(cv, f);
                    f += 8;
                }
                if (compressedSize === 0xffffffff && f + 8 <= fEnd) {
                    compressedSize = u64(cv, f);
                    f += 8;
                }
                if (localHeaderOffset === 0xffffffff && f + 8 <= fEnd) localHeaderOffset = u64(cv, f);
            }
            x += 4 + len;
        }
        const entry: ZipEntry = { name: entryName, method, flags, crc32: crc, compressedSize, size, localHeaderOffset };
        entries.push(entry);
        byName.set(entryName, entry);
        p = end;
    }
    return { source: src, entries, byName };
}

/** Options for {@link readZipEntry}. */
export interface ZipReadOptions {
    /**
     * Check each entry's CRC-32 (default true). A stored CRC of 0 on a non-empty entry means "not
     * computed" (as `torch.save` writes with crc32 computation disabled) and is not checked.
     */
    verifyCrc?: boolean;
    /** The most bytes one entry may hold once inflated (default: `SA_MAX_DECODE_MB` MiB, else 2048 MiB). */
    maxBytes?: number;
}

/** The uncompressed bytes of one entry, in a fresh 8-byte-aligned array. */
export async function readZipEntry(
    zip: ZipArchive,
    entry: ZipEntry,
    options: ZipReadOptions = {},
): Promise<Uint8Array> {
    const src = zip.source;
    const what = `zip record ${entry.name}`;
    if ((entry.flags & 1) !== 0)
        throw new CheckpointError("ERR_SA_CHECKPOINT_FORMAT", src.name, `${what} is encrypted`);
    if (entry.method !== 0 && entry.method !== 8) {
        throw new CheckpointError(
            "ERR_SA_CHECKPOINT_FORMAT",
            src.name,
            `${what} uses compression method ${entry.method} (only stored and deflate are supported)`,
        );
    }
    const header = await src.read(entry.localHeaderOffset, 30, `the local header of ${what}`);
    const hv = new DataView(header.buffer, header.byteOffset, header.byteLength);
    if (hv.getUint32(0, true) !== SIG_LOCAL) {
        throw new CheckpointError("ERR_SA_CHECKPOINT_FORMAT", src.name, `${what}: bad local header signature`);
    }
    const limit = maxDecodeBytes(options.maxBytes);
    if (entry.size > limit) {
        throw new CheckpointError(
            "ERR_SA_CHECKPOINT_LIMIT",
            src.name,
            `${what} declares ${entry.size} bytes (${megabytes(entry.size)}), more than the ${megabytes(limit)} limit (SA_MAX_DECODE_MB)`,
        );
    }
    const dataStart = entry.localHeaderOffset + 30 + hv.getUint16(26, true) + hv.getUint16(28, true);
    let data = await src.read(dataStart, entry.compressedSize, what);
    if (entry.method === 8) {
        let inflated: Uint8Array;
        try {
            // Never inflate past the declared size: a stream that would is refused without the bytes.
            inflated = inflateRawSync(data, { maxOutputLength: Math.max(entry.size, 1) });
        } catch (err) {
            if ((err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") {
                throw new CheckpointError(
                    "ERR_SA_CHECKPOINT_CORRUPT",
                    src.name,
                    `${what} inflates past the ${entry.size} bytes the directory declares`,
                    { cause: err },
                );
            }
            throw new CheckpointError("ERR_SA_CHECKPOINT_CORRUPT", src.name, `${what}: deflate data is corrupt`, {
                cause: err,
            });
        }
        if (inflated.byteLength !== entry.size) {
            throw new CheckpointError(
                "ERR_SA_CHECKPOINT_CORRUPT",
                src.name,
                `${what} inflates to ${inflated.byteLength} bytes, the directory says ${entry.size}`,
            );
        }
        data = new Uint8Array(inflated.byteLength);
        data.set(inflated);
    } else if (entry.compressedSize !== entry.size) {
        throw new CheckpointError(
            "ERR_SA_CHECKPOINT_FORMAT",
            src.name,
            `${what} is stored with ${entry.compressedSize} bytes but its size is ${entry.size}`,
        );
    }
    if ((options.verifyCrc ?? true) && !(entry.crc32 === 0 && entry.size > 0)) {
        const actual = crc32(data);
        if (actual !== entry.crc32) {
            throw new CheckpointError(
                "ERR_SA_CHECKPOINT_CORRUPT",
                src.name,
                `${what} fails its CRC-32 check (stored ${hex(entry.crc32)}, computed ${hex(actual)}): the file is corrupt`,
            );
        }
    }
    return data;
}

function hex(v: number): string {
    return `0x${v.toString(16).padStart(8, "0")}`;
}
