// Centroid (mean and interior), box centre, four sections and the distance transform behind them.
import {
    type BinaryMask,
    boxCentrePoint,
    centroidPoint,
    fourSectionPoints,
    MaskIndex,
    parseStrategy,
    Rng,
    rngFor,
    samplePrompt,
    squaredDistanceTransform,
    summarizePromptReports,
} from "@sam-ablate/samplers";
import { test } from "uvu";
import * as assert from "uvu/assert";

function maskFrom(rows: string[]): BinaryMask {
    const height = rows.length;
    const width = (rows[0] as string).length;
    const data = new Uint8Array(width * height);
    rows.forEach((row, y) => {
        for (let x = 0; x < width; x++) data[y * width + x] = row[x] === "#" ? 1 : 0;
    });
    return { width, height, data };
}

function randomMask(r: Rng): BinaryMask {
    const w = 1 + r.int(24);
    const h = 1 + r.int(24);
    const data = new Uint8Array(w * h);
    const p = r.float();
    for (let i = 0; i < data.length; i++) data[i] = r.float() < p ? 1 : 0;
    if (!data.some((v) => v)) data[r.int(data.length)] = 1;
    return { width: w, height: h, data };
}

const RANDOM = Array.from({ length: 250 }, (_, i) => randomMask(Rng.fromSeed(i)));

const fg = (m: BinaryMask, x: number, y: number): boolean => m.data[y * m.width + x] !== 0;

test("distance transform equals brute force (squared Euclidean, Infinity without sites)", () => {
    for (const m of RANDOM) {
        const d = squaredDistanceTransform(m.width, m.height, m.data);
        for (let y = 0; y < m.height; y++) {
            for (let x = 0; x < m.width; x++) {
                let best = Infinity;
                for (let yy = 0; yy < m.height; yy++) {
                    for (let xx = 0; xx < m.width; xx++) {
                        if (fg(m, xx, yy)) best = Math.min(best, (x - xx) ** 2 + (y - yy) ** 2);
                    }
                }
                assert.is(d[y * m.width + x], best);
            }
        }
    }
    const none = squaredDistanceTransform(3, 2, new Uint8Array(6));
    assert.ok(none.every((v) => v === Infinity));
});

test("mean centroid: rounded mean coordinate, outside flag matches the mask", () => {
    for (const m of RANDOM) {
        let sx = 0;
        let sy = 0;
        let n = 0;
        for (let y = 0; y < m.height; y++) {
            for (let x = 0; x < m.width; x++) {
                if (fg(m, x, y)) {
                    sx += x;
                    sy += y;
                    n++;
                }
            }
        }
        const c = centroidPoint(new MaskIndex(m), "mean");
        assert.ok(Math.abs(c.mean[0] - sx / n) < 1e-9 && Math.abs(c.mean[1] - sy / n) < 1e-9);
        assert.equal(c.point, [Math.floor(sx / n + 0.5), Math.floor(sy / n + 0.5)]);
        assert.is(c.outsideMask, !fg(m, c.point[0], c.point[1]));
    }
});

test("the centroid of a ring falls outside it; the interior point does not", () => {
    const ring = maskFrom([
        ".........",
        "..#####..",
        ".##...##.",
        ".#.....#.",
        ".#.....#.",
        ".##...##.",
        "..#####..",
        ".........",
    ]);
    const rng = rngFor(0, "ring", 0);
    const mean = samplePrompt(ring, parseStrategy("centroid").plan, rng);
    assert.equal(mean.prompt.points, [[4, 4]]);
    assert.equal(mean.prompt.labels, [1]);
    assert.is(mean.report.centroid?.outsideMask, true);
    const interior = samplePrompt(ring, parseStrategy("centroid_interior").plan, rng);
    const [x, y] = interior.prompt.points[0] as [number, number];
    assert.ok(fg(ring, x, y));
    assert.is(interior.report.centroid?.outsideMask, false);
    const s = summarizePromptReports([mean.report, interior.report]);
    assert.equal(s.centroid, { count: 2, outsideMask: 1 });
});

test("interior point: a foreground pixel at the maximal distance to background, ties to the mean", () => {
    for (const m of RANDOM) {
        const index = new MaskIndex(m);
        const c = centroidPoint(index, "interior");
        const [px, py] = c.point;
        assert.ok(fg(m, px, py));
        const dist = index.squaredDistanceToBackground();
        let best = -1;
        for (const i of index.foreground) best = Math.max(best, dist[i] as number);
        assert.is(dist[py * m.width + px], best);
        // Among the tied pixels, none is strictly nearer to the mean coordinate.
        const toMean = (x: number, y: number): number => (x - c.mean[0]) ** 2 + (y - c.mean[1]) ** 2;
        for (const i of index.foreground) {
            if (dist[i] !== best) continue;
            const x = i % m.width;
            const y = (i - x) / m.width;
            assert.ok(toMean(x, y) >= toMean(px, py));
        }
    }
});

