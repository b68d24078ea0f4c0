import { DataError } from "./errors.js";

/** Percentile window of the MR intensity normalisation. */
export interface MrIntensityOptions {
    /** Lower clip percentile of the positive voxels (default 0.5). */
    lowerPercentile: number;
    /** Upper clip percentile of the positive voxels (default 99.5). */
    upperPercentile: number;
}

/** Defaults of MedSAM's MR preprocessing (pre_CT_MR.py). */
export const DEFAULT_MR_INTENSITY: Readonly<MrIntensityOptions> = { lowerPercentile: 0.5, upperPercentile: 99.5 };

/** Result of normaliseMr: the 8-bit volume and the window that produced it. */
export interface NormalisedVolume {
    data: Uint8Array;
    /** Intensity mapped to 0 (the lower percentile). */
    lower: number;
    /** Intensity mapped to 255 (the upper percentile). */
    upper: number;
    /** Number of positive voxels the percentiles were taken over. */
    positiveVoxels: number;
}

/**
 * Percentile of ascending-sorted values with linear interpolation between closest ranks (NumPy's
 * default "linear" method). `p` is in [0, 100].
 */
export function percentileOfSorted(sorted: ArrayLike<number>, p: number): number {
    const n = sorted.length;
    if (n === 0) throw new DataError("ERR_SA_DATA", "percentile of an empty set");
    if (!(p >= 0 && p <= 100)) throw new DataError("ERR_SA_DATA", `percentile must be in [0, 100], got ${p}`);
    const pos = ((n - 1) * p) / 100;
    const lo = Math.floor(pos);
    const hi = Math.min(lo + 1, n - 1);
    const a = sorted[lo] as number;
    const b = sorted[hi] as number;
    return a + (b - a) * (pos - lo);
}

/**
 * MR intensity normalisation as MedSAM's pre_CT_MR.py: take the percentiles of the positive
 * (brain) voxels, clip every voxel to them, scale linearly to 0-255 and truncate to uint8; voxels
 * that were exactly 0 stay 0. A volume without positive voxels maps to all zeros; one whose window
 * is empty (every positive voxel equal) maps its positive voxels to 255.
 */
export function normaliseMr(
    volume: ArrayLike<number>,
    options: MrIntensityOptions = DEFAULT_MR_INTENSITY,
): NormalisedVolume {
    const { lowerPercentile, upperPercentile } = options;
    if (!(lowerPercentile >= 0 && upperPercentile <= 100 && lowerPercentile < upperPercentile)) {
        throw new DataError(
            "ERR_SA_DATA",
            `intensity percentiles must satisfy 0 <= lower < upper <= 100, got ${lowerPercentile} and ${upperPercentile}`,
        );
    }
    const n = volume.length;
    let positive = 0;
    for (let i = 0; i < n; i++) if ((volume[i] as number) > 0) positive++;
    const out = new Uint8Array(n);
    if (positive === 0) return { data: out, lower: 0, upper: 0, positiveVoxels: 0 };
    const values = new Float64Array(positive);
    for (let i = 0, k = 0; i < n; i++) {
        const v = volume[i] as number;
        if (v > 0) values[k++] = v;
    }
    values.sort();
    const lower = percentileOfSorted(values, lowerPercentile);
    const upper = percentileOfSorted(values, upperPercentile);
    const range = upper - lower;
    for (let i = 0; i < n; i++) {
        const v = volume[i] as number;
        if (v === 0) continue;
        if (range <= 0) {
            out[i] = v > 0 ? 255 : 0;
            continue;
        }
        const c = Math.min(Math.max(v, lower), upper);
        out[i] = Math.floor(((c - lower) / range) * 255);
    }
    return { data: out, lower, upper, positiveVoxels: positive };
}
