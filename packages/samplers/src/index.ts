/**
 * @sam-ablate/samplers: prompt samplers for every strategy of the paper (points, boxes, jitter,
 * negative points, centroid, box centre, four sections) on a seeded, splittable RNG. Pure
 * TypeScript, no dependencies.
 */
export { ARM_LIMITS, type Arm, armPromptPlan, type HeadKind, parseArm } from "./arms.js";
export { type BoxJitter, boxIoU, type JitteredBox, jitterBox, validateJitter } from "./box-jitter.js";
export { squaredDistanceTransform } from "./distance-transform.js";
export { clip, EmptyMaskError, SamplerArgumentError, SamplerError, StrategyError } from "./errors.js";
export { MaskIndex, tightBox, validateMask } from "./mask-index.js";
export {
    type BackgroundRegion,
    type BoxSpec,
    type CentroidMode,
    type NegativeSpec,
    type PositiveSpec,
    PROMPT_LIMITS,
    type PromptPlan,
    replaceWithNegatives,
    validatePlan,
} from "./prompt-plan.js";
export {
    type DrawnNegatives,
    type DrawnPoints,
    drawPixels,
    sampleNegativePoints,
    samplePositivePoints,
} from "./random-points.js";
export { Rng, type RngKey, rngFor, type StreamKey, shuffleInPlace, uniformIntBelow } from "./rng.js";
export { type PromptReport, type SampledPrompt, samplePrompt } from "./sample-prompt.js";
export { Sfc32 } from "./sfc32.js";
export {
    type BoxCentrePoint,
    boxCentrePoint,
    type CentroidPoint,
    centroidPoint,
    fourSectionPoints,
    QUADRANTS,
    type SectionPoints,
} from "./special-points.js";
export {
    PAPER_STRATEGY_IDS,
    type PaperDataset,
    type PaperReference,
    paperStrategies,
    parseStrategy,
    type StrategyDefinition,
    strategyId,
    strategyLabel,
} from "./strategies.js";
export { type PromptReportSummary, summarizePromptReports } from "./summarize-reports.js";
export type { BinaryMask, Box, Point, PointLabel, Prompt } from "./types.js";
