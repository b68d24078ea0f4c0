// A small pickle emitter: just the opcodes torch.save uses for a state dict at protocol 2.
import { OP } from "./opcodes.js";

const utf8 = new TextEncoder();

/** Appends pickle opcodes to a growing buffer; globals and repeated strings are memoised. */
export class PickleWriter {
    private buf = new Uint8Array(4096);
    private view = new DataView(this.buf.buffer);
    private len = 0;
    private readonly memo = new Map<string, number>();

    private reserve(n: number): void {
        if (this.len + n <= this.buf.length) return;
        let cap = this.buf.length * 2;
        while (cap < this.len + n) cap *= 2;
        const next = new Uint8Array(cap);
        next.set(this.buf.subarray(0, this.len));
        this.buf = next;
        this.view = new DataView(next.buffer);
    }

    /** Emits one opcode byte. */
    op(code: number): this {
        this.reserve(1);
        this.buf[this.len++] = code;
        return this;
    }

    private u8(v: number): void {
        this.reserve(1);
        this.buf[this.len++] = v;
    }

    private u32(v: number): void {
        this.reserve(4);
        this.view.setUint32(this.len, v, true);
        this.len += 4;
    }

    private raw(bytes: Uint8Array): void {
        this.reserve(bytes.length);
        this.buf.set(bytes, this.len);
        this.len += bytes.length;
    }

    /** PROTO n. */
    proto(version: number): this {
        this.op(OP.PROTO);
        this.u8(version);
        return this;
    }

    private put(key: string): void {
        const id = this.memo.size;
        this.memo.set(key, id);
        if (id < 256) {
            this.op(OP.BINPUT);
            this.u8(id);
        } else {
            this.op(OP.LONG_BINPUT);
            this.u32(id);
        }
    }

    /** Pushes a memoised object by its memo key; false when it was never stored. */
    private getMemo(key: string): boolean {
        const id = this.memo.get(key);
        if (id === undefined) return false;
        if (id < 256) {
            this.op(OP.BINGET);
            this.u8(id);
        } else {
            this.op(OP.LONG_BINGET);
            this.u32(id);
        }
        return true;
    }

    /** GLOBAL 'module name' (once; later uses fetch it from the memo). */
    global(module: string, name: string): this {
        const key = `g:${module}\n${name}`;
        if (this.getMemo(key)) return this;
        this.op(OP.GLOBAL);
        this.raw(utf8.encode(`${module}\n${name}\n`));
        this.put(key);
        return this;
    }

    /** A str (BINUNICODE). With `memoise`, later occurrences fetch the first one from the memo. */
    str(s: string, memoise = false): this {
        const key = `s:${s}`;
        if (memoise && this.getMemo(key)) return this;
        const b = utf8.encode(s);
        this.op(OP.BINUNICODE);
        this.u32(b.length);
        this.raw(b);
        if (memoise) this.put(key);
        return this;
    }

    /** An int, in the shortest form pickle protocol 2 has for it. */
    int(v: number): this {
        if (!Number.isSafeInteger(v)) throw new RangeError(`pickle int: ${v} is not a safe integer`);
        if (v >= 0 && v < 0x100) {
            this.op(OP.BININT1);
            this.u8(v);
        } else if (v >= 0 && v < 0x10000) {
            this.op(OP.BININT2);
            this.u8(v & 0xff);
            this.u8(v >>> 8);
        } else if (v >= -0x80000000 && v <= 0x7fffffff) {
            this.op(OP.BININT);
            this.reserve(4);
            this.view.setInt32(this.len, v, true);
            this.len += 4;
        } else {
            // LONG1: little-endian two's complement, shortest length that keeps the sign.
            const bytes: number[] = [];
            let x = BigInt(v);
            for (;;) {
                const b = Number(x & 0xffn);
                bytes.push(b);
                x >>= 8n;
                if ((x === 0n && (b & 0x80) === 0) || (x === -1n && (b & 0x80) !== 0)) break;
            }
            this.op(OP.LONG1);
            this.u8(bytes.length);
            this.raw(Uint8Array.from(bytes));
        }
        return this;
    }

    /** A bool (NEWTRUE / NEWFALSE). */
    bool(v: boolean): this {
        return this.op(v ? OP.NEWTRUE : OP.NEWFALSE);
    }

    /** A tuple of ints (EMPTY_TUPLE, TUPLE1-3 or MARK ... TUPLE). */
    intTuple(values: readonly number[]): this {
        if (values.length === 0) return this.op(OP.EMPTY_TUPLE);
        if (values.length > 3) this.op(OP.MARK);
        for (const v of values) this.int(v);
        if (values.length === 1) return this.op(OP.TUPLE1);
        if (values.length === 2) return this.op(OP.TUPLE2);
        if (values.length === 3) return this.op(OP.TUPLE3);
        return this.op(OP.TUPLE);
    }

    /** The pickle bytes written so far. */
    bytes(): Uint8Array {
        return this.buf.slice(0, this.len);
    }
}
