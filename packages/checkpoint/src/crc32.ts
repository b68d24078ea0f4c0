import * as zlib from "node:zlib";

let table: Uint32Array | undefined;

function crcTable(): Uint32Array {
    if (table === undefined) {
        table = new Uint32Array(256);
        for (let n = 0; n < 256; n++) {
            let c = n;
            for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
            table[n] = c >>> 0;
        }
    }
    return table;
}

const native = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** CRC-32 (ISO-HDLC, as in ZIP) of `data`, continuing from `value`. Uses zlib's when Node has it. */
export function crc32(data: Uint8Array, value = 0): number {
    if (native !== undefined) return native(data, value) >>> 0;
    const t = crcTable();
    let c = ~value >>> 0;
    for (let i = 0; i < data.length; i++) c = (t[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
    return ~c >>> 0;
}
