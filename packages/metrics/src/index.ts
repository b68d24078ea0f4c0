/**
 * @sam-ablate/metrics: per-image Dice and IoU with MONAI semantics, summary statistics, bootstrap
 * confidence intervals and the paired Wilcoxon signed-rank test. Pure TypeScript, no dependencies.
 */
export { type BootstrapInterval, type BootstrapOptions, bootstrapMeanCI } from "./bootstrap.js";
export { MetricArgumentError, MetricError, ShapeMismatchError } from "./errors.js";
export { relativeImprovement } from "./improvement.js";
export { erfc, normalCdf, normalSf } from "./normal.js";
export {
    aggregateOverlap,
    binarize,
    countOverlap,
    countOverlapFromLogits,
    diceFromCounts,
    diceIoU,
    diceIoUFromLogits,
    type ImageOverlap,
    iouFromCounts,
    type LogitMap,
    type MaskLike,
    type OverlapAggregate,
    type OverlapCounts,
    type OverlapOptions,
    scoreCounts,
    scoreLogits,
    scoreMask,
} from "./overlap.js";
export { seededInts, type UniformInts } from "./random.js";
export { mean, median, quantile, quantileSorted, type SummaryStats, sampleStd, sum, summarize } from "./summary.js";
export { exactSignedRankCdf, type WilcoxonOptions, type WilcoxonResult, wilcoxonSignedRank } from "./wilcoxon.js";
