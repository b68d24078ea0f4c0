// SAM's image preprocessing: the Pillow BILINEAR resize against a plain per-pixel transcription of
// Pillow's algorithm (same bytes for up- and downsampling, 1 and 3 channels, odd sizes), and the
// normalisation into a reused buffer against a fresh one.
import {
    normalizeAndPad,
    PIXEL_MEAN,
    PIXEL_STD,
    postprocessMasks,
    preprocessImage,
    resizeBilinearF32,
    resizeBilinearU8,
} from "@sam-ablate/model";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { lcg, randomImage } from "../helpers/lcg.js";

// Pillow's ImagingResample for 8-bit images, one output value at a time: triangle-filter coefficients
// (support scaled when shrinking), normalised, rounded to 22-bit fixed point; horizontal pass, then
// vertical, each rounded and clipped to 0..255.
function coefficients(inSize: number, outSize: number): { lo: number[]; taps: number[][] } {
    const scale = inSize / outSize;
    const filterScale = Math.max(scale, 1);
    const lo: number[] = [];
    const taps: number[][] = [];
    for (let i = 0; i < outSize; i++) {
        const center = (i + 0.5) * scale;
        const xmin = Math.max(0, Math.floor(center - filterScale + 0.5));
        const xmax = Math.min(inSize, Math.floor(center + filterScale + 0.5));
        const w: number[] = [];
        for (let x = xmin; x < xmax; x++) w.push(Math.max(0, 1 - Math.abs((x - center + 0.5) / filterScale)));
        const total = w.reduce((a, b) => a + b, 0);
        lo.push(xmin);
        taps.push(w.map((v) => Math.trunc((total ? v / total : v) * 2 ** 22 + 0.5)));
    }
    return { lo, taps };
}

function referenceResize(src: Uint8Array, h: number, w: number, c: number, nh: number, nw: number): Uint8Array {
    const clip = (ss: number) => Math.min(255, Math.max(0, Math.floor(ss / 2 ** 22)));
    let cur = src;
    let cw = w;
    if (nw !== w) {
        const { lo, taps } = coefficients(w, nw);
        const out = new Uint8Array(h * nw * c);
        for (let y = 0; y < h; y++)
            for (let x = 0; x < nw; x++)
                for (let ch = 0; ch < c; ch++) {
                    let ss = 2 ** 21;
                    (taps[x] as number[]).forEach((k, i) => {
                        ss += (cur[(y * cw + (lo[x] as number) + i) * c + ch] as number) * k;
                    });
                    out[(y * nw + x) * c + ch] = clip(ss);
                }
        cur = out;
        cw = nw;
    }
    if (nh !== h) {
        const { lo, taps } = coefficients(h, nh);
        const out = new Uint8Array(nh * cw * c);
        for (let y = 0; y < nh; y++)
            for (let x = 0; x < cw; x++)
                for (let ch = 0; ch < c; ch++) {
                    let ss = 2 ** 21;
                    (taps[y] as number[]).forEach((k, i) => {
                        ss += (cur[(((lo[y] as number) + i) * cw + x) * c + ch] as number) * k;
                    });
                    out[(y * cw + x) * c + ch] = clip(ss);
                }
        cur = out;
    }
    return cur;
}

const SHAPES: [number, number, number, number][] = [
    [64, 64, 256, 256], // patches upsampled 4x, as for a 1024 model input from 256 patches
    [120, 170, 181, 256], // the golden fixture's image
    [75, 50, 256, 171],
    [256, 256, 64, 64], // shrinking: wider support (antialiased)
    [300, 170, 128, 73],
    [7, 13, 140, 260], // tiny to large
    [40, 40, 40, 160], // one axis only
];

test("resizeBilinearU8 gives Pillow's bytes, growing and shrinking, 1 and 3 channels", () => {
    let seed = 1;
    for (const [h, w, nh, nw] of SHAPES)
        for (const c of [1, 3]) {
            const src = randomImage(h * w * c, seed++);
            const got = resizeBilinearU8(src, h, w, c, nh, nw);
            const want = referenceResize(src, h, w, c, nh, nw);
            assert.is(got.length, want.length);
            let diff = 0;
            for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) diff++;
            assert.is(diff, 0, `${h}x${w}x${c} -> ${nh}x${nw}: ${diff} bytes differ`);
        }
    // same size: a copy, never the input itself
    const src = randomImage(12, 9);
    const same = resizeBilinearU8(src, 2, 2, 3, 2, 2);
    assert.equal([...same], [...src]);
    assert.ok(same !== src);
    assert.throws(() => resizeBilinearU8(src, 3, 2, 3, 4, 4), /expected 18 bytes, got 12/);
});

