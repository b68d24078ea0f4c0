// Small files that inflate to a lot of zeros, for the bounded-reading tests. A raw deflate block
// that encodes 1 MiB of zeros and ends with a sync flush can be repeated: each copy starts with a
// literal zero and otherwise refers back one byte, so N copies inflate to N MiB (about 1 KB each).
import { constants, crc32, deflateRawSync } from "node:zlib";

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
