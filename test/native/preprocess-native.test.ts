// The native preprocessing (sa/preprocess.h, the embed pipeline's): the bits of the TypeScript
// preprocessImage (itself checked against Pillow's algorithm in test/standalone/preprocess.test.ts) for
// growing and shrinking, square and oblong images; every value of the output written; bad arguments
// rejected with a coded error before any work.
import { preprocessImage } from "@sam-ablate/model";
import { loadAddon } from "@sam-ablate/native";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { randomImage } from "../helpers/lcg.js";

const addon = loadAddon();

test("the same bits as preprocessImage, growing, shrinking and keeping the size", async () => {
    const cases: [number, number, number][] = [
        [256, 256, 1024], // BraTS/BCSS patches to the ViT input
        [120, 170, 256], // the golden fixture's image
        [64, 64, 64], // no resize
        [300, 170, 256], // shrinking, oblong
        [1000, 37, 512],
        [13, 7, 1024],
    ];
    let seed = 3;
    for (const [h, w, size] of cases) {
        const rgb = randomImage(h * w * 3, seed++);
        const want = preprocessImage(rgb, h, w, size);
        const out = new Float32Array(3 * size * size).fill(Number.NaN); // every value must be written
        const shape = await addon.preprocessImage(rgb, h, w, size, out);
        assert.equal(shape, want.inputSize);
        let diff = 0;
        for (let i = 0; i < out.length; i++) if (!Object.is(out[i], want.input[i])) diff++;
        assert.is(diff, 0, `${h}x${w} -> ${size}: ${diff} values differ`);
    }
});

test("a subarray of a larger buffer is written in place, nothing around it", async () => {
    const [h, w, size] = [20, 30, 32];
    const plane = 3 * size * size;
    const big = new Float32Array(3 * plane).fill(-7);
    const rgb = randomImage(h * w * 3, 11);
    await addon.preprocessImage(rgb, h, w, size, big.subarray(plane, 2 * plane));
    assert.ok(big.subarray(0, plane).every((v) => v === -7));
    assert.ok(big.subarray(2 * plane).every((v) => v === -7));
    assert.equal([...big.subarray(plane, 2 * plane)], [...preprocessImage(rgb, h, w, size).input]);
});

test("bad arguments are rejected with ERR_SA_INVALID_ARG", () => {
    const out = new Float32Array(3 * 16 * 16);
    const bad = (f: () => unknown, re: RegExp) => {
        try {
            f();
            assert.unreachable("accepted");
        } catch (e) {
            assert.match((e as Error).message, re);
            assert.is((e as { code?: string }).code, "ERR_SA_INVALID_ARG");
        }
    };
    bad(() => addon.preprocessImage(new Uint8Array(10), 2, 2, 16, out), /rgb holds 10 bytes, expected .* = 12/);
    bad(() => addon.preprocessImage(new Uint8Array(12), 2, 2, 8, out), /out holds 768 floats, expected .* = 192/);
    bad(() => addon.preprocessImage(new Uint8Array(12), 2, 2.5, 16, out), /integers/);
    bad(() => addon.preprocessImage(new Uint8Array(0), 0, 2, 16, out), /integers/);
    bad(
        () => addon.preprocessImage(new Float32Array(12) as unknown as Uint8Array, 2, 2, 16, out),
        /rgb must be a Uint8Array/,
    );
});

test.run();
