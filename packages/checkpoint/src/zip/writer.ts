// A ZIP writer for PyTorch-style archives: stored (uncompressed) records whose data start at an
// aligned offset (padding goes into an extra field, as torch.save does), real sizes and CRCs in
// the local headers, and ZIP64 records when sizes or offsets need them. Output is deterministic.
import { crc32 } from "../crc32.js";

/** One record to write: its path in the archive and its bytes (as one array or several pieces). */
export interface ZipRecord {
    readonly name: string;
    readonly data: Uint8Array | readonly Uint8Array[];
}

/** Options for {@link zipChunks} and {@link writeZip}. */
export interface ZipWriteOptions {
    /** Align each record's data to this many bytes (default 64, as torch.save). 1 disables padding. */
    align?: number;
    /** Write ZIP64 records for every entry even when 32-bit fields would do (default false). */
    forceZip64?: boolean;
}

const U32_MAX = 0xffffffff;
const PADDING_EXTRA_ID = 0x4246; // "FB", the id torch.save uses for its alignment padding
const DOS_DATE_1980_01_01 = (0 << 9) | (1 << 5) | 1;
const utf8 = new TextEncoder();

interface Pending {
    name: Uint8Array;
    pieces: readonly Uint8Array[];
    size: number;
    crc: number;
    offset: number;
    zip64: boolean;
}

/**
 * The archive as a list of chunks to be written in order (record data are not copied). Use
 * {@link writeZip} for one contiguous array.
 */
