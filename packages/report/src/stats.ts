/**
 * The statistics the report needs: summary statistics, a bootstrap confidence interval of the mean
 * and the paired Wilcoxon signed-rank test. All deterministic (the bootstrap uses a seeded generator).
 */

/** Summary statistics of a sample; quartiles by linear interpolation between order statistics. */
export interface Summary {
    mean: number;
    /** Sample standard deviation (n - 1 in the denominator); 0 for a single value. */
    std: number;
    median: number;
    q1: number;
    q3: number;
    min: number;
    max: number;
    n: number;
}

/** The p-quantile (0 <= p <= 1) of ascending sorted values, interpolating linearly between order statistics. */
export function quantileSorted(sorted: readonly number[], p: number): number {
    const n = sorted.length;
    if (n === 0) return Number.NaN;
    const h = (n - 1) * p;
    const lo = Math.floor(h);
    const hi = Math.min(lo + 1, n - 1);
    const a = sorted[lo] as number;
    const b = sorted[hi] as number;
    return a + (h - lo) * (b - a);
}

/** Summary statistics of the values; every field is NaN (n = 0) for an empty sample. */
export function summarize(values: readonly number[]): Summary {
    const n = values.length;
    if (n === 0) {
        const nan = Number.NaN;
        return { mean: nan, std: nan, median: nan, q1: nan, q3: nan, min: nan, max: nan, n: 0 };
    }
    const sorted = [...values].sort((a, b) => a - b);
    let sum = 0;
    for (const v of values) sum += v;
    const mean = sum / n;
    let ss = 0;
    for (const v of values) ss += (v - mean) * (v - mean);
    return {
        mean,
        std: n > 1 ? Math.sqrt(ss / (n - 1)) : 0,
        median: quantileSorted(sorted, 0.5),
        q1: quantileSorted(sorted, 0.25),
        q3: quantileSorted(sorted, 0.75),
        min: sorted[0] as number,
        max: sorted[n - 1] as number,
        n,
    };
}

