/**
 * Per-image overlap metrics with MONAI's semantics (`monai.metrics.compute_dice` /
 * `DiceHelper` and `compute_iou`, binary single-channel case):
 * - Dice = 2TP / (2TP + FP + FN), IoU = TP / (TP + FP + FN), on binarised predictions.
 * - `ignoreEmpty: true` (MONAI's default, and the paper's protocol): an image whose ground truth is
 *   empty gets no score (MONAI's NaN, `null` here) and is counted as excluded.
 * - `ignoreEmpty: false`: an image whose ground truth is empty scores 1 when the prediction is also
 *   empty and 0 otherwise (for both Dice and IoU).
 */
import { MetricArgumentError, ShapeMismatchError } from "./errors.js";

/** A binary mask, row-major, any nonzero byte is foreground. */
export interface MaskLike {
    readonly width: number;
    readonly height: number;
    readonly data: Uint8Array;
}

/** A map of logits, row-major; a pixel is predicted foreground when its logit is above the threshold. */
export interface LogitMap {
    readonly width: number;
    readonly height: number;
    readonly data: Float32Array;
}

/** Pixel counts of a prediction against a ground truth. */
export interface OverlapCounts {
    tp: number;
    fp: number;
    fn: number;
    tn: number;
}

/** Options of the overlap metrics. */
export interface OverlapOptions {
    /** Exclude images whose ground truth is empty (MONAI `ignore_empty`, default true). */
    ignoreEmpty?: boolean;
}

/** One image's scores. `dice` and `iou` are `null` when the image is excluded. */
export interface ImageOverlap {
    dice: number | null;
    iou: number | null;
    /** True when the ground truth is empty and `ignoreEmpty` is on. */
    excluded: boolean;
    counts: OverlapCounts;
}

function checkPair(
    prediction: { width: number; height: number; data: ArrayLike<number> },
    groundTruth: MaskLike,
    what: string,
): void {
    for (const [name, m] of [
        [what, prediction],
        ["ground truth", groundTruth],
    ] as const) {
        if (!Number.isInteger(m.width) || !Number.isInteger(m.height) || m.width < 0 || m.height < 0) {
            throw new MetricArgumentError(`${name} has an invalid size ${String(m.width)}x${String(m.height)}`);
        }
        if (m.data.length !== m.width * m.height) {
            throw new MetricArgumentError(
                `${name} has ${m.data.length} values, expected width*height = ${m.width}*${m.height} = ${m.width * m.height}`,
            );
        }
    }
    if (prediction.width !== groundTruth.width || prediction.height !== groundTruth.height) {
        throw new ShapeMismatchError(
            `${what} is ${prediction.width}x${prediction.height} but the ground truth is ` +
                `${groundTruth.width}x${groundTruth.height}; they must have the same size`,
        );
    }
}

/** Counts TP/FP/FN/TN of a binary prediction mask against a ground-truth mask of the same size. */
export function countOverlap(prediction: MaskLike, groundTruth: MaskLike): OverlapCounts {
    checkPair(prediction, groundTruth, "prediction mask");
    const p = prediction.data;
    const g = groundTruth.data;
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (let i = 0; i < p.length; i++) {
        const pi = p[i] !== 0;
        const gi = g[i] !== 0;
        if (pi) {
            if (gi) tp++;
            else fp++;
        } else if (gi) fn++;
    }
    return { tp, fp, fn, tn: p.length - tp - fp - fn };
}

/**
 * Counts TP/FP/FN/TN of logits binarised as `logit > threshold` (default 0, i.e. sigmoid > 0.5)
 * against a ground-truth mask of the same size. A NaN logit counts as background.
 */
export function countOverlapFromLogits(logits: LogitMap, groundTruth: MaskLike, threshold: number = 0): OverlapCounts {
    checkPair(logits, groundTruth, "prediction logits");
    if (Number.isNaN(threshold)) throw new MetricArgumentError("logit threshold must not be NaN");
    const p = logits.data;
    const g = groundTruth.data;
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (let i = 0; i < p.length; i++) {
        const pi = (p[i] as number) > threshold;
        const gi = g[i] !== 0;
        if (pi) {
            if (gi) tp++;
            else fp++;
        } else if (gi) fn++;
    }
    return { tp, fp, fn, tn: p.length - tp - fp - fn };
}

