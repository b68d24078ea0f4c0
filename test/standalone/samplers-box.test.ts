// Tight and jittered boxes: containment, bounds of every jitter mode, clamping, and the logged IoU.
import {
    type BinaryMask,
    type Box,
    type BoxJitter,
    boxIoU,
    jitterBox,
    MaskIndex,
    parseStrategy,
    Rng,
    rngFor,
    samplePrompt,
    summarizePromptReports,
    validateJitter,
} from "@sam-ablate/samplers";
import { test } from "uvu";
import * as assert from "uvu/assert";

const EPS = 1e-9;

/** Random masks: a few random pixels (so boxes of every size and position), some touching borders. */
function randomMasks(count: number, seed: number): BinaryMask[] {
    const r = Rng.fromSeed(seed);
    const out: BinaryMask[] = [];
    for (let i = 0; i < count; i++) {
        const w = 1 + r.int(i % 7 === 0 ? 3 : 60);
        const h = 1 + r.int(i % 5 === 0 ? 3 : 60);
        const data = new Uint8Array(w * h);
        const k = 1 + r.int(Math.min(6, w * h));
        for (const p of r.sample(w * h, k)) data[p] = 1;
        out.push({ width: w, height: h, data });
    }
    return out;
}

const MASKS = randomMasks(300, 77);

const inPatch = (b: Box, m: { width: number; height: number }): boolean =>
    b[0] >= 0 && b[1] >= 0 && b[2] <= m.width - 1 && b[3] <= m.height - 1 && b[0] <= b[2] && b[1] <= b[3];

const contains = (outer: Box, inner: Box): boolean =>
    outer[0] <= inner[0] + EPS &&
    outer[1] <= inner[1] + EPS &&
    outer[2] >= inner[2] - EPS &&
    outer[3] >= inner[3] - EPS;

/** Outward moves of the four sides (x0, y0, x1, y1) from `tight` to `box` (negative = inward). */
const moves = (tight: Box, box: Box): number[] => [
    tight[0] - box[0],
    tight[1] - box[1],
    box[2] - tight[2],
    box[3] - tight[3],
];

test("boxIoU on hand-computed cases (inclusive pixel boxes)", () => {
    assert.is(boxIoU([2, 3, 5, 7], [2, 3, 5, 7]), 1);
    assert.is(boxIoU([0, 0, 0, 0], [0, 0, 1, 1]), 1 / 4);
    assert.is(boxIoU([0, 0, 1, 1], [1, 1, 2, 2]), 1 / 7);
    assert.is(boxIoU([0, 0, 1, 1], [3, 3, 4, 4]), 0);
    assert.is(boxIoU([0, 0, 9, 0], [0, 0, 4, 0]), 0.5);
    assert.ok(Math.abs(boxIoU([0, 0, 1.5, 1], [0, 0, 1, 1]) - 4 / 5) < EPS);
});

test("a tight-box prompt is the exact box with IoU 1", () => {
    for (const [i, m] of MASKS.entries()) {
        const { prompt, report } = samplePrompt(m, parseStrategy("box").plan, rngFor(0, i, 0));
        assert.equal(prompt.box, new MaskIndex(m).tightBox);
        assert.equal(prompt.points, []);
        assert.equal(report.box, { kind: "tight", iouWithTight: 1, clamped: false });
    }
});

test("outward jitter: contains the tight box, stays in the patch, each side moves by at most j x length", () => {
    for (const [i, m] of MASKS.entries()) {
        const tight = new MaskIndex(m).tightBox;
        const lengths = [tight[2] - tight[0] + 1, tight[3] - tight[1] + 1];
        let previous: Box | null = null;
        let previousIoU = 1;
        for (const j of [0, 5, 10, 20, 50]) {
            const { prompt, report } = samplePrompt(
                m,
                parseStrategy(j === 0 ? "box_jitter0" : `box_jitter${j}`).plan,
                rngFor(4, i, 0),
            );
            const box = prompt.box as Box;
            assert.ok(inPatch(box, m), `jitter ${j}: ${box} outside ${m.width}x${m.height}`);
            assert.ok(contains(box, tight), `jitter ${j}: ${box} does not contain ${tight}`);
            moves(tight, box).forEach((move, side) => {
                assert.ok(
                    move >= -EPS && move <= (j / 100) * (lengths[side % 2] as number) + EPS,
                    `side ${side} moved ${move}`,
                );
            });
            assert.ok(report.box !== undefined && Math.abs(report.box.iouWithTight - boxIoU(box, tight)) < EPS);
            // The same draws scaled by a larger amount give a larger box: boxes nest, IoU decreases.
            if (previous)
                assert.ok(contains(box, previous), `jitter ${j} box does not contain the smaller jitter's box`);
            assert.ok(report.box.iouWithTight <= previousIoU + EPS);
            previous = box;
            previousIoU = report.box.iouWithTight;
        }
    }
});

test("outward jitter moves the sides by the expected amount on average", () => {
    // A 40x40 box centred in a 256x256 patch is never clamped at 20%: each side moves U(0, 8) pixels.
    const data = new Uint8Array(256 * 256);
    for (let y = 108; y < 148; y++) for (let x = 108; x < 148; x++) data[y * 256 + x] = 1;
    const m = { width: 256, height: 256, data };
    const index = new MaskIndex(m);
    let total = 0;
    const trials = 2000;
    for (let s = 0; s < trials; s++) {
        const box = samplePrompt(index, parseStrategy("box_jitter20").plan, rngFor(1, "blob", s)).prompt.box as Box;
        total += moves(index.tightBox, box).reduce((a, b) => a + b, 0) / 4;
    }
    // Mean of U(0, 8) is 4, its sd 8/sqrt(12); the mean of 8000 draws has sd 0.026.
    assert.ok(Math.abs(total / trials - 4) < 0.15, `mean move ${total / trials}`);
});