test("normalizeAndPad: SAM's mean and std per channel, zero padding, the same bits into a reused buffer", () => {
    const [h, w, size] = [5, 3, 8];
    const rgb = randomImage(h * w * 3, 4);
    const fresh = normalizeAndPad(rgb, h, w, size);
    for (let ch = 0; ch < 3; ch++)
        for (let y = 0; y < size; y++)
            for (let x = 0; x < size; x++) {
                const v = fresh[ch * size * size + y * size + x] as number;
                if (y >= h || x >= w) assert.is(v, 0);
                else {
                    const want = Math.fround(
                        ((rgb[(y * w + x) * 3 + ch] as number) - (PIXEL_MEAN[ch] as number)) /
                            (PIXEL_STD[ch] as number),
                    );
                    assert.is(v, want);
                }
            }
    const reused = new Float32Array(3 * size * size).fill(Number.NaN);
    assert.ok(normalizeAndPad(rgb, h, w, size, reused) === reused);
    assert.equal([...reused], [...fresh]);
    assert.throws(() => normalizeAndPad(rgb, h, w, size, new Float32Array(10)), /out holds 10 floats, expected 192/);
    assert.throws(() => normalizeAndPad(rgb, h, w, 4), /larger than 4/);
    // preprocessImage writes into the buffer it is given
    const buf = new Float32Array(3 * 32 * 32).fill(7);
    const { input, inputSize } = preprocessImage(rgb, h, w, 32, buf);
    assert.ok(input === buf);
    assert.equal(inputSize, [32, 19]);
    assert.equal([...input], [...preprocessImage(rgb, h, w, 32).input]);
});

test("postprocessMasks: the bits of upsampling the whole map, cropping and resizing, for any sizes", () => {
    // SAM's postprocess_masks as three plain steps: the whole size x size map, the crop, the resize.
    const reference = (
        low: Float32Array,
        N: number,
        m: number,
        size: number,
        [ih, iw]: [number, number],
        [oh, ow]: [number, number],
    ) => {
        const up = resizeBilinearF32(low, N, m, m, size, size);
        const crop = new Float32Array(N * ih * iw);
        for (let n = 0; n < N; n++)
            for (let y = 0; y < ih; y++)
                crop.set(up.subarray((n * size + y) * size, (n * size + y) * size + iw), (n * ih + y) * iw);
        return oh === ih && ow === iw ? crop : resizeBilinearF32(crop, N, ih, iw, oh, ow);
    };
    const cases: [number, number, number, [number, number], [number, number]][] = [
        [1, 256, 1024, [1024, 1024], [256, 256]], // a BraTS/BCSS patch in the ViT input
        [3, 256, 1024, [661, 1024], [155, 240]], // oblong, three masks
        [2, 16, 64, [45, 64], [120, 170]], // the original larger than the input: the second resize grows
        [1, 64, 256, [181, 256], [181, 256]], // no second resize: the crop itself
        [1, 32, 128, [128, 5], [1000, 37]],
    ];
    let seed = 5;
    for (const [N, m, size, input, original] of cases) {
        const next = lcg(seed++, 1103515245, 12345);
        const low = Float32Array.from({ length: N * m * m }, () => next() * 40 - 20);
        const got = postprocessMasks(low, N, m, m, size, input, original);
        const want = reference(low, N, m, size, input, original);
        assert.is(got.length, want.length);
        let diff = 0;
        for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) diff++;
        assert.is(diff, 0, `${N}x${m}x${m} -> ${size} -> ${input} -> ${original}: ${diff} values differ`);
    }
    assert.throws(() => postprocessMasks(new Float32Array(3), 1, 2, 2, 8, [8, 8], [4, 4]), /expected 4 values, got 3/);
});

test.run();
