/**
 * Percentile bootstrap confidence interval of a mean: B resamples of size n drawn with replacement
 * from the sample (seeded, reproducible), the mean of each, and the type-7 quantiles of those means
 * at (1 - level) / 2 and (1 + level) / 2.
 */
import { MetricArgumentError } from "./errors.js";
import { seededInts } from "./random.js";
import { mean, quantileSorted } from "./summary.js";

/** Options of `bootstrapMeanCI`. */
export interface BootstrapOptions {
    /** Number of bootstrap resamples B (default 2000). */
    resamples?: number;
    /** Confidence level in (0, 1) (default 0.95). */
    level?: number;
    /** Seed of the resampling (a safe integer or a string; default 0). */
    seed?: number | string;
}

/** A bootstrap confidence interval of the mean. All bounds are NaN for an empty sample. */
export interface BootstrapInterval {
    /** The sample mean. */
    estimate: number;
    lower: number;
    upper: number;
    level: number;
    resamples: number;
    seed: number | string;
}

/** Percentile-method bootstrap CI of the mean of `values` (finite numbers). */
export function bootstrapMeanCI(values: ArrayLike<number>, options: BootstrapOptions = {}): BootstrapInterval {
    const resamples = options.resamples ?? 2000;
    const level = options.level ?? 0.95;
    const seed = options.seed ?? 0;
    if (!Number.isInteger(resamples) || resamples < 1) {
        throw new MetricArgumentError(`bootstrap resamples must be an integer >= 1, got ${resamples}`);
    }
    if (!(level > 0 && level < 1)) throw new MetricArgumentError(`bootstrap level must be in (0, 1), got ${level}`);
    const n = values.length;
    for (let i = 0; i < n; i++) {
        if (!Number.isFinite(values[i])) {
            throw new MetricArgumentError(
                `bootstrap: value ${i} is ${String(values[i])}; only finite numbers are allowed`,
            );
        }
    }
    if (n === 0) return { estimate: Number.NaN, lower: Number.NaN, upper: Number.NaN, level, resamples, seed };
    const rng = seededInts(seed);
    const means = new Float64Array(resamples);
    for (let b = 0; b < resamples; b++) {
        let s = 0;
        for (let i = 0; i < n; i++) s += values[rng.next(n)] as number;
        means[b] = s / n;
    }
    means.sort();
    const alpha = (1 - level) / 2;
    return {
        estimate: mean(values),
        lower: quantileSorted(means, alpha),
        upper: quantileSorted(means, 1 - alpha),
        level,
        resamples,
        seed,
    };
}
