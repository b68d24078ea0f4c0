import {
    assertDType,
    assertShape,
    bf16ToF32,
    castFloat,
    f16ToF32,
    f32ToBf16,
    f32ToF16,
    float16ToFloat32Array,
    float32ToBfloat16Array,
    float32ToFloat16Array,
    numel,
    reshape,
    type Tensor,
    tensor,
    tensorBytes,
    tensorFromBytes,
    toFloat32,
    typedArrayFromBytes,
    zeros,
} from "@sam-ablate/tensor";
import { test } from "uvu";
import * as assert from "uvu/assert";

/** Throws unless `fn` throws an error whose `code` is `code`. */
function throwsCode(fn: () => unknown, code: string, messagePart?: string): void {
    try {
        fn();
    } catch (e) {
        assert.is((e as { code?: string }).code, code, String(e));
        if (messagePart !== undefined) assert.ok(String((e as Error).message).includes(messagePart), String(e));
        return;
    }
    assert.unreachable(`expected an error with code ${code}`);
}

/** Deterministic 32-bit generator (xorshift32) for reproducible random bit patterns. */
function xorshift(seed: number): () => number {
    let s = seed >>> 0 || 1;
    return () => {
        s ^= s << 13;
        s >>>= 0;
        s ^= s >>> 17;
        s ^= s << 5;
        s >>>= 0;
        return s;
    };
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const fromBits = (b: number): number => {
    u32[0] = b >>> 0;
    return f32[0] as number;
};

/**
 * Reference narrowing by exhaustive search: among all finite values of the 16-bit format (given by
 * `decode`), the nearest to `x` (exact in float64), ties to the even bit pattern; overflow past the
 * rounding boundary gives infinity.
 */
function referenceNarrow(x: number, decode: (bits: number) => number, maxFinite: number, infBits: number): number {
    const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
    const a = Math.abs(x);
    let lo = 0;
    let hi = maxFinite; // bit patterns of positive finite values are ordered like their values
    while (hi - lo > 1) {
        const mid = (lo + hi) >>> 1;
        if (decode(mid) <= a) lo = mid;
        else hi = mid;
    }
    if (a >= decode(maxFinite)) {
        // Past the largest finite value: round towards infinity once beyond half an ulp.
        const ulp = decode(maxFinite) - decode(maxFinite - 1);
        const boundary = decode(maxFinite) + ulp / 2;
        if (a > boundary || (a === boundary && (maxFinite & 1) === 1)) return sign | infBits;
        return sign | maxFinite;
    }
    const dl = a - decode(lo);
    const dh = decode(hi) - a;
    if (dl < dh) return sign | lo;
    if (dh < dl) return sign | hi;
    return sign | ((lo & 1) === 0 ? lo : hi);
}

test("numel, tensor(), zeros, reshape", () => {
    assert.is(numel([]), 1);
    assert.is(numel([2, 3, 4]), 24);
    assert.is(numel([5, 0, 3]), 0);
    const t = tensor("float32", [2, 3], new Float32Array([1, 2, 3, 4, 5, 6]));
    assert.is(numel(t), 6);
    const z = zeros("int64", [2, 2]);
    assert.ok(z.data instanceof BigInt64Array);
    assert.equal(Array.from(z.data), [0n, 0n, 0n, 0n]);
    const r = reshape(t, [3, 2]);
    assert.equal(r.shape, [3, 2]);
    assert.ok(r.data === t.data);
    const h = zeros("float16", [4]);
    assert.ok(h.data instanceof Uint16Array);
});

test("tensor() rejects bad shapes, wrong lengths and wrong array types", () => {
    throwsCode(() => tensor("float32", [2, -1]), "ERR_SA_TENSOR_SHAPE", "dimension 1");
    throwsCode(() => tensor("float32", [2.5]), "ERR_SA_TENSOR_SHAPE");
    throwsCode(() => tensor("float32", [2, 3], new Float32Array(5)), "ERR_SA_TENSOR_SHAPE", "needs 6 elements");
    throwsCode(
        () => tensor("float32", [2], new Float64Array(2) as unknown as Float32Array),
        "ERR_SA_TENSOR_DTYPE",
        "Float32Array",
    );
    throwsCode(() => tensor("complex64" as "float32", [1]), "ERR_SA_TENSOR_DTYPE");
    throwsCode(() => reshape(zeros("uint8", [6]), [4]), "ERR_SA_TENSOR_SHAPE", "cannot reshape");
});

test("assertShape and assertDType name the tensor and both shapes", () => {
    const t = zeros("float32", [1, 256, 64, 64]);
    assertShape(t, [1, 256, null, null]);
    throwsCode(
        () => assertShape(t, [1, 3, null, null], "image_embedding"),
        "ERR_SA_TENSOR_SHAPE",
        "image_embedding has shape [1, 256, 64, 64], expected [1, 3, *, *]",
    );
    assertDType(t, "float32");
    throwsCode(() => assertDType(t as Tensor, "float16", "w"), "ERR_SA_TENSOR_DTYPE", "w has dtype float32");
});

test("f16 -> f32 -> f16 round-trips every non-NaN half exactly", () => {
    for (let h = 0; h < 65536; h++) {
        const v = f16ToF32(h);
        const exp = (h >>> 10) & 0x1f;
        const mant = h & 0x3ff;
        if (exp === 0x1f && mant !== 0) {
            assert.ok(Number.isNaN(v), `half ${h.toString(16)} should be NaN`);
            const back = f32ToF16(v);
            assert.is(back & 0x7e00, 0x7e00, "NaN stays a quiet NaN");
            continue;
        }
        assert.is(f32ToF16(v), h, `half 0x${h.toString(16)} (${v})`);
    }
});

test("f16 decoding of known values (subnormals, extremes, signed zero, inf)", () => {
    assert.is(f16ToF32(0x3c00), 1);
    assert.is(f16ToF32(0xc000), -2);
    assert.is(f16ToF32(0x7bff), 65504);
    assert.is(f16ToF32(0x0001), 2 ** -24);
    assert.is(f16ToF32(0x03ff), 1023 * 2 ** -24);
    assert.is(f16ToF32(0x0400), 2 ** -14);
    assert.ok(Object.is(f16ToF32(0x8000), -0));
    assert.is(f16ToF32(0x7c00), Infinity);
    assert.is(f16ToF32(0xfc00), -Infinity);
    assert.ok(Number.isNaN(f16ToF32(0x7e00)));
});

test("f32 -> f16 rounds to nearest even at the edges", () => {
    assert.is(f32ToF16(65504), 0x7bff);
    assert.is(f32ToF16(65519.99), 0x7bff);
    assert.is(f32ToF16(65520), 0x7c00); // tie between 65504 and the next (infinite) step: even wins
    assert.is(f32ToF16(1e6), 0x7c00);
    assert.is(f32ToF16(-1e6), 0xfc00);
    assert.is(f32ToF16(2 ** -24), 0x0001);
    assert.is(f32ToF16(2 ** -25), 0x0000); // tie between 0 and the smallest subnormal
    assert.is(f32ToF16(1.5 * 2 ** -25), 0x0001);
    assert.is(f32ToF16(3 * 2 ** -25), 0x0002); // tie between 1 and 2 subnormal steps: even (2)
    assert.is(f32ToF16(2 ** -26), 0x0000);
    assert.is(f32ToF16(-(2 ** -30)), 0x8000);
    assert.is(f32ToF16(1 + 2 ** -11), 0x3c00); // tie: even mantissa (0)
    assert.is(f32ToF16(1 + 3 * 2 ** -11), 0x3c02); // tie: even mantissa (2)
    assert.is(f32ToF16(2 ** -14 * (1 - 2 ** -11)), 0x0400); // rounds up from the subnormals into the normals
    assert.is(f32ToF16(Infinity), 0x7c00);
    assert.is(f32ToF16(NaN), 0x7e00);
    assert.is(f32ToF16(-0), 0x8000);
});

test("f32 -> f16 matches an exhaustive-search reference on random float32 bit patterns", () => {
    const rnd = xorshift(12345);
    for (let i = 0; i < 200000; i++) {
        // Bias exponents towards the half range so that subnormals, normals and overflow all appear.
        let bits = rnd();
        if (i % 2 === 0) bits = (bits & 0x807fffff) | ((90 + (rnd() % 60)) << 23);
        const x = fromBits(bits);
        if (!Number.isFinite(x)) continue;
        const expected = referenceNarrow(x, (b) => f16ToF32(b), 0x7bff, 0x7c00);
        assert.is(f32ToF16(x), expected, `float32 bits 0x${(bits >>> 0).toString(16)} (${x})`);
    }
});

test("bf16 <-> f32: exact widening, nearest-even narrowing, NaN and inf", () => {
    assert.is(f32ToBf16(1), 0x3f80);
    assert.is(bf16ToF32(0x3f80), 1);
    assert.is(f32ToBf16(1 + 2 ** -8), 0x3f80); // tie to even
    assert.is(f32ToBf16(1 + 3 * 2 ** -8), 0x3f82); // tie to even
    assert.is(f32ToBf16(3.4028234663852886e38), 0x7f80); // float32 max rounds to infinity
    assert.is(f32ToBf16(-Infinity), 0xff80);
    assert.is(f32ToBf16(NaN) & 0x7fc0, 0x7fc0);
    assert.ok(Number.isNaN(bf16ToF32(0x7fc1)));
    assert.is(bf16ToF32(0x0001), 2 ** -133); // smallest subnormal
    for (let h = 0; h < 65536; h++) {
        const v = bf16ToF32(h);
        if (Number.isNaN(v)) continue;
        assert.is(f32ToBf16(v), h, `bf16 0x${h.toString(16)}`);
    }
    const rnd = xorshift(777);
    for (let i = 0; i < 100000; i++) {
        const bits = rnd();
        const x = fromBits(bits);
        if (!Number.isFinite(x)) continue;
        const expected = referenceNarrow(x, (b) => bf16ToF32(b), 0x7f7f, 0x7f80);
        assert.is(f32ToBf16(x), expected, `float32 bits 0x${(bits >>> 0).toString(16)}`);
    }
});

test("array conversions agree with the scalar ones", () => {
    const rnd = xorshift(99);
    const src = new Float32Array(4096);
    const srcBits = new Uint32Array(src.buffer);
    for (let i = 0; i < src.length; i++) srcBits[i] = (rnd() & 0x87ffffff) | ((100 + (i % 50)) << 23);
    const h = float32ToFloat16Array(src);
    const b = float32ToBfloat16Array(src);
    for (let i = 0; i < src.length; i++) {
        assert.is(h[i], f32ToF16(src[i] as number));
        assert.is(b[i], f32ToBf16(src[i] as number));
    }
    const back = float16ToFloat32Array(h);
    for (let i = 0; i < h.length; i++) assert.is(back[i], f16ToF32(h[i] as number));
});

test("toFloat32 and castFloat convert every dtype", () => {
    const f = tensor("float32", [3], new Float32Array([1.5, -2, 0.1]));
    assert.ok(toFloat32(f) === f, "float32 is returned as is");
    const half = castFloat(f, "float16");
    assert.is(half.dtype, "float16");
    assert.equal(Array.from(half.data), [0x3e00, 0xc000, f32ToF16(0.1)]);
    assert.equal(Array.from(toFloat32(half).data), [1.5, -2, f16ToF32(f32ToF16(0.1))]);
    const bf = castFloat(f, "bfloat16");
    assert.equal(Array.from(toFloat32(bf).data), [1.5, -2, bf16ToF32(f32ToBf16(0.1))]);
    const i64 = tensor("int64", [2], new BigInt64Array([3n, -(2n ** 40n)]));
    assert.equal(Array.from(toFloat32(i64).data), [3, -(2 ** 40)]);
    assert.equal(Array.from(toFloat32(tensor("bool", [2], new Uint8Array([1, 0]))).data), [1, 0]);
    assert.equal(Array.from(toFloat32(tensor("int8", [2], new Int8Array([-128, 127]))).data), [-128, 127]);
    const d = castFloat(half, "float64");
    assert.equal(Array.from(d.data), [1.5, -2, f16ToF32(f32ToF16(0.1))]);
    assert.equal(toFloat32(d).shape, [3]);
});

test("bytes <-> tensors: little-endian, unaligned input, size checks", () => {
    const t = tensor("float32", [2], new Float32Array([1, -2]));
    const bytes = tensorBytes(t);
    assert.equal(Array.from(bytes), [0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0]);
    const unaligned = new Uint8Array(9);
    unaligned.set(bytes, 1);
    const back = tensorFromBytes("float32", [2], unaligned.subarray(1));
    assert.equal(Array.from(back.data), [1, -2]);
    const view = typedArrayFromBytes("float32", bytes, false);
    assert.ok(view.buffer === t.data.buffer, "aligned bytes are viewed without a copy when asked");
    const i64 = typedArrayFromBytes("int64", new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
    assert.equal(Array.from(i64), [-1n]);
    throwsCode(() => tensorFromBytes("float32", [3], bytes), "ERR_SA_TENSOR_SHAPE", "needs 12 bytes");
    throwsCode(() => typedArrayFromBytes("int16", new Uint8Array(3)), "ERR_SA_TENSOR_SHAPE");
});

test.run();
