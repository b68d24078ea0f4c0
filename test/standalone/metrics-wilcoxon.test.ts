// Paired Wilcoxon signed-rank test: exact p-values checked by enumerating every sign pattern,
// the normal approximation with tie and continuity corrections checked against hand computation.
import {
    exactSignedRankCdf,
    MetricArgumentError,
    normalSf,
    ShapeMismatchError,
    wilcoxonSignedRank,
} from "@sam-ablate/metrics";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { lcg } from "../helpers/lcg.js";

const close = (a: number, b: number, tol = 1e-12, what = ""): void => {
    assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);
};

/**
 * Exact two-sided p-value by brute force: over all 2^n sign patterns of the ranks 1..n, the share
 * whose positive rank sum is at least as extreme as the observed one (|W+ - mean| >= observed).
 */
function enumeratedPValue(differences: number[]): number {
    const n = differences.length;
    const byMagnitude = [...differences].sort((a, b) => Math.abs(a) - Math.abs(b));
    let observed = 0;
    byMagnitude.forEach((d, i) => {
        if (d > 0) observed += i + 1;
    });
    const centre = (n * (n + 1)) / 4;
    let extreme = 0;
    for (let mask = 0; mask < 2 ** n; mask++) {
        let w = 0;
        for (let r = 1; r <= n; r++) if (mask & (1 << (r - 1))) w += r;
        if (Math.abs(w - centre) >= Math.abs(observed - centre) - 1e-9) extreme++;
    }
    return extreme / 2 ** n;
}

test("exact null distribution equals enumeration of sign patterns", () => {
    for (let n = 0; n <= 12; n++) {
        const total = (n * (n + 1)) / 2;
        const counts = new Array<number>(total + 1).fill(0);
        for (let mask = 0; mask < 2 ** n; mask++) {
            let w = 0;
            for (let r = 1; r <= n; r++) if (mask & (1 << (r - 1))) w += r;
            counts[w] = (counts[w] ?? 0) + 1;
        }
        let cum = 0;
        for (let w = 0; w <= total; w++) {
            cum += counts[w] as number;
            close(exactSignedRankCdf(n, w), cum / 2 ** n, 1e-15, `n=${n} w=${w}`);
        }
    }
    assert.is(exactSignedRankCdf(5, 0), 1 / 32);
});

test("exact p-values of random untied samples equal brute-force enumeration", () => {
    const next = lcg(99, 1664525, 1013904223);
    for (let t = 0; t < 60; t++) {
        const n = 1 + Math.floor(next() * 14);
        // Distinct magnitudes (no ties), random signs, random shift of the mean.
        const shift = next() - 0.5;
        const magnitudes = Array.from({ length: n }, (_, i) => i + 1 + next() * 0.5);
        const d = magnitudes.map((m) => (next() < 0.5 + shift ? m : -m));
        const y = d.map(() => next());
        const x = y.map((v, i) => v + (d[i] as number));
        // Rebuild the differences the test will see (x - y may round): use them for the brute force.
        const seen = x.map((v, i) => v - (y[i] as number));
        const r = wilcoxonSignedRank(x, y);
        assert.is(r.method, "exact");
        assert.is(r.n, n);
        assert.is(r.z, null);
        close(r.pValue, Math.min(1, enumeratedPValue(seen)), 1e-12, `n=${n}`);
        assert.is(r.statistic, Math.min(r.rankSumPositive, r.rankSumNegative));
        close(r.rankSumPositive + r.rankSumNegative, (n * (n + 1)) / 2);
    }
});

test("Darwin's Zea mays differences (n = 15): W = 24, exact p by enumeration", () => {
    const d = [6, 8, 14, 16, 23, 24, 28, 29, 41, -48, 49, 56, 60, -67, 75];
    const r = wilcoxonSignedRank(d, new Array(15).fill(0));
    assert.is(r.method, "exact");
    assert.is(r.statistic, 24); // ranks of -48 and -67 are 10 and 14
    assert.is(r.rankSumPositive, 96);
    const p = enumeratedPValue(d);
    close(r.pValue, p, 1e-15);
    close(p, 1352 / 32768, 1e-15); // 2 * P(W+ <= 24) = 2 * 676 / 2^15
    // Forced normal approximation: z = (96 - 60 - 0.5) / sqrt(15 * 16 * 31 / 24) with correction.
    const approx = wilcoxonSignedRank(d, new Array(15).fill(0), { exactMaxN: 0 });
    assert.is(approx.method, "normal");
    close(approx.z as number, 35.5 / Math.sqrt(310));
    close(approx.pValue, 2 * normalSf(35.5 / Math.sqrt(310)));
    const plain = wilcoxonSignedRank(d, new Array(15).fill(0), { exactMaxN: 0, continuityCorrection: false });
    close(plain.z as number, 36 / Math.sqrt(310));
    close(plain.pValue, 2 * normalSf(36 / Math.sqrt(310)));
    assert.ok(plain.pValue > 0.04 && plain.pValue < 0.042);
});

