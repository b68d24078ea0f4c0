// Property tests of the prompt samplers over many kinds of masks.
import {
    type BinaryMask,
    type Box,
    EmptyMaskError,
    MaskIndex,
    type PromptPlan,
    parseStrategy,
    Rng,
    rngFor,
    samplePrompt,
    summarizePromptReports,
    tightBox,
} from "@sam-ablate/samplers";
import { test } from "uvu";
import * as assert from "uvu/assert";

type Family = (r: Rng, w: number, h: number) => Uint8Array;

const set = (m: Uint8Array, w: number, x: number, y: number): void => {
    m[y * w + x] = 1;
};

/** Mask families covering the edge cases of the samplers. */
const FAMILIES: Record<string, Family> = {
    singlePixel: (r, w, h) => {
        const m = new Uint8Array(w * h);
        set(m, w, r.int(w), r.int(h));
        return m;
    },
    horizontalLine: (r, w, h) => {
        const m = new Uint8Array(w * h);
        const y = r.int(h);
        const a = r.int(w);
        const b = r.int(w);
        for (let x = Math.min(a, b); x <= Math.max(a, b); x++) set(m, w, x, y);
        return m;
    },
    diagonalLine: (r, w, h) => {
        const m = new Uint8Array(w * h);
        const n = Math.min(w, h);
        const start = r.int(n);
        for (let i = start; i < n; i++) set(m, w, i, i);
        return m;
    },
    ring: (r, w, h) => {
        const m = new Uint8Array(w * h);
        const cx = r.uniform(0, w);
        const cy = r.uniform(0, h);
        const outer = r.uniform(2, Math.max(3, Math.min(w, h)));
        const inner = outer * r.uniform(0.4, 0.8);
        for (let y = 0; y < h; y++) {
            for (let x = 0; x < w; x++) {
                const d = Math.hypot(x - cx, y - cy);
                if (d <= outer && d >= inner) set(m, w, x, y);
            }
        }
        if (!m.some((v) => v)) set(m, w, Math.min(w - 1, Math.floor(cx)), Math.min(h - 1, Math.floor(cy)));
        return m;
    },
    touchingAllBorders: (r, w, h) => {
        const m = new Uint8Array(w * h);
        const cx = r.int(w);
        const cy = r.int(h);
        for (let x = 0; x < w; x++) set(m, w, x, cy);
        for (let y = 0; y < h; y++) set(m, w, cx, y);
        return m;
    },
    frame: (_r, w, h) => {
        const m = new Uint8Array(w * h);
        for (let x = 0; x < w; x++) {
            set(m, w, x, 0);
            set(m, w, x, h - 1);
        }
        for (let y = 0; y < h; y++) {
            set(m, w, 0, y);
            set(m, w, w - 1, y);
        }
        return m;
    },
    severalComponents: (r, w, h) => {
        const m = new Uint8Array(w * h);
        const blobs = 2 + r.int(4);
        for (let b = 0; b < blobs; b++) {
            const cx = r.int(w);
            const cy = r.int(h);
            const rad = r.uniform(0.5, 4);
            for (let y = 0; y < h; y++) {
                for (let x = 0; x < w; x++) if (Math.hypot(x - cx, y - cy) <= rad) set(m, w, x, y);
            }
        }
        return m;
    },
    fewPixels: (r, w, h) => {
        const m = new Uint8Array(w * h);
        const k = 1 + r.int(Math.min(4, w * h));
        for (const i of r.sample(w * h, k)) m[i] = 1;
        return m;
    },
    fullPatch: (_r, w, h) => new Uint8Array(w * h).fill(1),
    noise: (r, w, h) => {
        const m = new Uint8Array(w * h);
        const p = r.uniform(0.05, 0.95);
        for (let i = 0; i < m.length; i++) m[i] = r.float() < p ? 255 : 0;
        if (!m.some((v) => v)) m[r.int(m.length)] = 1;
        return m;
    },
};

interface Case {
    name: string;
    mask: BinaryMask;
}

/** Random masks of every family, including 1xN and Nx1 patches. */
function cases(count: number, seed: number): Case[] {
    const r = Rng.fromSeed(seed);
    const out: Case[] = [];
    const names = Object.keys(FAMILIES);
    for (let i = 0; i < count; i++) {
        const name = names[i % names.length] as string;
        const shape = r.int(5);
        const w = shape === 0 ? 1 : 1 + r.int(40);
        const h = shape === 1 ? 1 : 1 + r.int(40);
        const data = (FAMILIES[name] as Family)(r, w, h);
        out.push({ name: `${name} ${w}x${h} #${i}`, mask: { width: w, height: h, data } });
    }
    return out;
}

const CASES = cases(400, 2024);

const isFg = (m: BinaryMask, x: number, y: number): boolean =>
    Number.isInteger(x) &&
    Number.isInteger(y) &&
    x >= 0 &&
    y >= 0 &&
    x < m.width &&
    y < m.height &&
    m.data[y * m.width + x] !== 0;

