import { seededInts } from "@sam-ablate/metrics";
import { Rng, rngFor, SamplerArgumentError, Sfc32 } from "@sam-ablate/samplers";
import { test } from "uvu";
import * as assert from "uvu/assert";

const draws = (rng: Rng, n: number): number[] => Array.from({ length: n }, () => rng.nextUint32());

/** Pearson chi-square statistic of observed counts against equal expected counts. */
function chiSquare(counts: number[]): number {
    const total = counts.reduce((a, b) => a + b, 0);
    const expected = total / counts.length;
    return counts.reduce((a, c) => a + (c - expected) ** 2 / expected, 0);
}

test("xoshiro128** reference sequence from state [1, 2, 3, 4]", () => {
    // Reference outputs of the published xoshiro128** algorithm (first is rotl(2*5, 7)*9 = 11520).
    assert.equal(draws(Rng.fromKey([1, 2, 3, 4]), 6), [11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
});

test("fromKey rejects malformed keys", () => {
    for (const bad of [
        [0, 0, 0, 0],
        [1, 2, 3],
        [1, 2, 3, 2 ** 32],
        [1.5, 0, 0, 0],
        [-1, 0, 0, 0],
    ]) {
        assert.throws(
            () => Rng.fromKey(bad),
            (e: unknown) => e instanceof SamplerArgumentError && e.code === "ERR_SA_INVALID_ARG",
        );
    }
});

test("the same seed gives the same stream; different seeds and key types differ", () => {
    assert.equal(draws(Rng.fromSeed(42), 8), draws(Rng.fromSeed(42), 8));
    assert.not.equal(draws(Rng.fromSeed(42), 8), draws(Rng.fromSeed(43), 8));
    assert.not.equal(draws(Rng.fromSeed(5), 8), draws(Rng.fromSeed("5"), 8));
    assert.not.equal(draws(Rng.fromSeed(0), 8), draws(Rng.fromSeed(-0.5), 8));
    assert.equal(draws(Rng.fromSeed("seed"), 4), draws(Rng.fromSeed("seed"), 4));
});

test("split is pure: it neither depends on nor advances the parent's position", () => {
    const parent = Rng.fromSeed(7);
    const before = draws(parent.split("a", 1), 6);
    const parentDraws = draws(parent, 100);
    const after = draws(parent.split("a", 1), 6);
    assert.equal(before, after);
    // The parent continued where it was: its next draws equal a fresh root's draws 100.. onward.
    const fresh = Rng.fromSeed(7);
    assert.equal(draws(fresh, 100), parentDraws);
});

test("split keys name distinct streams (order, arity and type of keys matter)", () => {
    const root = Rng.fromSeed(1);
    const streams = [
        root.split("a", "b"),
        root.split("b", "a"),
        root.split("a"),
        root.split("a", "b", 0),
        root.split("ab"),
        root.split(1),
        root.split("1"),
        root.split("a").split("b"),
        root,
    ].map((r) => draws(r, 4).join(","));
    assert.is(new Set(streams).size, streams.length);
});

test("rngFor does not depend on call order", () => {
    const a1 = draws(rngFor(3, "img-7", 12), 5);
    for (let i = 0; i < 20; i++) draws(rngFor(3, `img-${i}`, i), 10);
    const a2 = draws(rngFor(3, "img-7", 12), 5);
    assert.equal(a1, a2);
    assert.equal(draws(rngFor(3, "img-7", 12, "prompt"), 5), a1);
    assert.not.equal(draws(rngFor(3, "img-7", 13), 5), a1);
    assert.not.equal(draws(rngFor(3, "img-8", 12), 5), a1);
    assert.not.equal(draws(rngFor(3, "img-7", 12, "eval"), 5), a1);
    assert.throws(
        () => rngFor(3, "x", 1.5),
        (e: unknown) => (e as { code?: string }).code === "ERR_SA_INVALID_ARG",
    );
});

test("clone continues from the same position", () => {
    const r = Rng.fromSeed(9);
    draws(r, 13);
    const c = r.clone();
    assert.equal(draws(c, 10), draws(r, 10));
    assert.equal(c.key, r.key);
});

test("float is in [0, 1) and roughly uniform", () => {
    const r = Rng.fromSeed(11);
    const bins = new Array<number>(10).fill(0);
    for (let i = 0; i < 20000; i++) {
        const f = r.float();
        assert.ok(f >= 0 && f < 1);
        const bin = Math.floor(f * 10);
        bins[bin] = (bins[bin] ?? 0) + 1;
    }
    // 9 degrees of freedom: P(chi2 > 27.9) = 0.001.
    assert.ok(chiSquare(bins) < 27.9, `chi-square ${chiSquare(bins)}`);
    const u = r.uniform(-2, 3);
    assert.ok(u >= -2 && u < 3);
});

test("int(n) stays in range and is unbiased for a bound that does not divide 2^32", () => {
    const r = Rng.fromSeed(12);
    const counts = [0, 0, 0];
    for (let i = 0; i < 30000; i++) {
        const v = r.int(3);
        assert.ok(Number.isInteger(v) && v >= 0 && v < 3);
        counts[v] = (counts[v] ?? 0) + 1;
    }
    // 2 degrees of freedom: P(chi2 > 13.8) = 0.001.
    assert.ok(chiSquare(counts) < 13.8, `chi-square ${chiSquare(counts)}`);
    // A bound just above 2^31 rejects almost half of the raw draws; values must still be in range.
    const big = 2 ** 31 + 1;
    for (let i = 0; i < 1000; i++) {
        const v = r.int(big);
        assert.ok(v >= 0 && v < big);
    }
    for (let i = 0; i < 100; i++) assert.ok(r.int(2 ** 32) < 2 ** 32);
    assert.is(r.int(1), 0);
    for (let i = 0; i < 200; i++) {
        const v = r.intBetween(-3, 4);
        assert.ok(v >= -3 && v <= 4 && Number.isInteger(v));
    }
});

test("int and intBetween reject bad bounds with a coded error", () => {
    const r = Rng.fromSeed(0);
    for (const n of [0, -1, 1.5, 2 ** 32 + 1, Number.NaN]) {
        assert.throws(
            () => r.int(n),
            (e: unknown) => e instanceof SamplerArgumentError,
        );
    }
    assert.throws(
        () => r.intBetween(3, 2),
        (e: unknown) => e instanceof SamplerArgumentError,
    );
});

test("sample draws distinct values (both the Floyd and the Fisher-Yates branch)", () => {
    const r = Rng.fromSeed(13);
    for (const [n, k] of [
        [1000, 10],
        [1000, 999],
        [50, 50],
        [7, 0],
        [1, 1],
        [100, 12],
        [100, 13],
    ] as const) {
        const s = r.sample(n, k);
        assert.is(s.length, k);
        assert.is(new Set(s).size, k);
        for (const v of s) assert.ok(Number.isInteger(v) && v >= 0 && v < n);
    }
    assert.throws(
        () => r.sample(3, 4),
        (e: unknown) => e instanceof SamplerArgumentError,
    );
});

test("sample is uniform over ordered pairs in both branches", () => {
    for (const n of [5, 40]) {
        const r = Rng.fromSeed(n);
        const k = 2;
        const counts = new Map<string, number>();
        const trials = n === 5 ? 20000 : 80000;
        for (let i = 0; i < trials; i++) {
            const key = r.sample(n, k).join(",");
            counts.set(key, (counts.get(key) ?? 0) + 1);
        }
        const cells = n * (n - 1);
        assert.is(counts.size, cells);
        const stat = chiSquare([...counts.values()]);
        // Chi-square with cells - 1 degrees of freedom; mean = df, sd = sqrt(2 df): allow 5 sd.
        const df = cells - 1;
        assert.ok(stat < df + 5 * Math.sqrt(2 * df), `n=${n}: chi-square ${stat} for ${df} df`);
    }
});

test("sampleWithReplacement and shuffle", () => {
    const r = Rng.fromSeed(14);
    const w = r.sampleWithReplacement(3, 50);
    assert.is(w.length, 50);
    for (const v of w) assert.ok(v >= 0 && v < 3);
    assert.ok(new Set(w).size <= 3);
    assert.equal(r.sampleWithReplacement(0, 0), []);
    assert.throws(
        () => r.sampleWithReplacement(0, 1),
        (e: unknown) => e instanceof SamplerArgumentError,
    );
    const items = Array.from({ length: 30 }, (_, i) => i);
    const shuffled = r.shuffle([...items]);
    assert.equal(
        [...shuffled].sort((a, b) => a - b),
        items,
    );
    assert.not.equal(shuffled, items);
});

test("Sfc32: the pinned streams of the data package and of the bootstrap keep their bits", () => {
    // Values recorded from the generators as they stood in @sam-ablate/data and @sam-ablate/metrics.
    const a = Sfc32.forKeys(7, "patient-split", 3);
    assert.equal(
        [a.uint32(), a.uint32(), a.uint32(), a.int(10), a.normal()],
        [453690238, 4257225314, 1765402419, 6, -0.5424139273397184],
    );
    const b = seededInts("boot");
    const c = seededInts(2 ** 40 + 3);
    assert.equal([b.next(1000), b.next(2 ** 32), b.next(3), c.next(1000), c.next(7)], [742, 3164382498, 0, 472, 4]);
    assert.throws(
        () => Sfc32.forBootstrap(1.5),
        (e: unknown) => e instanceof SamplerArgumentError,
    );
});

test.run();