test("zero differences are dropped before ranking", () => {
    const x = [0.9, 0.8, 0.7, 0.75, 0.6, 0.5, 0.66];
    const y = [0.9, 0.7, 0.7, 0.5, 0.65, 0.2, 0.66];
    const r = wilcoxonSignedRank(x, y);
    assert.is(r.n, 4);
    assert.is(r.zeros, 3);
    const nonZero = wilcoxonSignedRank([0.8, 0.75, 0.6, 0.5], [0.7, 0.5, 0.65, 0.2]);
    assert.equal([r.statistic, r.pValue, r.method], [nonZero.statistic, nonZero.pValue, nonZero.method]);
    // The median difference counts every pair, zeros included.
    close(r.medianDifference, 0);
    close(nonZero.medianDifference, (0.1 + 0.25) / 2, 1e-12);
});

test("ties: average ranks, tie-corrected variance and continuity correction (hand computation)", () => {
    // |d| sorted: 1 1 2 2 3 3 3 4 5 6 -> ranks 1.5 1.5 3.5 3.5 6 6 6 8 9 10.
    const d = [1, 1, 2, -2, 3, 3, 3, 4, -5, 6];
    const r = wilcoxonSignedRank(d, new Array(10).fill(0));
    assert.is(r.method, "normal");
    assert.is(r.ties, true);
    assert.is(r.rankSumNegative, 3.5 + 9);
    assert.is(r.rankSumPositive, 55 - 12.5);
    assert.is(r.statistic, 12.5);
    // Variance 10 * 11 * 21 / 24 - (2^3 - 2 + 2^3 - 2 + 3^3 - 3) / 48 = 96.25 - 0.75; mean 27.5.
    const z = (42.5 - 27.5 - 0.5) / Math.sqrt(95.5);
    close(r.z as number, z);
    close(r.pValue, 2 * normalSf(z));
    // Negative direction gives the mirrored z and the same p-value.
    const mirrored = wilcoxonSignedRank(new Array(10).fill(0), d);
    close(mirrored.z as number, -z);
    close(mirrored.pValue, r.pValue);
});

test("large samples use the normal approximation; exactMaxN moves the switch", () => {
    const x = Array.from({ length: 30 }, (_, i) => i + 1 + (i % 3 === 0 ? -0.5 : 0.5));
    const y = Array.from({ length: 30 }, (_, i) => i + 1 + (i % 7 === 0 ? 0.25 : 0) - (i % 2 === 0 ? 0.125 * i : 0));
    const r = wilcoxonSignedRank(x, y);
    assert.is(r.method, "normal");
    const exact = wilcoxonSignedRank(x.slice(0, 20), y.slice(0, 20));
    const forced = wilcoxonSignedRank(x.slice(0, 20), y.slice(0, 20), { exactMaxN: 10 });
    assert.is(exact.ties ? "normal" : "exact", exact.method);
    assert.is(forced.method, "normal");
});

test("identical samples: no evidence of a difference", () => {
    const r = wilcoxonSignedRank([0.5, 0.6, 0.7], [0.5, 0.6, 0.7]);
    assert.equal([r.n, r.zeros, r.pValue, r.method, r.statistic, r.medianDifference], [0, 3, 1, "none", 0, 0]);
});

test("argument errors are coded", () => {
    assert.throws(
        () => wilcoxonSignedRank([1, 2], [1]),
        (e: unknown) => e instanceof ShapeMismatchError && e.code === "ERR_SA_SHAPE",
    );
    assert.throws(
        () => wilcoxonSignedRank([1, Number.NaN], [1, 2]),
        (e: unknown) => e instanceof MetricArgumentError,
    );
    assert.throws(
        () => wilcoxonSignedRank([1], [2], { exactMaxN: 60 }),
        (e: unknown) => e instanceof MetricArgumentError,
    );
    assert.throws(
        () => exactSignedRankCdf(51, 3),
        (e: unknown) => e instanceof MetricArgumentError,
    );
});

test.run();
