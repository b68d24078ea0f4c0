// A protocol-buffers wire-format decoder (proto2/proto3 binary encoding), just enough to walk ONNX
// messages: tags, varints (int32/int64/uint64/enums), fixed32/fixed64 and length-delimited fields,
// with packed and unpacked repeated scalars. Offsets are absolute byte positions in the file so that
// every error can say where the file is broken.
import { OnnxError } from "./errors.js";

/** Protocol-buffers wire types. Groups (3, 4) are deprecated and rejected. */
export const WireType = { VARINT: 0, I64: 1, LEN: 2, SGROUP: 3, EGROUP: 4, I32: 5 } as const;

/** One field key read from a message: its field number, wire type and the byte offset of the key. */
export interface FieldKey {
    field: number;
    wire: number;
    offset: number;
}

/**
 * Reads the fields of one message lying in `buf[start, end)`. Sub-messages are read by new readers
 * over the same buffer (no copies); `bytes()` returns a view into the buffer.
 */
export class ProtoReader {
    readonly buf: Uint8Array;
    readonly file: string;
    readonly end: number;
    pos: number;
    private view: DataView | undefined;

    constructor(buf: Uint8Array, file: string, start = 0, end = buf.length) {
        this.buf = buf;
        this.file = file;
        this.pos = start;
        this.end = end;
    }

    /** An error naming the file and a byte offset (default: the current position). */
    error(message: string, offset = this.pos): OnnxError {
        return new OnnxError(this.file, message, offset);
    }

    /** The next field key, or null at the end of the message. */
    next(): FieldKey | null {
        if (this.pos >= this.end) return null;
        const offset = this.pos;
        const key = this.uint();
        const field = Math.floor(key / 8);
        const wire = key % 8;
        if (field === 0) throw this.error("invalid protobuf field number 0", offset);
        if (wire === WireType.SGROUP || wire === WireType.EGROUP || wire > WireType.I32) {
            throw this.error(`unsupported protobuf wire type ${wire} for field ${field}`, offset);
        }
        return { field, wire, offset };
    }

    /** Throws unless the key has the wire type the schema declares for it. */
    expect(key: FieldKey, wire: number, what: string): void {
        if (key.wire !== wire) {
            throw this.error(`${what}: field ${key.field} has wire type ${key.wire}, expected ${wire}`, key.offset);
        }
    }

    /** An unsigned varint as a JS number (exact up to 2^53; larger values are rejected). */
    uint(): number {
        const start = this.pos;
        let result = 0;
        let mul = 1;
        for (let i = 0; i < 10; i++) {
            if (this.pos >= this.end) throw this.error("truncated varint", start);
            const b = this.buf[this.pos++] as number;
            result += (b & 0x7f) * mul;
            if (b < 0x80) {
                if (result > Number.MAX_SAFE_INTEGER) throw this.error("varint exceeds 2^53", start);
                return result;
            }
            mul *= 128;
        }
        throw this.error("varint longer than 10 bytes", start);
    }

    /** A varint as an unsigned 64-bit bigint. */
    uint64(): bigint {
        const start = this.pos;
        let result = 0n;
        let shift = 0n;
        for (let i = 0; i < 10; i++) {
            if (this.pos >= this.end) throw this.error("truncated varint", start);
            const b = this.buf[this.pos++] as number;
            result |= BigInt(b & 0x7f) << shift;
            if (b < 0x80) return BigInt.asUintN(64, result);
            shift += 7n;
        }
        throw this.error("varint longer than 10 bytes", start);
    }

    /** A varint as a signed 64-bit bigint (two's complement, as protobuf's int64). */
    int64Big(): bigint {
        return BigInt.asIntN(64, this.uint64());
    }

    /**
     * A signed int64 varint as a JS number: exact within +-2^53; larger magnitudes (such as INT64_MAX
     * used as "to the end" in Slice attributes) are rounded to the nearest double.
     */
    int64(): number {
        // Fast path: up to 7 bytes hold at most 49 bits, always a non-negative safe integer.
        let n = 0;
        while (n < 7 && this.pos + n < this.end && (this.buf[this.pos + n] as number) >= 0x80) n++;
        if (n < 7) return this.uint();
        return Number(this.int64Big());
    }