export function zipChunks(records: readonly ZipRecord[], options: ZipWriteOptions = {}): Uint8Array[] {
    const align = options.align ?? 64;
    if (!Number.isInteger(align) || align < 1)
        throw new RangeError(`zip alignment must be a positive integer, got ${align}`);
    const out: Uint8Array[] = [];
    const pending: Pending[] = [];
    const names = new Set<string>();
    let offset = 0;
    for (const rec of records) {
        if (names.has(rec.name)) throw new RangeError(`duplicate zip record name ${JSON.stringify(rec.name)}`);
        names.add(rec.name);
        const pieces = rec.data instanceof Uint8Array ? [rec.data] : rec.data;
        let size = 0;
        let crc = 0;
        for (const piece of pieces) {
            size += piece.byteLength;
            crc = crc32(piece, crc);
        }
        const name = utf8.encode(rec.name);
        const zip64 = (options.forceZip64 ?? false) || size >= U32_MAX || offset >= U32_MAX;
        const zip64Extra = zip64 ? 20 : 0;
        let padExtra = 0;
        if (align > 1) {
            const unpadded = offset + 30 + name.length + zip64Extra;
            const pad = (align - ((unpadded + 4) % align)) % align;
            padExtra = 4 + pad; // a 4-byte extra-field header, then zero bytes up to the aligned data start
            if (padExtra > 0xffff) throw new RangeError(`zip alignment ${align} is too large`);
        }
        const header = new Uint8Array(30 + name.length + zip64Extra + padExtra);
        const hv = new DataView(header.buffer);
        hv.setUint32(0, 0x04034b50, true);
        hv.setUint16(4, zip64 ? 45 : 20, true);
        hv.setUint16(6, 0x0800, true); // names are UTF-8
        hv.setUint16(8, 0, true); // stored
        hv.setUint16(10, 0, true);
        hv.setUint16(12, DOS_DATE_1980_01_01, true);
        hv.setUint32(14, crc, true);
        hv.setUint32(18, zip64 ? U32_MAX : size, true);
        hv.setUint32(22, zip64 ? U32_MAX : size, true);
        hv.setUint16(26, name.length, true);
        hv.setUint16(28, zip64Extra + padExtra, true);
        header.set(name, 30);
        let x = 30 + name.length;
        if (zip64) {
            hv.setUint16(x, 0x0001, true);
            hv.setUint16(x + 2, 16, true);
            hv.setBigUint64(x + 4, BigInt(size), true);
            hv.setBigUint64(x + 12, BigInt(size), true);
            x += 20;
        }
        if (padExtra > 0) {
            hv.setUint16(x, PADDING_EXTRA_ID, true);
            hv.setUint16(x + 2, padExtra - 4, true);
        }
        out.push(header, ...pieces);
        pending.push({ name, pieces, size, crc, offset, zip64 });
        offset += header.length + size;
    }

    const cdOffset = offset;
    for (const p of pending) {
        const extra = p.zip64 ? 28 : 0;
        const entry = new Uint8Array(46 + p.name.length + extra);
        const ev = new DataView(entry.buffer);
        ev.setUint32(0, 0x02014b50, true);
        ev.setUint16(4, p.zip64 ? 45 : 20, true);
        ev.setUint16(6, p.zip64 ? 45 : 20, true);
        ev.setUint16(8, 0x0800, true);
        ev.setUint16(10, 0, true);
        ev.setUint16(12, 0, true);
        ev.setUint16(14, DOS_DATE_1980_01_01, true);
        ev.setUint32(16, p.crc, true);
        ev.setUint32(20, p.zip64 ? U32_MAX : p.size, true);
        ev.setUint32(24, p.zip64 ? U32_MAX : p.size, true);
        ev.setUint16(28, p.name.length, true);
        ev.setUint16(30, extra, true);
        ev.setUint32(42, p.zip64 ? U32_MAX : p.offset, true);
        entry.set(p.name, 46);
        if (p.zip64) {
            const x = 46 + p.name.length;
            ev.setUint16(x, 0x0001, true);
            ev.setUint16(x + 2, 24, true);
            ev.setBigUint64(x + 4, BigInt(p.size), true);
            ev.setBigUint64(x + 12, BigInt(p.size), true);
            ev.setBigUint64(x + 20, BigInt(p.offset), true);
        }
        out.push(entry);
        offset += entry.length;
    }
    const cdSize = offset - cdOffset;
    const count = pending.length;
    const zip64End = (options.forceZip64 ?? false) || count >= 0xffff || cdSize >= U32_MAX || cdOffset >= U32_MAX;
    if (zip64End) {
        const rec = new Uint8Array(56 + 20);
        const rv = new DataView(rec.buffer);
        rv.setUint32(0, 0x06064b50, true);
        rv.setBigUint64(4, 44n, true);
        rv.setUint16(12, 45, true);
        rv.setUint16(14, 45, true);
        rv.setBigUint64(24, BigInt(count), true);
        rv.setBigUint64(32, BigInt(count), true);
        rv.setBigUint64(40, BigInt(cdSize), true);
        rv.setBigUint64(48, BigInt(cdOffset), true);
        rv.setUint32(56, 0x07064b50, true);
        rv.setBigUint64(64, BigInt(offset), true);
        rv.setUint32(72, 1, true);
        out.push(rec);
    }
    const end = new Uint8Array(22);
    const dv = new DataView(end.buffer);
    dv.setUint32(0, 0x06054b50, true);
    dv.setUint16(8, zip64End ? 0xffff : count, true);
    dv.setUint16(10, zip64End ? 0xffff : count, true);
    dv.setUint32(12, zip64End ? U32_MAX : cdSize, true);
    dv.setUint32(16, zip64End ? U32_MAX : cdOffset, true);
    out.push(end);
    return out;
}

/** Concatenates chunks into one array. */
export function concatChunks(chunks: readonly Uint8Array[]): Uint8Array {
    let total = 0;
    for (const c of chunks) total += c.byteLength;
    const out = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) {
        out.set(c, at);
        at += c.byteLength;
    }
    return out;
}

/** The archive as one array. */
export function writeZip(records: readonly ZipRecord[], options: ZipWriteOptions = {}): Uint8Array {
    return concatChunks(zipChunks(records, options));
}
