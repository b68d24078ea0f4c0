// An independent pickle opcode scanner (protocol 2-5 binary opcodes): lists the opcodes and the
// globals of a stream without building any object, the way torch lists a checkpoint's globals.

const ARG_BYTES: Record<number, number> = {
    40: 0,
    46: 0,
    48: 0,
    49: 0,
    50: 0,
    41: 0,
    116: 0,
    133: 0,
    134: 0,
    135: 0,
    93: 0,
    97: 0,
    101: 0,
    125: 0,
    115: 0,
    117: 0,
    82: 0,
    98: 0,
    129: 0,
    81: 0,
    78: 0,
    136: 0,
    137: 0,
    143: 0,
    144: 0,
    145: 0,
    147: 0,
    148: 0,
    74: 4,
    75: 1,
    77: 2,
    71: 8,
    104: 1,
    106: 4,
    113: 1,
    114: 4,
    128: 1,
    149: 8,
};

/** Opcode bytes in stream order and the globals (`module.name`) referenced by GLOBAL. */
export function scanPickle(b: Uint8Array): { ops: number[]; globals: string[] } {
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const ops: number[] = [];
    const globals: string[] = [];
    let p = 0;
    while (p < b.length) {
        const op = b[p++] as number;
        ops.push(op);
        if (op === 0x2e) return { ops, globals };
        if (op === 0x63) {
            const nl1 = b.indexOf(0x0a, p);
            const nl2 = b.indexOf(0x0a, nl1 + 1);
            const dec = new TextDecoder();
            globals.push(`${dec.decode(b.subarray(p, nl1))}.${dec.decode(b.subarray(nl1 + 1, nl2))}`);
            p = nl2 + 1;
        } else if (op === 0x58) p += 4 + view.getUint32(p, true);
        else if (op === 0x8c) p += 1 + (b[p] as number);
        else if (op === 0x8a) p += 1 + (b[p] as number);
        else if (ARG_BYTES[op] !== undefined) p += ARG_BYTES[op] as number;
        else throw new Error(`scanPickle: unexpected opcode 0x${op.toString(16)} at ${p - 1}`);
    }
    throw new Error("scanPickle: no STOP");
}