test("interior point of a rectangle is its middle; of a full patch, the pixel nearest the mean", () => {
    const rect = maskFrom(["..........", ".#######..", ".#######..", ".#######..", ".........."]);
    assert.equal(centroidPoint(new MaskIndex(rect), "interior").point, [4, 2]);
    const full = { width: 6, height: 5, data: new Uint8Array(30).fill(1) };
    const c = centroidPoint(new MaskIndex(full), "interior");
    // Mean (2.5, 2): (2, 2) and (3, 2) tie; the first in row-major order wins.
    assert.equal(c.point, [2, 2]);
    // Outside the patch is not background: a mask cut by the border peaks away from its inner edge.
    const cut = maskFrom(["####......", "####......", "####......", "####......"]);
    assert.equal(centroidPoint(new MaskIndex(cut), "interior").point, [0, 1]);
});

test("box centre: the rounded centre of the tight box, flagged when it is background", () => {
    const ell = maskFrom(["#.....", "#.....", "#.....", "######"]);
    const b = boxCentrePoint(new MaskIndex(ell));
    assert.equal(b.point, [3, 2]);
    assert.is(b.outsideMask, true);
    const { prompt, report } = samplePrompt(ell, parseStrategy("box_centre").plan, rngFor(0, "ell", 0));
    assert.equal(prompt.points, [[3, 2]]);
    assert.equal(prompt.labels, [1]);
    assert.equal(report.boxCentre, { outsideMask: true });
    for (const m of RANDOM) {
        const index = new MaskIndex(m);
        const [x0, y0, x1, y1] = index.tightBox;
        const c = boxCentrePoint(index);
        assert.equal(c.point, [Math.floor((x0 + x1) / 2 + 0.5), Math.floor((y0 + y1) / 2 + 0.5)]);
        assert.is(c.outsideMask, !fg(m, c.point[0], c.point[1]));
    }
});

test("four sections: one foreground point from each non-empty quadrant, in quadrant order", () => {
    for (const [i, m] of RANDOM.entries()) {
        const index = new MaskIndex(m);
        const [x0, y0, x1, y1] = index.tightBox;
        const quadrantOf = (x: number, y: number): number => (2 * y < y0 + y1 ? 0 : 2) + (2 * x < x0 + x1 ? 0 : 1);
        const nonEmpty = [false, false, false, false];
        for (const p of index.foreground) {
            const x = p % m.width;
            nonEmpty[quadrantOf(x, (p - x) / m.width)] = true;
        }
        const s = fourSectionPoints(index, rngFor(0, i, 0));
        assert.equal(s.quadrantsUsed, nonEmpty);
        assert.is(s.points.length, nonEmpty.filter(Boolean).length);
        const quadrants = s.points.map(([x, y]) => {
            assert.ok(fg(m, x, y));
            return quadrantOf(x, y);
        });
        assert.equal(
            quadrants,
            [0, 1, 2, 3].filter((q) => nonEmpty[q]),
        );
    }
});

test("four sections on tiny masks: a single pixel gives 1 point, a 2x2 block gives its 4 pixels", () => {
    const pixel = maskFrom(["....", "..#.", "...."]);
    const one = samplePrompt(pixel, parseStrategy("four_sections").plan, rngFor(0, "px", 0));
    assert.equal(one.prompt.points, [[2, 1]]);
    assert.equal(one.report.sections, { quadrantsUsed: [false, false, false, true], count: 1 });
    const block = maskFrom([".....", ".##..", ".##..", "....."]);
    const four = samplePrompt(block, parseStrategy("four_sections").plan, rngFor(0, "block", 0));
    assert.equal(four.prompt.points, [
        [1, 1],
        [2, 1],
        [1, 2],
        [2, 2],
    ]);
    assert.equal(four.prompt.labels, [1, 1, 1, 1]);
    const s = summarizePromptReports([one.report, four.report]);
    assert.equal(s.sections, { count: 2, quadrantHistogram: [1, 0, 0, 1] });
});

test("four sections draws uniformly within a quadrant", () => {
    // The top-left quadrant of this 4x4 block holds 4 pixels.
    const block = maskFrom(["####", "####", "####", "####"]);
    const index = new MaskIndex(block);
    const counts = new Map<string, number>();
    for (let s = 0; s < 4000; s++) {
        const p = fourSectionPoints(index, rngFor(1, "u", s)).points[0] as [number, number];
        counts.set(p.join(), (counts.get(p.join()) ?? 0) + 1);
    }
    assert.equal([...counts.keys()].sort(), ["0,0", "0,1", "1,0", "1,1"]);
    const chi = [...counts.values()].reduce((a, c) => a + (c - 1000) ** 2 / 1000, 0);
    // 3 degrees of freedom: P(chi2 > 16.3) = 0.001.
    assert.ok(chi < 16.3, `chi-square ${chi}`);
});

test.run();
