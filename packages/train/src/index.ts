/**
 * @sam-ablate/train: decoder fine-tuning (the paper's method), the embedding cache, evaluation and
 * the ablation runner.
 */
export {
    checkDecoderFile,
    decoderStateDict,
    exportDecoderPth,
    loadTrainState,
    DECODER_METADATA,
    type DecoderProvenance,
    decoderProvenance,
    loadDecoderWeights,
    pruneTrainStates,
    saveDecoderWeights,
    saveTrainState,
    type TrainState,
    type ValidationPoint,
    type ValidationState,
} from "./checkpointing.js";
export {
    kindOfManifest,
    loadPreparedForReport,
    type PreparedData,
    type PreparedSplit,
    prepareDataset,
    preparedKind,
    splitValidationPatients,
} from "./datasets.js";
export { embeddingKey, ensureEmbeddings, ensureTestEmbeddings, type SplitEmbeddings } from "./embed.js";
export {
    cacheFileName,
    canonicalJson,
    EmbeddingCache,
    EmbeddingCacheError,
    type EmbeddingCacheKey,
    EmbeddingCacheWriter,
    hashKey,
} from "./EmbeddingCache.js";
export { type DecoderExport, exportDecoder } from "./export.js";
export { type EvalResult, evaluateDecoder, evaluationPrompts, type ImageScore, type TestSet } from "./evaluate.js";
export { checkPlanInputs } from "./inputs.js";
export {
    type AblationPlan,
    type DatasetKind,
    type DatasetPlan,
    type DatasetSource,
    DEFAULT_VALIDATION,
    type LrSchedule,
    PRESETS,
    type PresetName,
    PlanError,
    paperStrategyIds,
    parseSavePredictions,
    presetPlan,
    resolvePlan,
    scheduledLr,
    revalidatePlan,
    strategiesFor,
    type TrainingPlan,
    type ValidationPlan,
} from "./plan.js";
export { runPerImageCsv, writeRunPerImage } from "./results.js";
export { type DiskUseEstimate, type DiskUseFacts, diskUseText, estimateDiskUse, formatBytes } from "./diskUse.js";
export {
    type AblationEvent,
    planFingerprint,
    type ImageRecord,
    type PromptCounts,
    promptCounts,
    readStrategyRecord,
    readZeroShotRecord,
    RunFolderError,
    type RunOptions,
    runAblation,
    type SelectionRecord,
    type StrategyRecord,
    type ValidationRecord,
    type ZeroShotRecord,
} from "./runAblation.js";
export {
    epochOrder,
    patienceExhausted,
    type StepInfo,
    type TrainOptions,
    type TrainResult,
    TrainingDivergedError,
    trainDecoder,
    type TrainSet,
    type ValidationOptions,
    type ValidationResult,
} from "./trainDecoder.js";