function foregroundCount(m: BinaryMask): number {
    let n = 0;
    for (const v of m.data) if (v) n++;
    return n;
}

function bruteTightBox(m: BinaryMask): Box {
    let x0 = Infinity;
    let y0 = Infinity;
    let x1 = -Infinity;
    let y1 = -Infinity;
    for (let y = 0; y < m.height; y++) {
        for (let x = 0; x < m.width; x++) {
            if (isFg(m, x, y)) {
                x0 = Math.min(x0, x);
                y0 = Math.min(y0, y);
                x1 = Math.max(x1, x);
                y1 = Math.max(y1, y);
            }
        }
    }
    return [x0, y0, x1, y1];
}

/** Distance from (x, y) to the nearest foreground pixel, by brute force. */
function distanceToForeground(m: BinaryMask, x: number, y: number): number {
    let best = Infinity;
    for (let yy = 0; yy < m.height; yy++) {
        for (let xx = 0; xx < m.width; xx++) if (isFg(m, xx, yy)) best = Math.min(best, Math.hypot(x - xx, y - yy));
    }
    return best;
}

test("tight box is the min/max of the foreground and contains every foreground pixel", () => {
    for (const c of CASES) {
        const box = tightBox(c.mask);
        assert.equal(box, bruteTightBox(c.mask), c.name);
        assert.equal(new MaskIndex(c.mask).tightBox, box, c.name);
    }
    assert.is(tightBox({ width: 3, height: 2, data: new Uint8Array(6) }), null);
});

test("positive points are foreground pixels, distinct unless the mask is smaller than N", () => {
    for (const [k, c] of CASES.entries()) {
        const fg = foregroundCount(c.mask);
        for (const n of [1, 3, 10, 50]) {
            const { prompt, report } = samplePrompt(
                c.mask,
                { positive: { kind: "random", count: n }, box: { kind: "none" } },
                rngFor(1, k, n),
            );
            assert.is(prompt.points.length, n, c.name);
            assert.ok(prompt.labels.every((l) => l === 1));
            for (const [x, y] of prompt.points) assert.ok(isFg(c.mask, x, y), `${c.name}: (${x}, ${y})`);
            assert.is(report.positive.withReplacement, fg < n, c.name);
            if (fg >= n) assert.is(new Set(prompt.points.map((p) => p.join())).size, n, c.name);
            assert.is(prompt.box, undefined);
        }
    }
});

test("negative points come from the chosen background region", () => {
    for (const [k, c] of CASES.entries()) {
        const m = c.mask;
        const fg = foregroundCount(m);
        const bg = m.width * m.height - fg;
        const tb = bruteTightBox(m);
        let boxBackground = 0;
        for (let y = tb[1]; y <= tb[3]; y++) for (let x = tb[0]; x <= tb[2]; x++) if (!isFg(m, x, y)) boxBackground++;
        for (const region of [{ kind: "patch" }, { kind: "box" }, { kind: "ring", radius: 2 }] as const) {
            const plan: PromptPlan = {
                positive: { kind: "random", count: 5 },
                negative: { count: 7, region },
                box: { kind: "none" },
            };
            const { prompt, report } = samplePrompt(m, plan, rngFor(2, k, 0, region.kind));
            const negatives = prompt.points.filter((_, i) => prompt.labels[i] === 0);
            assert.is(prompt.labels.slice(0, 5).join(), "1,1,1,1,1", c.name);
            assert.ok(report.negative !== undefined);
            if (bg === 0) {
                assert.is(negatives.length, 0, c.name);
                assert.is(report.negative.candidates, 0);
                continue;
            }
            assert.is(negatives.length, 7, c.name);
            for (const [x, y] of negatives) {
                assert.ok(!isFg(m, x, y) && x >= 0 && y >= 0 && x < m.width && y < m.height, `${c.name}: (${x}, ${y})`);
                if (region.kind === "box" && !report.negative.fellBack) {
                    assert.ok(
                        x >= tb[0] && x <= tb[2] && y >= tb[1] && y <= tb[3],
                        `${c.name}: (${x}, ${y}) outside box`,
                    );
                }
                if (region.kind === "ring") assert.ok(distanceToForeground(m, x, y) <= 2 + 1e-9, c.name);
            }
            if (region.kind === "box") {
                assert.is(report.negative.fellBack, boxBackground === 0, c.name);
                assert.is(report.negative.regionUsed, boxBackground === 0 ? "patch" : "box");
            }
        }
    }
});

test("the ring region holds exactly the background pixels within the radius", () => {
    for (const c of CASES.slice(0, 120)) {
        const index = new MaskIndex(c.mask);
        for (const radius of [1, 2.5]) {
            const expected: number[] = [];
            for (let y = 0; y < c.mask.height; y++) {
                for (let x = 0; x < c.mask.width; x++) {
                    if (!isFg(c.mask, x, y) && distanceToForeground(c.mask, x, y) <= radius)
                        expected.push(y * c.mask.width + x);
                }
            }
            assert.equal([...index.backgroundRing(radius)], expected, c.name);
        }
    }
});

