import { DataError } from "./errors.js";
import { percentiles } from "./order-statistics.js";

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
 * MR intensity normalisation as MedSAM's pre_CT_MR.py: take the percentiles of the positive
 * (brain) voxels, clip every voxel to them, scale linearly to 0-255 and truncate to uint8; voxels
 * that were exactly 0 stay 0. A volume without positive voxels maps to all zeros; one whose window
 * is empty (every positive voxel equal) maps its positive voxels to 255.
 */
export function normaliseMr(
    volume: ArrayLike<number>,
    options: MrIntensityOptions = DEFAULT_MR_INTENSITY,
): NormalisedVolume {
    checkPercentiles(options);
    // Zero and negative voxels (below the window, so 0 after clipping) and NaN stay 0.
    const w = percentileWindow(volume, { kind: "positive" }, options);
    return { data: w.data, lower: w.lower, upper: w.upper, positiveVoxels: w.count };
}

function checkPercentiles({ lowerPercentile, upperPercentile }: MrIntensityOptions): void {
    if (!(lowerPercentile >= 0 && upperPercentile <= 100 && lowerPercentile < upperPercentile)) {
        throw new DataError(
            "ERR_SA_DATA",
            `intensity percentiles must satisfy 0 <= lower < upper <= 100, got ${lowerPercentile} and ${upperPercentile}`,
        );
    }
}

/**
 * The voxel set a window is taken over: the positive voxels (MedSAM's rule), every voxel but those
 * equal to `value` and NaN, or every voxel.
 */
type VoxelSet = { kind: "positive" } | { kind: "except"; value: number } | { kind: "all" };

/** Whether v belongs to the set (kind 0 positive, 1 except b, 2 all): one small function, inlined. */
function inSet(v: number, kind: number, b: number): boolean {
    return kind === 0 ? v > 0 : kind === 1 ? v !== b && !Number.isNaN(v) : true;
}

/**
 * The voxels of the set clipped to the percentiles of their values, scaled linearly to 0-255
 * and truncated (255 when the window is empty); every other voxel 0. `count` is how many the set
 * holds (none: lower = upper = 0).
 */
function percentileWindow(
    volume: ArrayLike<number>,
    set: VoxelSet,
    { lowerPercentile, upperPercentile }: MrIntensityOptions,
): { data: Uint8Array; lower: number; upper: number; count: number } {
    const kind = set.kind === "positive" ? 0 : set.kind === "except" ? 1 : 2;
    const b = set.kind === "except" ? set.value : 0;
    const n = volume.length;
    let count = 0;
    for (let i = 0; i < n; i++) if (inSet(volume[i] as number, kind, b)) count++;
    const out = new Uint8Array(n);
    if (count === 0) return { data: out, lower: 0, upper: 0, count };
    const values = new Float64Array(count);
    for (let i = 0, k = 0; i < n; i++) {
        const v = volume[i] as number;
        if (inSet(v, kind, b)) values[k++] = v;
    }
    const [lower, upper] = percentiles(values, [lowerPercentile, upperPercentile]) as [number, number];
    const range = upper - lower;
    for (let i = 0; i < n; i++) {
        const v = volume[i] as number;
        if (!inSet(v, kind, b)) continue;
        if (range <= 0) {
            out[i] = 255;
            continue;
        }
        const c = Math.min(Math.max(v, lower), upper);
        out[i] = Math.floor(((c - lower) / range) * 255);
    }
    return { data: out, lower, upper, count };
}

/** Which voxels the intensity window is taken over. */
export type IntensityReference = "positive" | "nonzero" | "foreground" | "all";

/** What the volume looks like: raw scanner values, or already normalised (z-scored, shifted). */
export interface IntensityProfile {
    /** The background value: the value shared by the 8 corners when they agree, else 0. */
    background: number;
    /** Voxels equal to the background value. */
    backgroundVoxels: number;
    /** Voxels below zero outside the background. */
    negativeVoxels: number;
    /** Voxels that are not background. */
    foregroundVoxels: number;
    /** Non-background voxels that are > 0 (what the positive-voxel rule keeps). */
    positiveForegroundVoxels: number;
    /** true: raw (no negative voxels, background 0); false: normalised. */
    raw: boolean;
}

/** Looks at a volume (x fastest, dims) to tell raw MR values from normalised ones. */
export function intensityProfile(volume: ArrayLike<number>, dims: readonly [number, number, number]): IntensityProfile {
    const [X, Y, Z] = dims;
    const corners: number[] = [];
    for (const z of [0, Z - 1])
        for (const y of [0, Y - 1]) for (const x of [0, X - 1]) corners.push(volume[x + X * (y + Y * z)] as number);
    const c0 = corners[0] as number;
    const background = corners.every((c) => c === c0) ? c0 : 0;
    let bg = 0;
    let neg = 0;
    let pos = 0;
    const n = volume.length;
    for (let i = 0; i < n; i++) {
        const v = volume[i] as number;
        if (v === background) bg++;
        else if (v < 0) neg++;
        else if (v > 0) pos++;
    }
    const fg = n - bg;
    return {
        background,
        backgroundVoxels: bg,
        negativeVoxels: neg,
        foregroundVoxels: fg,
        positiveForegroundVoxels: pos,
        raw: neg === 0 && background === 0,
    };
}

/** The window of one volume, as recorded in manifests. */
export interface IntensityWindow extends NormalisedVolume {
    reference: IntensityReference;
    profile: IntensityProfile;
    /** Voxels the percentiles were taken over. */
    referenceVoxels: number;
}

/**
 * MedSAM's percentile window over a chosen reference set of voxels: "positive" (v > 0, MedSAM's
 * rule, for raw data), "nonzero" (v != 0), "foreground" (v != the background value), "all". Voxels
 * outside the reference set map to 0; the others are clipped to the window and scaled to 0-255.
 * With "positive" the result is exactly normaliseMr's.
 */
export function normaliseWindow(
    volume: ArrayLike<number>,
    dims: readonly [number, number, number],
    reference: IntensityReference,
    options: MrIntensityOptions = DEFAULT_MR_INTENSITY,
    profile: IntensityProfile = intensityProfile(volume, dims),
): IntensityWindow {
    if (reference === "positive") {
        const r = normaliseMr(volume, options);
        return { ...r, reference, profile, referenceVoxels: r.positiveVoxels };
    }
    checkPercentiles(options);
    const b = reference === "foreground" ? profile.background : 0;
    const w = percentileWindow(volume, reference === "all" ? { kind: "all" } : { kind: "except", value: b }, options);
    if (w.count === 0)
        return { data: w.data, lower: 0, upper: 0, positiveVoxels: 0, reference, profile, referenceVoxels: 0 };
    return {
        data: w.data,
        lower: w.lower,
        upper: w.upper,
        positiveVoxels: profile.positiveForegroundVoxels,
        reference,
        profile,
        referenceVoxels: w.count,
    };
}
