/**
 * Descriptive statistics of per-image scores: mean, sample standard deviation, quantiles (numpy's
 * default "linear" method, Hyndman & Fan type 7), IQR, min, max.
 */
import { MetricArgumentError } from "./errors.js";

/** Summary statistics of a sample. With n = 0 every statistic is NaN; with n = 1 `std` is NaN. */
export interface SummaryStats {
    n: number;
    mean: number;
    /** Sample standard deviation (divisor n - 1, numpy `ddof=1`). */
    std: number;
    median: number;
    /** First quartile (type-7 quantile at 0.25). */
    q1: number;
    /** Third quartile (type-7 quantile at 0.75). */
    q3: number;
    /** q3 - q1. */
    iqr: number;
    min: number;
    max: number;
}

function checkFinite(values: ArrayLike<number>, what: string): void {
    for (let i = 0; i < values.length; i++) {
        if (!Number.isFinite(values[i])) {
            throw new MetricArgumentError(
                `${what}: value ${i} is ${String(values[i])}; only finite numbers are allowed`,
            );
        }
    }
}

/** Sum with Neumaier compensation (accurate for long lists of scores). */
export function sum(values: ArrayLike<number>): number {
    let s = 0;
    let c = 0;
    for (let i = 0; i < values.length; i++) {
        const v = values[i] as number;
        const t = s + v;
        c += Math.abs(s) >= Math.abs(v) ? s - t + v : v - t + s;
        s = t;
    }
    return s + c;
}

/** Arithmetic mean (NaN for an empty sample). */
export function mean(values: ArrayLike<number>): number {
    return values.length === 0 ? Number.NaN : sum(values) / values.length;
}

/** Sample standard deviation, divisor n - 1 (NaN for fewer than two values). */
export function sampleStd(values: ArrayLike<number>): number {
    const n = values.length;
    if (n < 2) return Number.NaN;
    const m = mean(values);
    const squares = new Float64Array(n);
    for (let i = 0; i < n; i++) squares[i] = ((values[i] as number) - m) ** 2;
    return Math.sqrt(sum(squares) / (n - 1));
}

/** Type-7 quantile of an ascending-sorted sample (numpy `quantile(..., method="linear")`). */
export function quantileSorted(sorted: ArrayLike<number>, p: number): number {
    if (!(p >= 0 && p <= 1)) throw new MetricArgumentError(`quantile probability must be in [0, 1], got ${p}`);
    const n = sorted.length;
    if (n === 0) return Number.NaN;
    const h = (n - 1) * p;
    const lo = Math.floor(h);
    const hi = Math.min(lo + 1, n - 1);
    const a = sorted[lo] as number;
    const b = sorted[hi] as number;
    return a + (h - lo) * (b - a);
}

/** Type-7 quantile of a sample (numpy's default); the sample need not be sorted. */
export function quantile(values: ArrayLike<number>, p: number): number {
    checkFinite(values, "quantile");
    return quantileSorted(Float64Array.from(values).sort(), p);
}

/** Median (type-7 quantile at 0.5). */
export function median(values: ArrayLike<number>): number {
    return quantile(values, 0.5);
}

/** Summary statistics of a sample of finite numbers (NaN or Infinity throws `ERR_SA_INVALID_ARG`). */
export function summarize(values: ArrayLike<number>): SummaryStats {
    checkFinite(values, "summarize");
    const sorted = Float64Array.from(values).sort();
    const n = sorted.length;
    const q1 = quantileSorted(sorted, 0.25);
    const q3 = quantileSorted(sorted, 0.75);
    return {
        n,
        mean: mean(sorted),
        std: sampleStd(sorted),
        median: quantileSorted(sorted, 0.5),
        q1,
        q3,
        iqr: q3 - q1,
        min: n > 0 ? (sorted[0] as number) : Number.NaN,
        max: n > 0 ? (sorted[n - 1] as number) : Number.NaN,
    };
}
