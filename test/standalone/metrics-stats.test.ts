// Summary statistics, bootstrap confidence intervals, the normal tail and relative improvement.
import {
    bootstrapMeanCI,
    erfc,
    MetricArgumentError,
    mean,
    median,
    normalCdf,
    normalSf,
    quantile,
    relativeImprovement,
    sampleStd,
    sum,
    summarize,
} from "@sam-ablate/metrics";
import { test } from "uvu";
import * as assert from "uvu/assert";

const close = (a: number, b: number, tol = 1e-12, what = ""): void => {
    assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);
};

test("summary of [4, 1, 3, 2]: sample std (ddof 1), type-7 quartiles", () => {
    const s = summarize([4, 1, 3, 2]);
    assert.is(s.n, 4);
    close(s.mean, 2.5);
    close(s.std, Math.sqrt(5 / 3)); // sum of squares 5, divided by n - 1 = 3
    close(s.median, 2.5);
    close(s.q1, 1.75); // h = 3 * 0.25 = 0.75 -> 1 + 0.75 * (2 - 1)
    close(s.q3, 3.25);
    close(s.iqr, 1.5);
    assert.equal([s.min, s.max], [1, 4]);
});

test("type-7 quantiles interpolate linearly between order statistics", () => {
    close(quantile([50, 10, 40, 20, 30], 0.1), 14); // h = 0.4 -> 10 + 0.4 * 10
    close(quantile([50, 10, 40, 20, 30], 0.9), 46);
    assert.is(quantile([7], 0.3), 7);
    assert.is(quantile([3, 1, 2], 0), 1);
    assert.is(quantile([3, 1, 2], 1), 3);
    assert.is(median([3, 1, 2]), 2);
    assert.is(median([1, 2, 3, 10]), 2.5);
    assert.throws(
        () => quantile([1, 2], 1.5),
        (e: unknown) => e instanceof MetricArgumentError,
    );
});

test("degenerate samples: n = 0 gives NaN, n = 1 gives NaN std; non-finite values throw", () => {
    const empty = summarize([]);
    assert.is(empty.n, 0);
    for (const k of ["mean", "std", "median", "q1", "q3", "iqr", "min", "max"] as const)
        assert.ok(Number.isNaN(empty[k]), k);
    const one = summarize([0.7]);
    assert.equal([one.mean, one.median, one.min, one.max, one.iqr], [0.7, 0.7, 0.7, 0.7, 0]);
    assert.ok(Number.isNaN(one.std));
    assert.ok(Number.isNaN(sampleStd([1])));
    assert.ok(Number.isNaN(mean([])));
    for (const bad of [[1, Number.NaN], [Number.POSITIVE_INFINITY]]) {
        assert.throws(
            () => summarize(bad),
            (e: unknown) => e instanceof MetricArgumentError && e.code === "ERR_SA_INVALID_ARG",
        );
    }
});

test("compensated sum keeps small terms next to large ones", () => {
    assert.is(sum([1e16, 1, -1e16]), 1);
    assert.is(sum(Float64Array.from([0.1, 0.2, 0.3])), 0.6);
    close(mean(new Array(1000).fill(0.1)), 0.1, 1e-15);
});

test("erfc and the normal tail match tabulated values", () => {
    const table: [number, number][] = [
        [0, 1],
        [0.5, 0.4795001221869535],
        [1, 0.15729920705028513],
        [2, 0.004677734981047266],
        [3, 2.209049699858544e-5],
        [-1, 1.8427007929497148],
    ];
    for (const [x, v] of table) close(erfc(x), v, 1e-13, `erfc(${x})`);
    close(normalSf(1.959963984540054), 0.025, 1e-12, "sf(1.96)");
    close(normalCdf(1.959963984540054), 0.975, 1e-12, "cdf(1.96)");
    close(normalSf(0), 0.5, 1e-15, "sf(0)");
    close(2 * normalSf(2.5758293035489004), 0.01, 1e-11, "two-sided 1%");
    close(normalSf(8), 6.22096057427178e-16, 1e-10, "sf(8)");
    // Continuity across the switch between the series and the continued fraction.
    close(erfc(1.999999999), erfc(2.000000001), 1e-8, "erfc near 2");
    assert.ok(Number.isNaN(erfc(Number.NaN)));
});