    /** A signed int32 varint (negative values are sign-extended to 10 bytes on the wire). */
    int32(): number {
        return Number(BigInt.asIntN(32, this.uint64()));
    }

    /** The length prefix of a length-delimited field, checked against the end of the message. */
    length(): number {
        const at = this.pos;
        const len = this.uint();
        if (this.pos + len > this.end) {
            throw this.error(`length ${len} runs past the end of the enclosing message (byte ${this.end})`, at);
        }
        return len;
    }

    /** A length-delimited field's payload as a view into the buffer. */
    bytes(): Uint8Array {
        const len = this.length();
        const out = this.buf.subarray(this.pos, this.pos + len);
        this.pos += len;
        return out;
    }

    /** A length-delimited UTF-8 string. */
    string(): string {
        return textDecoder.decode(this.bytes());
    }

    /** A reader over a length-delimited sub-message. */
    message(): ProtoReader {
        const len = this.length();
        const sub = new ProtoReader(this.buf, this.file, this.pos, this.pos + len);
        this.pos += len;
        return sub;
    }

    private dataView(): DataView {
        if (!this.view) this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
        return this.view;
    }

    private need(n: number, what: string): void {
        if (this.pos + n > this.end) throw this.error(`truncated ${what}`);
    }

    /** A fixed32 field as a little-endian float. */
    float32(): number {
        this.need(4, "fixed32");
        const v = this.dataView().getFloat32(this.pos, true);
        this.pos += 4;
        return v;
    }

    /** A fixed64 field as a little-endian double. */
    float64(): number {
        this.need(8, "fixed64");
        const v = this.dataView().getFloat64(this.pos, true);
        this.pos += 8;
        return v;
    }

    /** A fixed64 field as an unsigned bigint. */
    fixed64(): bigint {
        this.need(8, "fixed64");
        const v = this.dataView().getBigUint64(this.pos, true);
        this.pos += 8;
        return v;
    }

    /** A fixed32 field as an unsigned number. */
    fixed32(): number {
        this.need(4, "fixed32");
        const v = this.dataView().getUint32(this.pos, true);
        this.pos += 4;
        return v;
    }

    /** Skips the value of a field whose key was just read. */
    skip(key: FieldKey): void {
        switch (key.wire) {
            case WireType.VARINT:
                this.uint64();
                return;
            case WireType.I64:
                this.need(8, "fixed64");
                this.pos += 8;
                return;
            case WireType.LEN: {
                const len = this.length(); // advances past the length prefix first
                this.pos += len;
                return;
            }
            case WireType.I32:
                this.need(4, "fixed32");
                this.pos += 4;
                return;
            default:
                throw this.error(`unsupported protobuf wire type ${key.wire}`, key.offset);
        }
    }

    /**
     * Reads a repeated varint field that may be packed (one LEN field holding all values) or unpacked
     * (one VARINT field per value), appending the decoded values to `out`.
     */
    repeatedVarint<T>(key: FieldKey, read: (r: ProtoReader) => T, out: T[]): void {
        if (key.wire === WireType.LEN) {
            const sub = this.message();
            while (sub.pos < sub.end) out.push(read(sub));
        } else if (key.wire === WireType.VARINT) {
            out.push(read(this));
        } else {
            throw this.error(`repeated varint field ${key.field} has wire type ${key.wire}`, key.offset);
        }
    }

    /**
     * Reads a repeated fixed-width field (fixed32 when `width` is 4, fixed64 when 8), packed or not.
     * Returns the raw little-endian bytes of the values (a view when packed).
     */
    repeatedFixed(key: FieldKey, width: 4 | 8): Uint8Array {
        const wire = width === 4 ? WireType.I32 : WireType.I64;
        if (key.wire === WireType.LEN) {
            const at = this.pos;
            const b = this.bytes();
            if (b.length % width !== 0) {
                throw this.error(`packed field ${key.field} has ${b.length} bytes, not a multiple of ${width}`, at);
            }
            return b;
        }
        if (key.wire === wire) {
            this.need(width, width === 4 ? "fixed32" : "fixed64");
            const b = this.buf.subarray(this.pos, this.pos + width);
            this.pos += width;
            return b;
        }
        throw this.error(`repeated fixed${width * 8} field ${key.field} has wire type ${key.wire}`, key.offset);
    }
}

const textDecoder = new TextDecoder("utf-8");
