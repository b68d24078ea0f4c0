// Hand-assembled pickle streams for tests: a few opcodes, written without the library's pickler
// so that tests exercise the reader on input it did not produce.

const enc = new TextEncoder();

/** Pieces of a pickle stream; `bytes()` joins them. */
export class PickleBytes {
    private parts: number[] = [];

    raw(...b: number[]): this {
        this.parts.push(...b);
        return this;
    }
    // the opcodes without an argument
    readonly mark = (): this => this.raw(0x28);
    readonly tuple = (): this => this.raw(0x74);
    readonly emptyTuple = (): this => this.raw(0x29);
    readonly emptyDict = (): this => this.raw(0x7d);
    readonly reduce = (): this => this.raw(0x52);
    readonly setitem = (): this => this.raw(0x73);
    readonly setitems = (): this => this.raw(0x75);
    readonly binpersid = (): this => this.raw(0x51);
    readonly newfalse = (): this => this.raw(0x89);
    readonly stop = (): this => this.raw(0x2e);
    proto(v = 2): this {
        return this.raw(0x80, v);
    }
    global(module: string, name: string): this {
        return this.raw(0x63, ...enc.encode(`${module}\n${name}\n`));
    }
    str(s: string): this {
        const b = enc.encode(s);
        return this.raw(
            0x58,
            b.length & 0xff,
            (b.length >>> 8) & 0xff,
            (b.length >>> 16) & 0xff,
            b.length >>> 24,
            ...b,
        );
    }
    /** BININT (signed 32-bit). */
    int(v: number): this {
        return this.raw(0x4a, v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
    }
    /** A tuple of BININTs (MARK ... TUPLE). */
    ints(values: readonly number[]): this {
        this.mark();
        for (const v of values) this.int(v);
        return this.tuple();
    }
    /**
     * `_rebuild_tensor_v2(('storage', torch.<cls>, key, 'cpu', numel), offset, size, stride, False,
     * OrderedDict())`, leaving the tensor on the stack.
     */
    tensor(
        cls: string,
        key: string,
        numel: number,
        offset: number,
        size: readonly number[],
        stride: readonly number[],
    ): this {
        this.global("torch._utils", "_rebuild_tensor_v2").mark();
        this.mark().str("storage").global("torch", cls).str(key).str("cpu").int(numel).tuple().binpersid();
        this.int(offset).ints(size).ints(stride).newfalse();
        this.global("collections", "OrderedDict").emptyTuple().reduce();
        return this.tuple().reduce();
    }
    bytes(): Uint8Array {
        return Uint8Array.from(this.parts);
    }
}
