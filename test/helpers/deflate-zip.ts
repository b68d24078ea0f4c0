// A ZIP builder for tests that writes archives the way other tools do: deflate-compressed entries
// and local headers with zero sizes followed by data descriptors (as torch's writer does).
import { crc32, deflateRawSync } from "node:zlib";
import { rawZip } from "./bombs.js";

/** A ZIP whose entries are deflated and whose sizes appear only in data descriptors and the directory. */
export function deflatedZip(records: readonly { name: string; data: Uint8Array }[]): Uint8Array {
    const raw = records.map((r) => ({
        name: r.name,
        stored: deflateRawSync(r.data),
        method: 8 as const,
        size: r.data.length,
        crc: crc32(r.data) >>> 0,
        descriptor: true,
    }));
    return new Uint8Array(rawZip(raw));
}
