// Exact conversions between IEEE 754 binary32 and the two 16-bit float formats:
// binary16 ("half", 1-5-10) and bfloat16 (1-8-7, the top half of a binary32).
// Narrowing rounds to nearest, ties to even, as PyTorch's .half() / .bfloat16() and the F16C
// instructions do; overflow gives infinity, tiny values become subnormals or signed zero, NaN stays
// NaN (quiet, sign and top payload bits kept).

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

let halfTable: Float32Array | undefined;

/** binary16 bits -> binary32 value; exact for every input, including subnormals, infinities and NaN. */
function halfBitsToFloat(h: number): number {
    const sign = (h & 0x8000) << 16;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) {
        // Zero or subnormal: mant * 2^-24, exactly representable in binary32.
        const v = mant * 2 ** -24;
        return sign ? -v : v;
    }
    scratchU32[0] =
        exp === 0x1f ? (sign | 0x7f800000 | (mant << 13)) >>> 0 : (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
    return scratchF32[0] as number;
}

function table(): Float32Array {
    if (halfTable === undefined) {
        halfTable = new Float32Array(65536);
        for (let h = 0; h < 65536; h++) halfTable[h] = halfBitsToFloat(h);
    }
    return halfTable;
}

/** binary32 bits -> binary16 bits, round to nearest even. */
function floatBitsToHalf(b: number): number {
    const sign = (b >>> 16) & 0x8000;
    const exp = (b >>> 23) & 0xff;
    const mant = b & 0x7fffff;
    if (exp === 0xff) return mant === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mant >>> 13);
    const e = exp - 112; // rebias 127 -> 15
    if (e >= 0x1f) return sign | 0x7c00;
    if (e <= 0) {
        // Subnormal half (or zero): the value is full * 2^(exp-150) = m * 2^-24 with m = full >> (14 - e).
        if (e < -10) return sign;
        const full = mant | 0x800000;
        const shift = 14 - e;
        let m = full >>> shift;
        const rem = full & ((1 << shift) - 1);
        const halfway = 1 << (shift - 1);
        if (rem > halfway || (rem === halfway && (m & 1) === 1)) m++;
        return sign | m; // a carry into bit 10 is exactly the smallest normal
    }
    let h = sign | (e << 10) | (mant >>> 13);
    const rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem === 0x1000 && (h & 1) === 1)) h++; // a carry may round up to infinity, as it should
    return h;
}

/** binary32 bits -> bfloat16 bits, round to nearest even. */
function floatBitsToBf16(b: number): number {
    if ((b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff) !== 0) return ((b >>> 16) | 0x40) & 0xffff;
    return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

/** The value of a binary16 number given by its 16 bits. */
export function f16ToF32(bits: number): number {
    return table()[bits & 0xffff] as number;
}

/** The binary16 bits nearest to `value` (first rounded to binary32, then to nearest even). */
export function f32ToF16(value: number): number {
    scratchF32[0] = value;
    return floatBitsToHalf(scratchU32[0] as number);
}

/** The value of a bfloat16 number given by its 16 bits. */
export function bf16ToF32(bits: number): number {
    scratchU32[0] = (bits & 0xffff) << 16;
    return scratchF32[0] as number;
}

/** The bfloat16 bits nearest to `value` (first rounded to binary32, then to nearest even). */
export function f32ToBf16(value: number): number {
    scratchF32[0] = value;
    return floatBitsToBf16(scratchU32[0] as number);
}

/** Widens binary16 bits to a new `Float32Array` (exact). */
export function float16ToFloat32Array(src: Uint16Array): Float32Array {
    const t = table();
    const out = new Float32Array(src.length);
    for (let i = 0; i < src.length; i++) out[i] = t[src[i] as number] as number;
    return out;
}

/** Narrows float32 values to binary16 bits (round to nearest even) in a new `Uint16Array`. */
export function float32ToFloat16Array(src: Float32Array): Uint16Array {
    const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
    const out = new Uint16Array(src.length);
    for (let i = 0; i < src.length; i++) out[i] = floatBitsToHalf(bits[i] as number);
    return out;
}

/** Widens bfloat16 bits to a new `Float32Array` (exact). */
export function bfloat16ToFloat32Array(src: Uint16Array): Float32Array {
    const out = new Float32Array(src.length);
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < src.length; i++) bits[i] = (src[i] as number) << 16;
    return out;
}

/** Narrows float32 values to bfloat16 bits (round to nearest even) in a new `Uint16Array`. */
export function float32ToBfloat16Array(src: Float32Array): Uint16Array {
    const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
    const out = new Uint16Array(src.length);
    for (let i = 0; i < src.length; i++) out[i] = floatBitsToBf16(bits[i] as number);
    return out;
}
