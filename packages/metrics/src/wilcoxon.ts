/**
 * Paired Wilcoxon signed-rank test (two-sided) between two strategies scored on the same images.
 *
 * - Differences d = x - y that are exactly zero are dropped before ranking (Wilcoxon's original
 *   method, scipy's default `zero_method="wilcox"`); `n` is the number of non-zero differences.
 * - |d| are ranked with average ranks for ties (exact floating-point equality).
 * - Exact p-value when n <= `exactMaxN` (default 25) and there are no ties: the null distribution
 *   of the positive rank sum is enumerated (all 2^n sign patterns, counted by dynamic
 *   programming), p = min(1, 2 P(W+ <= min(W+, W-))).
 * - Otherwise the normal approximation: mean n(n+1)/4, variance n(n+1)(2n+1)/24 minus
 *   sum(t^3 - t)/48 over tie groups, and by default a continuity correction of 0.5 toward the mean
 *   (scipy's `correction=True`; set `continuityCorrection: false` for scipy's default).
 * - With no non-zero difference the samples do not differ: p = 1, method "none".
 */
import { MetricArgumentError, ShapeMismatchError } from "./errors.js";
import { normalSf } from "./normal.js";
import { median } from "./summary.js";

/** Options of `wilcoxonSignedRank`. */
export interface WilcoxonOptions {
    /** Largest n (non-zero differences) for the exact distribution when there are no ties (default 25). */
    exactMaxN?: number;
    /** Continuity correction in the normal approximation (default true). */
    continuityCorrection?: boolean;
}

/** Result of a two-sided Wilcoxon signed-rank test. */
export interface WilcoxonResult {
    /** W = min(W+, W-), the statistic scipy reports for the two-sided test. */
    statistic: number;
    /** Sum of the ranks of the positive differences (x > y). */
    rankSumPositive: number;
    /** Sum of the ranks of the negative differences (x < y). */
    rankSumNegative: number;
    /** The z score (W+ - mean, corrected, over its standard deviation) when the normal approximation was used. */
    z: number | null;
    /** Two-sided p-value. */
    pValue: number;
    /** How the p-value was obtained. */
    method: "exact" | "normal" | "none";
    /** Number of pairs used (non-zero differences). */
    n: number;
    /** Number of pairs dropped because their difference was zero. */
    zeros: number;
    /** Whether some |differences| were tied. */
    ties: boolean;
    /** Median of all paired differences x - y (zeros included). */
    medianDifference: number;
}

/** Two-sided paired Wilcoxon signed-rank test of `x` against `y` (same length, finite values). */
export function wilcoxonSignedRank(
    x: ArrayLike<number>,
    y: ArrayLike<number>,
    options: WilcoxonOptions = {},
): WilcoxonResult {
    if (x.length !== y.length) {
        throw new ShapeMismatchError(
            `wilcoxonSignedRank needs paired samples of equal length, got ${x.length} and ${y.length}`,
        );
    }
    const exactMaxN = options.exactMaxN ?? 25;
    if (!Number.isInteger(exactMaxN) || exactMaxN < 0 || exactMaxN > 50) {
        throw new MetricArgumentError(`exactMaxN must be an integer in [0, 50], got ${exactMaxN}`);
    }
    const continuity = options.continuityCorrection ?? true;
    const all = new Float64Array(x.length);
    const nonZero: number[] = [];
    for (let i = 0; i < x.length; i++) {
        const d = (x[i] as number) - (y[i] as number);
        if (!Number.isFinite(d)) {
            throw new MetricArgumentError(
                `wilcoxonSignedRank: pair ${i} (${String(x[i])}, ${String(y[i])}) is not a pair of finite numbers`,
            );
        }
        all[i] = d;
        if (d !== 0) nonZero.push(d);
    }
    const medianDifference = median(all);
    const n = nonZero.length;
    const zeros = x.length - n;
    if (n === 0) {
        return {
            statistic: 0,
            rankSumPositive: 0,
            rankSumNegative: 0,
            z: null,
            pValue: 1,
            method: "none",
            n,
            zeros,
            ties: false,
            medianDifference,
        };
    }

    const order = nonZero
        .map((_, i) => i)
        .sort((a, b) => Math.abs(nonZero[a] as number) - Math.abs(nonZero[b] as number));
    let rankSumPositive = 0;
    let tieCorrection = 0;
    for (let start = 0; start < n; ) {
        const magnitude = Math.abs(nonZero[order[start] as number] as number);
        let end = start + 1;
        while (end < n && Math.abs(nonZero[order[end] as number] as number) === magnitude) end++;
        const t = end - start;
        const rank = (start + 1 + end) / 2; // average of ranks start+1 .. end
        for (let k = start; k < end; k++) {
            if ((nonZero[order[k] as number] as number) > 0) rankSumPositive += rank;
        }
        tieCorrection += t * t * t - t;
        start = end;
    }
    const total = (n * (n + 1)) / 2;
    const rankSumNegative = total - rankSumPositive;
    const statistic = Math.min(rankSumPositive, rankSumNegative);
    const ties = tieCorrection > 0;

    if (n <= exactMaxN && !ties) {
        const cdf = exactSignedRankCdf(n, statistic);
        return {
            statistic,
            rankSumPositive,
            rankSumNegative,
            z: null,
            pValue: Math.min(1, 2 * cdf),
            method: "exact",
            n,
            zeros,
            ties,
            medianDifference,
        };
    }
    const meanW = total / 2;
    const variance = (n * (n + 1) * (2 * n + 1)) / 24 - tieCorrection / 48;
    const deviation = rankSumPositive - meanW;
    const corrected = continuity ? deviation - 0.5 * Math.sign(deviation) : deviation;
    const z = corrected / Math.sqrt(variance);
    return {
        statistic,
        rankSumPositive,
        rankSumNegative,
        z,
        pValue: Math.min(1, 2 * normalSf(Math.abs(z))),
        method: "normal",
        n,
        zeros,
        ties,
        medianDifference,
    };
}

/**
 * P(W+ <= w) under the null hypothesis for n untied ranks 1..n: the number of subsets of {1..n}
 * with sum <= w, over 2^n (exact in doubles for n <= 50).
 */
export function exactSignedRankCdf(n: number, w: number): number {
    if (!Number.isInteger(n) || n < 0 || n > 50) {
        throw new MetricArgumentError(`exactSignedRankCdf needs an integer n in [0, 50], got ${n}`);
    }
    const total = (n * (n + 1)) / 2;
    const counts = new Float64Array(total + 1);
    counts[0] = 1;
    for (let k = 1; k <= n; k++) {
        for (let s = (k * (k + 1)) / 2; s >= k; s--) counts[s] = (counts[s] as number) + (counts[s - k] as number);
    }
    const limit = Math.min(Math.floor(w), total);
    let below = 0;
    for (let s = 0; s <= limit; s++) below += counts[s] as number;
    return below / 2 ** n;
}
