// Small files that inflate to a lot of zeros, for the bounded-reading tests. A raw deflate block
// that encodes 1 MiB of zeros and ends with a sync flush can be repeated: each copy starts with a
// literal zero and otherwise refers back one byte, so N copies inflate to N MiB (about 1 KB each).
import { constants, crc32, deflateRawSync } from "node:zlib";
import { PickleBytes } from "./pickle-bytes.js";

const MiB = 1 << 20;
const ZERO_BLOCK = deflateRawSync(Buffer.alloc(MiB), { level: 9, finishFlush: constants.Z_SYNC_FLUSH });
/** A final, empty, fixed-Huffman deflate block. */
const FINAL_BLOCK = Buffer.from([0x03, 0x00]);

/** A raw deflate stream of `prefix` followed by `zeroMiB` MiB of zeros (valid and complete). */
export function deflateWithZeros(prefix: Uint8Array, zeroMiB: number): Buffer {
    const head = deflateRawSync(prefix, { finishFlush: constants.Z_SYNC_FLUSH });
    return Buffer.concat([head, ...new Array<Buffer>(zeroMiB).fill(ZERO_BLOCK), FINAL_BLOCK]);
}

/** CRC-32 of `prefix` followed by `zeroMiB` MiB of zeros. */
export function crcWithZeros(prefix: Uint8Array, zeroMiB: number): number {
    const zeros = Buffer.alloc(MiB);
    let c = crc32(prefix);
    for (let i = 0; i < zeroMiB; i++) c = crc32(zeros, c);
    return c >>> 0;
}

/** A complete, valid gzip file of `prefix` followed by `zeroMiB` MiB of zeros. */
export function gzipWithZeros(prefix: Uint8Array, zeroMiB: number): Buffer {
    const header = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
    const trailer = Buffer.alloc(8);
    trailer.writeUInt32LE(crcWithZeros(prefix, zeroMiB), 0);
    trailer.writeUInt32LE((prefix.length + zeroMiB * MiB) % 2 ** 32, 4);
    return Buffer.concat([header, deflateWithZeros(prefix, zeroMiB), trailer]);
}

/** One record of {@link rawZip}: bytes as stored, with the sizes and CRC the directory declares. */
export interface RawZipRecord {
    name: string;
    /** The stored bytes (already deflated when method is 8). */
    stored: Uint8Array;
    method: 0 | 8;
    /** Uncompressed size written to the directory (may lie). */
    size: number;
    crc: number;
    /** Sizes and CRC in a data descriptor after the data, zeros in the local header (as torch writes). */
    descriptor?: boolean;
}

/**
 * The fields a local header (from byte 4) and a central directory entry (from byte 6) share: version
 * needed, flags, method, time and date (zero), CRC, stored and declared size, name length.
 */
function headerFields(h: Buffer, at: number, r: RawZipRecord, nameLength: number, withSizes: boolean): void {
    h.writeUInt16LE(20, at);
    h.writeUInt16LE(r.descriptor ? 0x0808 : 0, at + 2); // data descriptor + UTF-8 names
    h.writeUInt16LE(r.method, at + 4);
    if (withSizes) {
        h.writeUInt32LE(r.crc >>> 0, at + 10);
        h.writeUInt32LE(r.stored.length, at + 14);
        h.writeUInt32LE(r.size, at + 18);
    }
    h.writeUInt16LE(nameLength, at + 22);
}

/** A ZIP archive written from raw records, trusting the caller's declared sizes and CRCs. */
export function rawZip(records: readonly RawZipRecord[]): Buffer {
    const parts: Buffer[] = [];
    const central: Buffer[] = [];
    let offset = 0;
    for (const r of records) {
        const name = Buffer.from(r.name, "utf8");
        const local = Buffer.alloc(30);
        local.writeUInt32LE(0x04034b50, 0);
        headerFields(local, 4, r, name.length, !r.descriptor);
        const desc = Buffer.alloc(r.descriptor ? 16 : 0);
        if (r.descriptor) {
            desc.writeUInt32LE(0x08074b50, 0);
            desc.writeUInt32LE(r.crc >>> 0, 4);
            desc.writeUInt32LE(r.stored.length, 8);
            desc.writeUInt32LE(r.size, 12);
        }
        parts.push(local, name, Buffer.from(r.stored), desc);
        const cd = Buffer.alloc(46);
        cd.writeUInt32LE(0x02014b50, 0);
        cd.writeUInt16LE(20, 4); // version made by
        headerFields(cd, 6, r, name.length, true);
        cd.writeUInt32LE(offset, 42);
        central.push(cd, name);
        offset += 30 + name.length + r.stored.length + desc.length;
    }
    const cdSize = central.reduce((a, b) => a + b.length, 0);
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(records.length, 8);
    end.writeUInt16LE(records.length, 10);
    end.writeUInt32LE(cdSize, 12);
    end.writeUInt32LE(offset, 16);
    return Buffer.concat([...parts, ...central, end]);
}

/** A stored record with its true size and CRC. */
export function storedRecord(name: string, data: Uint8Array): RawZipRecord {
    return { name, stored: data, method: 0, size: data.length, crc: crc32(data) >>> 0 };
}

/** A deflated record (name given by {@link pthWith}) declaring `size` bytes and `crc`. */
export function deflatedRecord(stored: Uint8Array, size: number, crc: number): RawZipRecord {
    return { name: "", stored, method: 8, size, crc };
}

/** A torch-style .pth whose storage record "0" is `record`. */
export function pthWith(pkl: Uint8Array, record: RawZipRecord): Buffer {
    return rawZip([
        storedRecord("archive/data.pkl", pkl),
        { ...record, name: "archive/data/0" },
        storedRecord("archive/version", new TextEncoder().encode("3\n")),
    ]);
}

/** The pickle of a state dict with one float tensor `key` viewing storage "0". */
export function onePickle(key: string, numel: number, size: number[], stride: number[]): Uint8Array {
    return new PickleBytes()
        .proto(2)
        .emptyDict()
        .str(key)
        .tensor("FloatStorage", "0", numel, 0, size, stride)
        .setitem()
        .stop()
        .bytes();
}

/** A .pth of one tensor `key` whose storage record declares 16 bytes and inflates to 600 MiB of zeros. */
export function zipBombPth(key: string): Buffer {
    const head = new Uint8Array(16);
    return pthWith(onePickle(key, 4, [4], [1]), deflatedRecord(deflateWithZeros(head, 600), 16, crcWithZeros(head, 0)));
}
