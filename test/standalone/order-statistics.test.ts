import { normaliseWindow, percentileOfSorted, percentiles } from "@sam-ablate/data";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { expectThrowsCode } from "../helpers/expect-code.js";
import { lcg } from "../helpers/lcg.js";

const PS = [0, 0.5, 1, 25, 50, 75, 99, 99.5, 100];

/** The percentiles of a sorted copy, the definition the selection must reproduce bit for bit. */
function bySorting(values: ArrayLike<number>, ps: readonly number[]): number[] {
    const sorted = Float64Array.from(values).sort();
    return ps.map((p) => percentileOfSorted(sorted, p));
}

function same(a: number[], b: number[], what: string): void {
    assert.is(a.length, b.length, what);
    for (let i = 0; i < a.length; i++) {
        const x = a[i] as number;
        const y = b[i] as number;
        assert.ok(x === y || (Number.isNaN(x) && Number.isNaN(y)), `${what}: percentile ${PS[i]}: ${x} != ${y}`);
    }
}

/** Value patterns: MR-like integers with many repeats, continuous values, orders that break naive pivots. */
function patterns(n: number, seed: number): [string, Float64Array][] {
    const next = lcg(seed, 1664525, 1013904223);
    const gen = (f: (i: number) => number) => Float64Array.from({ length: n }, (_, i) => f(i));
    return [
        ["int16 intensities", gen(() => Math.floor(next() * 2000) - 100)],
        ["few distinct values", gen(() => Math.floor(next() * 3))],
        ["continuous", gen(() => (next() - 0.3) * 1e3)],
        ["ascending", gen((i) => i)],
        ["descending", gen((i) => n - i)],
        ["all equal", gen(() => 7)],
        ["organ pipe", gen((i) => Math.min(i, n - 1 - i))],
        ["sawtooth", gen((i) => i % 17)],
        ["with NaN", gen(() => (next() < 0.05 ? Number.NaN : next() * 100))],
        ["zeros of both signs", gen(() => (next() < 0.5 ? -0 : next() < 0.5 ? 0 : next()))],
        ["tiny and huge", gen(() => (next() < 0.5 ? 1e-300 : 1e300) * (next() - 0.5))],
        ["integers wider than a histogram", gen(() => Math.floor(next() * 2 ** 30))],
    ];
}

test("selection and histogram give the percentiles of a sort, bit for bit, on every pattern and size", () => {
    for (const n of [1, 2, 3, 5, 31, 32, 33, 64, 1000, 4099]) {
        // whole numbers go to the histogram; shifted by a quarter, the same orders go through selection
        const shifted = patterns(n, n).map(([name, v]): [string, Float64Array] => [
            `${name} + 0.25`,
            v.map((x) => x + 0.25),
        ]);
        for (const [name, values] of [...patterns(n, n), ...shifted]) {
            const expected = bySorting(values, PS);
            same(percentiles(Float64Array.from(values), PS), expected, `${name}, n=${n}`);
            // the fallback sort (no partition allowed) and a short partition budget agree too
            same(percentiles(Float64Array.from(values), PS, 0), expected, `${name}, n=${n}, sorted at once`);
            same(percentiles(Float64Array.from(values), PS, 0.2), expected, `${name}, n=${n}, short budget`);
        }
    }
});

test("percentiles asked in any order, repeated, and of a set that is all NaN", () => {
    const next = lcg(3, 1664525, 1013904223);
    const values = Float64Array.from({ length: 5000 }, () => Math.round(next() * 300));
    const ps = [99.5, 0.5, 50, 0.5, 100, 0];
    same(percentiles(Float64Array.from(values), ps), bySorting(values, ps), "unordered");
    const nan = percentiles(Float64Array.from([Number.NaN, Number.NaN]), [0, 100]);
    assert.ok(nan.every(Number.isNaN));
});

test("a large MR-sized set: the window of normaliseWindow is the sorted one", () => {
    const next = lcg(11, 1103515245, 12345);
    const dims: [number, number, number] = [96, 80, 60];
    const volume = Float32Array.from({ length: dims[0] * dims[1] * dims[2] }, () =>
        next() < 0.4 ? 0 : Math.floor(next() * 4000),
    );
    for (const reference of ["positive", "nonzero", "all"] as const) {
        const w = normaliseWindow(volume, dims, reference);
        const chosen = Array.from(volume).filter((v) => (reference === "all" ? true : v !== 0));
        const [lower, upper] = bySorting(chosen, [0.5, 99.5]) as [number, number];
        assert.is(w.lower, lower, reference);
        assert.is(w.upper, upper, reference);
        assert.is(w.referenceVoxels, chosen.length, reference);
    }
});

test("an empty set and percentiles outside [0, 100] are refused", () => {
    expectThrowsCode(() => percentiles(new Float64Array(0), [50]), "ERR_SA_DATA", /empty/);
    expectThrowsCode(() => percentiles(Float64Array.from([1, 2]), [101]), "ERR_SA_DATA", /\[0, 100\]/);
    expectThrowsCode(() => percentiles(Float64Array.from([1, 2]), [Number.NaN]), "ERR_SA_DATA", /\[0, 100\]/);
});

test.run();