test("bootstrap CI: reproducible for a seed, different for another seed, brackets the mean", () => {
    const values = Array.from({ length: 60 }, (_, i) => ((i * 37) % 101) / 100);
    const a = bootstrapMeanCI(values, { seed: 7 });
    const b = bootstrapMeanCI(values, { seed: 7 });
    const c = bootstrapMeanCI(values, { seed: 8 });
    assert.equal(a, b);
    assert.ok(a.lower !== c.lower || a.upper !== c.upper);
    assert.equal([a.level, a.resamples, a.seed], [0.95, 2000, 7]);
    close(a.estimate, mean(values));
    assert.ok(a.lower < a.estimate && a.estimate < a.upper);
    assert.equal(bootstrapMeanCI(values, { seed: "run-1" }), bootstrapMeanCI(values, { seed: "run-1" }));
    const narrow = bootstrapMeanCI(values, { seed: 7, level: 0.5 });
    assert.ok(narrow.lower > a.lower && narrow.upper < a.upper);
});

test("bootstrap CI width matches the normal theory for a large sample", () => {
    // Discrete uniform 0..9: population sd sqrt(99 / 12); n = 400.
    const values = Array.from({ length: 400 }, (_, i) => i % 10);
    const ci = bootstrapMeanCI(values, { seed: 1, resamples: 4000 });
    const halfWidth = (ci.upper - ci.lower) / 2;
    const theory = (1.959964 * Math.sqrt(99 / 12)) / Math.sqrt(400);
    assert.ok(Math.abs(halfWidth / theory - 1) < 0.12, `half width ${halfWidth} vs ${theory}`);
    close((ci.upper + ci.lower) / 2, 4.5, 0.02, "centre");
});

test("bootstrap CI of degenerate samples and bad options", () => {
    const one = bootstrapMeanCI([0.8], { resamples: 50 });
    assert.equal([one.estimate, one.lower, one.upper], [0.8, 0.8, 0.8]);
    const constant = bootstrapMeanCI([0.5, 0.5, 0.5]);
    assert.equal([constant.lower, constant.upper], [0.5, 0.5]);
    const empty = bootstrapMeanCI([]);
    assert.ok(Number.isNaN(empty.estimate) && Number.isNaN(empty.lower) && Number.isNaN(empty.upper));
    const isArg = (e: unknown): boolean => e instanceof MetricArgumentError;
    assert.throws(() => bootstrapMeanCI([1, 2], { resamples: 0 }), isArg);
    assert.throws(() => bootstrapMeanCI([1, 2], { level: 1 }), isArg);
    assert.throws(() => bootstrapMeanCI([1, 2], { seed: 1.5 }), isArg);
    assert.throws(() => bootstrapMeanCI([1, Number.NaN]), isArg);
});

test("relative improvement reproduces the paper's Table 3 column", () => {
    // BCSS, 3 points, IoU: 34.093 -> 72.311 is +112.099 %; BraTS, 3 points, IoU: 61.879 -> 66.498 is +7.465 %.
    close(Number(relativeImprovement(72.311, 34.093).toFixed(3)), 112.099);
    close(Number(relativeImprovement(66.498, 61.879).toFixed(3)), 7.465);
    close(Number(relativeImprovement(81.109, 81.478).toFixed(3)), -0.453);
    assert.is(relativeImprovement(5, 0), Number.POSITIVE_INFINITY);
    assert.ok(Number.isNaN(relativeImprovement(0, 0)));
});

test.run();