test("jitter clamps to the patch and reports it", () => {
    const m = { width: 5, height: 4, data: new Uint8Array(20).fill(1) };
    const { prompt, report } = samplePrompt(m, parseStrategy("box_jitter20").plan, rngFor(0, "full", 0));
    assert.equal(prompt.box, [0, 0, 4, 3]);
    assert.equal(report.box, { kind: "jittered", iouWithTight: 1, clamped: true });
});

test("symmetric and pixel jitter move each side within bounds and never invert the box", () => {
    const jitters: ({ mode: "symmetric"; fraction: number } | { mode: "pixels"; pixels: number })[] = [
        { mode: "symmetric", fraction: 0.1 },
        { mode: "symmetric", fraction: 0.9 },
        { mode: "pixels", pixels: 3 },
        { mode: "pixels", pixels: 40 },
    ];
    for (const [i, m] of MASKS.entries()) {
        const tight = new MaskIndex(m).tightBox;
        const lengths = [tight[2] - tight[0] + 1, tight[3] - tight[1] + 1];
        for (const jitter of jitters) {
            for (let s = 0; s < 3; s++) {
                const j = jitterBox(tight, jitter, m, rngFor(9, i, s));
                assert.ok(inPatch(j.box, m), `${JSON.stringify(jitter)}: ${j.box}`);
                assert.ok(j.box[0] <= j.box[2] && j.box[1] <= j.box[3], `inverted ${j.box}`);
                moves(tight, j.box).forEach((move, side) => {
                    const bound =
                        jitter.mode === "pixels" ? jitter.pixels : jitter.fraction * (lengths[side % 2] as number);
                    assert.ok(Math.abs(move) <= bound + EPS, `${JSON.stringify(jitter)} side ${side} moved ${move}`);
                    if (jitter.mode === "pixels") assert.ok(Number.isInteger(move), `pixel move ${move}`);
                });
                assert.ok(Math.abs(j.iouWithOriginal - boxIoU(j.box, tight)) < EPS);
            }
        }
    }
});

test("symmetric jitter moves sides both inward and outward", () => {
    const data = new Uint8Array(100 * 100);
    for (let y = 30; y < 70; y++) for (let x = 30; x < 70; x++) data[y * 100 + x] = 1;
    const tight = new MaskIndex({ width: 100, height: 100, data }).tightBox;
    let inward = 0;
    let outward = 0;
    for (let s = 0; s < 200; s++) {
        const j = jitterBox(
            tight,
            { mode: "symmetric", fraction: 0.1 },
            { width: 100, height: 100 },
            rngFor(0, "sym", s),
        );
        for (const move of moves(tight, j.box)) {
            if (move < 0) inward++;
            if (move > 0) outward++;
        }
    }
    assert.ok(inward > 300 && outward > 300, `inward ${inward}, outward ${outward}`);
});

test("MedSAM jitter moves each side outward by 0..20 pixels at 1024, scaled to the patch", () => {
    const data = new Uint8Array(256 * 256);
    for (let y = 100; y < 150; y++) for (let x = 90; x < 170; x++) data[y * 256 + x] = 1;
    const m = { width: 256, height: 256, data };
    const tight = new MaskIndex(m).tightBox;
    const seen = new Set<number>();
    for (let s = 0; s < 300; s++) {
        const { prompt } = samplePrompt(m, parseStrategy("box_jittermedsam").plan, rngFor(0, "medsam", s));
        for (const move of moves(tight, prompt.box as Box)) {
            // 256/1024 = 0.25 pixel per step at 1024.
            assert.ok(Number.isInteger(move * 4) && move >= 0 && move <= 5, `move ${move}`);
            seen.add(move * 4);
        }
    }
    assert.is(seen.size, 21);
});

test("the logged mean jitter IoU decreases with the jitter amount", () => {
    const means = [5, 10, 20].map((j) => {
        const reports = MASKS.map(
            (m, i) => samplePrompt(m, parseStrategy(`box_jitter${j}`).plan, rngFor(3, i, 0)).report,
        );
        const s = summarizePromptReports(reports);
        assert.ok(s.jitter !== null && s.jitter.count === MASKS.length);
        return s.jitter.meanIoU;
    });
    assert.ok((means[0] as number) > (means[1] as number) && (means[1] as number) > (means[2] as number), `${means}`);
    assert.ok((means[0] as number) < 1 && (means[2] as number) > 0.5);
});

test("malformed jitter is rejected with ERR_SA_INVALID_ARG", () => {
    for (const bad of [
        { mode: "outward", fraction: -0.1 },
        { mode: "symmetric", fraction: Number.NaN },
        { mode: "pixels", pixels: 1.5 },
        { mode: "medsam", pixelsAt1024: -1 },
        { mode: "sideways", fraction: 0.1 },
    ]) {
        assert.throws(
            () => validateJitter(bad as BoxJitter),
            (e: unknown) => (e as { code?: string }).code === "ERR_SA_INVALID_ARG",
        );
    }
});

test.run();