/** A small, fast, seeded uniform generator in [0, 1) (mulberry32). */
function uniformGenerator(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

/** Options of {@link bootstrapMeanCI}. */
export interface BootstrapOptions {
    /** Confidence level, default 0.95. */
    level?: number;
    /** Number of resamples, default 2000. */
    resamples?: number;
    /** Seed of the resampling, default 0 (the interval is reproducible). */
    seed?: number;
}

/**
 * Percentile-bootstrap confidence interval [low, high] of the mean. A single value gives [v, v];
 * an empty sample gives [NaN, NaN].
 */
export function bootstrapMeanCI(values: readonly number[], options: BootstrapOptions = {}): [number, number] {
    const n = values.length;
    if (n === 0) return [Number.NaN, Number.NaN];
    const level = options.level ?? 0.95;
    const resamples = options.resamples ?? 2000;
    const next = uniformGenerator(options.seed ?? 0);
    const means = new Float64Array(resamples);
    for (let r = 0; r < resamples; r++) {
        let s = 0;
        for (let i = 0; i < n; i++) s += values[Math.floor(next() * n)] as number;
        means[r] = s / n;
    }
    means.sort();
    const sorted = Array.from(means);
    const alpha = (1 - level) / 2;
    return [quantileSorted(sorted, alpha), quantileSorted(sorted, 1 - alpha)];
}

/** Result of {@link wilcoxonSignedRank}. */
export interface WilcoxonResult {
    /** Pairs with a non-zero difference (zero differences are dropped). */
    n: number;
    /** Sum of the ranks of the positive differences (a - b > 0). */
    wPlus: number;
    /** Sum of the ranks of the negative differences. */
    wMinus: number;
    /** min(W+, W-), the usual two-sided statistic. */
    statistic: number;
    /** Two-sided p-value; 1 when no difference is non-zero. */
    pValue: number;
    /** "exact" (permutation distribution of the ranks, ties included) or "normal" (tie- and continuity-corrected). */
    method: "exact" | "normal";
}

/** Largest number of non-zero differences for which the exact distribution is computed. */
const EXACT_MAX_N = 60;

/**
 * Two-sided paired Wilcoxon signed-rank test of a[i] - b[i]. Zero differences are dropped
 * (Wilcoxon's method), tied absolute differences get their average rank. Up to 60 non-zero pairs
 * the p-value is exact (the sign-flip distribution of the actual ranks), above that a normal
 * approximation with tie and continuity correction.
 */
export function wilcoxonSignedRank(a: readonly number[], b: readonly number[]): WilcoxonResult {
    if (a.length !== b.length)
        throw new RangeError(`wilcoxonSignedRank: samples differ in length (${a.length} vs ${b.length})`);
    const diffs: number[] = [];
    for (let i = 0; i < a.length; i++) {
        const d = (a[i] as number) - (b[i] as number);
        if (d !== 0 && !Number.isNaN(d)) diffs.push(d);
    }
    const n = diffs.length;
    if (n === 0) return { n: 0, wPlus: 0, wMinus: 0, statistic: 0, pValue: 1, method: "exact" };
    const order = diffs.map((d, i) => ({ abs: Math.abs(d), i })).sort((x, y) => x.abs - y.abs);
    const ranks = new Float64Array(n);
    const tieSizes: number[] = [];
    for (let s = 0; s < n; ) {
        let e = s + 1;
        while (e < n && (order[e] as { abs: number }).abs === (order[s] as { abs: number }).abs) e++;
        const avg = (s + 1 + e) / 2;
        for (let k = s; k < e; k++) ranks[(order[k] as { i: number }).i] = avg;
        if (e - s > 1) tieSizes.push(e - s);
        s = e;
    }
    let wPlus = 0;
    for (let i = 0; i < n; i++) if ((diffs[i] as number) > 0) wPlus += ranks[i] as number;
    const total = (n * (n + 1)) / 2;
    const wMinus = total - wPlus;
    const statistic = Math.min(wPlus, wMinus);
    if (n <= EXACT_MAX_N) {
        return { n, wPlus, wMinus, statistic, pValue: exactTwoSided(ranks, wPlus), method: "exact" };
    }
    const mean = total / 2;
    let tieTerm = 0;
    for (const t of tieSizes) tieTerm += t * t * t - t;
    const variance = (n * (n + 1) * (2 * n + 1)) / 24 - tieTerm / 48;
    const dev = Math.max(Math.abs(wPlus - mean) - 0.5, 0);
    const z = variance > 0 ? dev / Math.sqrt(variance) : 0;
    return { n, wPlus, wMinus, statistic, pValue: Math.min(1, erfc(z / Math.SQRT2)), method: "normal" };
}

/**
 * Exact two-sided p-value of W+ under the null (each rank's sign is an independent fair coin).
 * Ranks are multiples of 1/2, so the distribution is counted over doubled integer ranks.
 */
function exactTwoSided(ranks: Float64Array, wPlus: number): number {
    const doubled = Array.from(ranks, (r) => Math.round(2 * r));
    const maxSum = doubled.reduce((s, r) => s + r, 0);
    // Probabilities instead of counts: 2^60 overflows exact integers, and halving keeps them in [0, 1].
    let dist = new Float64Array(maxSum + 1);
    dist[0] = 1;
    let reach = 0;
    for (const r of doubled) {
        const next = new Float64Array(maxSum + 1);
        for (let s = 0; s <= reach; s++) {
            const p = dist[s] as number;
            if (p === 0) continue;
            next[s] = (next[s] as number) + p / 2;
            next[s + r] = (next[s + r] as number) + p / 2;
        }
        reach += r;
        dist = next;
    }
    const w = Math.round(2 * wPlus);
    let lower = 0;
    let upper = 0;
    for (let s = 0; s <= maxSum; s++) {
        if (s <= w) lower += dist[s] as number;
        if (s >= w) upper += dist[s] as number;
    }
    return Math.min(1, 2 * Math.min(lower, upper));
}

/** Complementary error function, fractional error below 1.2e-7 (Chebyshev fit, Numerical Recipes erfcc). */
function erfc(x: number): number {
    const z = Math.abs(x);
    const t = 1 / (1 + 0.5 * z);
    const r =
        t *
        Math.exp(
            -z * z -
                1.26551223 +
                t *
                    (1.00002368 +
                        t *
                            (0.37409196 +
                                t *
                                    (0.09678418 +
                                        t *
                                            (-0.18628806 +
                                                t *
                                                    (0.27886807 +
                                                        t *
                                                            (-1.13520398 +
                                                                t *
                                                                    (1.48851587 +
                                                                        t * (-0.82215223 + t * 0.17087277)))))))),
        );
    return x >= 0 ? r : 2 - r;
}

/** Holm-Bonferroni adjusted p-values (same order as the input), controlling the family-wise error rate. */
export function holmAdjust(pValues: readonly number[]): number[] {
    const m = pValues.length;
    const order = pValues.map((p, i) => ({ p, i })).sort((x, y) => x.p - y.p);
    const adjusted = new Array<number>(m).fill(1);
    let running = 0;
    order.forEach(({ p, i }, k) => {
        running = Math.max(running, Math.min(1, (m - k) * p));
        adjusted[i] = running;
    });
    return adjusted;
}
