// A ZIP builder for tests that writes archives the way other tools do: deflate-compressed entries
// and local headers with zero sizes followed by data descriptors (as torch's writer does).
import { deflateRawSync } from "node:zlib";

function crc32(data: Uint8Array): number {
    let c = 0xffffffff;
    for (const byte of data) {
        c ^= byte;
        for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    }
    return ~c >>> 0;
}

/** A ZIP whose entries are deflated and whose sizes appear only in data descriptors and the directory. */
export function deflatedZip(records: readonly { name: string; data: Uint8Array }[]): Uint8Array {
    const parts: Buffer[] = [];
    const central: Buffer[] = [];
    let offset = 0;
    for (const r of records) {
        const name = Buffer.from(r.name, "utf8");
        const comp = deflateRawSync(r.data);
        const crc = crc32(r.data);
        const local = Buffer.alloc(30);
        local.writeUInt32LE(0x04034b50, 0);
        local.writeUInt16LE(20, 4);
        local.writeUInt16LE(0x0808, 6); // data descriptor + UTF-8
        local.writeUInt16LE(8, 8);
        local.writeUInt16LE(name.length, 26);
        const desc = Buffer.alloc(16);
        desc.writeUInt32LE(0x08074b50, 0);
        desc.writeUInt32LE(crc, 4);
        desc.writeUInt32LE(comp.length, 8);
        desc.writeUInt32LE(r.data.length, 12);
        parts.push(local, name, comp, desc);
        const cd = Buffer.alloc(46);
        cd.writeUInt32LE(0x02014b50, 0);
        cd.writeUInt16LE(20, 4);
        cd.writeUInt16LE(20, 6);
        cd.writeUInt16LE(0x0808, 8);
        cd.writeUInt16LE(8, 10);
        cd.writeUInt32LE(crc, 16);
        cd.writeUInt32LE(comp.length, 20);
        cd.writeUInt32LE(r.data.length, 24);
        cd.writeUInt16LE(name.length, 28);
        cd.writeUInt32LE(offset, 42);
        central.push(cd, name);
        offset += 30 + name.length + comp.length + 16;
    }
    const cdSize = central.reduce((a, b) => a + b.length, 0);
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(records.length, 8);
    end.writeUInt16LE(records.length, 10);
    end.writeUInt32LE(cdSize, 12);
    end.writeUInt32LE(offset, 16);
    return new Uint8Array(Buffer.concat([...parts, ...central, end]));
}