/** Dice from counts with MONAI semantics (`null` for an excluded image). */
export function diceFromCounts(counts: OverlapCounts, options: OverlapOptions = {}): number | null {
    const { tp, fp, fn } = counts;
    if (tp + fn > 0) return (2 * tp) / (2 * tp + fp + fn);
    if (options.ignoreEmpty ?? true) return null;
    return fp === 0 ? 1 : 0;
}

/** IoU from counts with MONAI semantics (`null` for an excluded image). */
export function iouFromCounts(counts: OverlapCounts, options: OverlapOptions = {}): number | null {
    const { tp, fp, fn } = counts;
    if (tp + fn > 0) return tp / (tp + fp + fn);
    if (options.ignoreEmpty ?? true) return null;
    return fp === 0 ? 1 : 0;
}

/** Both scores of one image from its counts. */
export function scoreCounts(counts: OverlapCounts, options: OverlapOptions = {}): ImageOverlap {
    const excluded = counts.tp + counts.fn === 0 && (options.ignoreEmpty ?? true);
    return { dice: diceFromCounts(counts, options), iou: iouFromCounts(counts, options), excluded, counts };
}

/** Binarises logits as `logit > threshold` (default 0): 1 = foreground, 0 = background (NaN -> 0). */
export function binarize(logits: Float32Array, threshold: number = 0): Uint8Array {
    if (Number.isNaN(threshold)) throw new MetricArgumentError("logit threshold must not be NaN");
    const out = new Uint8Array(logits.length);
    for (let i = 0; i < logits.length; i++) out[i] = (logits[i] as number) > threshold ? 1 : 0;
    return out;
}

/**
 * Dice and IoU of a flat binary prediction against a flat ground truth (same pixel order and
 * length, else `ERR_SA_SHAPE`), with MONAI semantics.
 */
export function diceIoU(prediction: Uint8Array, groundTruth: Uint8Array, options: OverlapOptions = {}): ImageOverlap {
    if (prediction.length !== groundTruth.length) {
        throw new ShapeMismatchError(
            `prediction has ${prediction.length} pixels but the ground truth has ${groundTruth.length}; they must have the same size`,
        );
    }
    const n = prediction.length;
    return scoreMask({ width: n, height: 1, data: prediction }, { width: n, height: 1, data: groundTruth }, options);
}

/**
 * Dice and IoU of flat logits (binarised as logit > 0) against a flat ground truth (same length,
 * else `ERR_SA_SHAPE`), with MONAI semantics.
 */
export function diceIoUFromLogits(
    logits: Float32Array,
    groundTruth: Uint8Array,
    options: OverlapOptions = {},
): ImageOverlap {
    if (logits.length !== groundTruth.length) {
        throw new ShapeMismatchError(
            `logits have ${logits.length} pixels but the ground truth has ${groundTruth.length}; they must have the same size`,
        );
    }
    const n = logits.length;
    return scoreLogits({ width: n, height: 1, data: logits }, { width: n, height: 1, data: groundTruth }, options);
}

/** Scores a binary prediction mask against its ground truth (same size, else `ERR_SA_SHAPE`). */
export function scoreMask(prediction: MaskLike, groundTruth: MaskLike, options: OverlapOptions = {}): ImageOverlap {
    return scoreCounts(countOverlap(prediction, groundTruth), options);
}

/** Scores logits (binarised as logit > 0) against their ground truth (same size, else `ERR_SA_SHAPE`). */
export function scoreLogits(logits: LogitMap, groundTruth: MaskLike, options: OverlapOptions = {}): ImageOverlap {
    return scoreCounts(countOverlapFromLogits(logits, groundTruth, 0), options);
}

/** The mean scores over a set of images, MONAI-style: excluded images are left out. */
export interface OverlapAggregate {
    meanDice: number;
    meanIou: number;
    /** Images that were scored. */
    n: number;
    /** Images excluded because their ground truth was empty. */
    excluded: number;
}

/** Averages per-image scores, skipping excluded images (means are NaN when none is left). */
export function aggregateOverlap(images: Iterable<ImageOverlap>): OverlapAggregate {
    let n = 0;
    let excluded = 0;
    let dice = 0;
    let iou = 0;
    for (const image of images) {
        if (image.excluded || image.dice === null || image.iou === null) {
            excluded++;
            continue;
        }
        n++;
        dice += image.dice;
        iou += image.iou;
    }
    return { meanDice: n > 0 ? dice / n : Number.NaN, meanIou: n > 0 ? iou / n : Number.NaN, n, excluded };
}