test("50 + 50 keeps the total and the positive points of a shared stream", () => {
    const m = CASES.find(
        (c) => foregroundCount(c.mask) > 120 && foregroundCount(c.mask) < c.mask.data.length - 60,
    )?.mask;
    assert.ok(m, "a large enough mask exists");
    const rng = rngFor(5, "case", 0);
    const a = samplePrompt(m, parseStrategy("pos50_neg50_box").plan, rng);
    assert.is(a.prompt.points.length, 100);
    assert.is(a.prompt.labels.filter((l) => l === 1).length, 50);
    assert.ok(a.prompt.box !== undefined);
    // Strategies sharing a component share its randomness.
    const p10 = samplePrompt(m, parseStrategy("points10").plan, rng).prompt;
    const p10box = samplePrompt(m, parseStrategy("points10_box").plan, rng).prompt;
    assert.equal(p10.points, p10box.points);
    assert.equal(p10box.box, bruteTightBox(m));
});

test("same seed and image give the same prompt; other images and steps give other prompts", () => {
    // A blob away from the patch border, so that jittered boxes are not clamped to the patch.
    const data = new Uint8Array(64 * 64);
    for (let y = 20; y < 44; y++)
        for (let x = 16; x < 40; x++) if (Math.hypot(x - 28, y - 32) < 11) data[y * 64 + x] = 1;
    const m = { width: 64, height: 64, data };
    const index = new MaskIndex(m);
    for (const id of ["points10", "box_jitter10", "four_sections", "pos50_neg50"]) {
        const plan = parseStrategy(id).plan;
        const a = samplePrompt(m, plan, rngFor(1, "img-1", 3)).prompt;
        const b = samplePrompt(index, plan, rngFor(1, "img-1", 3)).prompt;
        assert.equal(a, b, id);
        assert.not.equal(samplePrompt(m, plan, rngFor(1, "img-2", 3)).prompt, a, id);
        assert.not.equal(samplePrompt(m, plan, rngFor(1, "img-1", 4)).prompt, a, id);
        assert.not.equal(samplePrompt(m, plan, rngFor(2, "img-1", 3)).prompt, a, id);
    }
});

test("an empty mask throws EmptyMaskError naming the image", () => {
    const empty = { width: 4, height: 3, data: new Uint8Array(12) };
    for (const id of ["points3", "box", "centroid", "four_sections", "box_centre"]) {
        assert.throws(
            () => samplePrompt(empty, parseStrategy(id).plan, rngFor(0, "x", 0), "BraTS20_001_slice_77"),
            (e: unknown) =>
                e instanceof EmptyMaskError &&
                e.code === "ERR_SA_EMPTY_MASK" &&
                e.imageId === "BraTS20_001_slice_77" &&
                e.message.includes("BraTS20_001_slice_77"),
        );
    }
    assert.throws(
        () => new MaskIndex(empty),
        (e: unknown) => e instanceof EmptyMaskError && e.imageId === undefined,
    );
});

test("malformed masks are rejected with ERR_SA_INVALID_ARG", () => {
    const plan = parseStrategy("points3").plan;
    const bad: unknown[] = [
        { width: 4, height: 3, data: new Uint8Array(11) },
        { width: 0, height: 3, data: new Uint8Array(0) },
        { width: 2.5, height: 2, data: new Uint8Array(5) },
        { width: 2, height: 2, data: [1, 0, 0, 1] },
    ];
    for (const m of bad) {
        assert.throws(
            () => samplePrompt(m as BinaryMask, plan, rngFor(0, "x", 0)),
            (e: unknown) => (e as { code?: string }).code === "ERR_SA_INVALID_ARG",
        );
    }
});

test("report summary counts replacement, fallbacks and unavailable negatives", () => {
    const full = { width: 3, height: 2, data: new Uint8Array(6).fill(1) };
    const pixel = { width: 3, height: 2, data: Uint8Array.from([0, 1, 0, 0, 0, 0]) };
    const plan: PromptPlan = {
        positive: { kind: "random", count: 3 },
        negative: { count: 2, region: { kind: "box" } },
        box: { kind: "jittered", jitter: { mode: "outward", fraction: 0.2 } },
    };
    const reports = [full, pixel].map((m, i) => samplePrompt(m, plan, rngFor(0, i, 0)).report);
    const s = summarizePromptReports(reports);
    assert.is(s.prompts, 2);
    assert.is(s.positiveWithReplacement, 1);
    assert.is(s.negativeFallbacks, 2);
    assert.is(s.negativeUnavailable, 1);
    assert.is(s.negativeWithReplacement, 0);
    assert.ok(s.jitter !== null && s.jitter.count === 2 && s.jitter.meanIoU > 0 && s.jitter.meanIoU <= 1);
    assert.is(s.centroid, null);
});

test.run();
