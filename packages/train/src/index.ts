/**
 * @sam-ablate/train: decoder fine-tuning (the paper's method), the embedding cache, evaluation and
 * the ablation runner.
 */

export {
    type AblationPlan,
    type DatasetPlan,
    type DatasetSource,
    DEFAULT_VALIDATION,
    type ImagingDomain,
    LORA_TARGETS,
    type LrSchedule,
    loraSettings,
    PlanError,
    PRESETS,
    type PresetName,
    paperStrategyIds,
    parseFolds,
    parseLoraTargets,
    parseSavePredictions,
    presetPlan,
    resolvePlan,
    revalidatePlan,
    scheduledLr,
    strategiesFor,
    type TrainingPlan,
    type ValidationPlan,
} from "./ablation-plan.js";
export {
    checkDecoderFile,
    DECODER_METADATA,
    type DecoderProvenance,
    decoderProvenance,
    decoderStateDict,
    exportDecoderPth,
    loadDecoderWeights,
    loadTrainState,
    pruneTrainStates,
    saveDecoderWeights,
    saveTrainState,
    type TrainState,
    type ValidationPoint,
    type ValidationState,
} from "./checkpointing.js";
export {
    DEFAULT_FOLD_COUNT,
    foldsToRun,
    kindOfManifest,
    loadPreparedForReport,
    type PreparedData,
    type PreparedSplit,
    prepareDataset,
    preparedKind,
    prepareFolds,
    splitValidationPatients,
} from "./datasets.js";
export { type DiskUseEstimate, type DiskUseFacts, diskUseText, estimateDiskUse, formatBytes } from "./disk-use.js";
export {
    embeddingKey,
    embeddingShardFiles,
    embedShard,
    ensureEmbeddings,
    ensureTestEmbeddings,
    openShardedEmbeddings,
    type SplitEmbeddings,
} from "./embed.js";
export {
    cacheFileName,
    canonicalJson,
    EmbeddingCache,
    EmbeddingCacheError,
    type EmbeddingCacheKey,
    EmbeddingCacheWriter,
    type EmbeddingLookup,
    hashKey,
    ShardedEmbeddingCache,
    shardFileName,
} from "./embedding-cache.js";
export {
    type EvalResult,
    evaluateDecoder,
    evaluateHead,
    evaluateLowRes,
    evaluationPrompts,
    type ImageScore,
    type LowResPredictor,
    type TestSet,
} from "./evaluate.js";
export { type DecoderExport, exportDecoder } from "./export.js";
export { HEAD_HIDDEN, headDepth, initHeadParams, newHead, saveHeadWeights } from "./heads.js";
export { checkPlanInputs } from "./inputs.js";
export {
    checkLoraProvenance,
    LORA_METADATA,
    LORA_PREFIX,
    type LoraAdapter,
    type LoraFile,
    type LoraSettings,
    loraEncoderAdaptation,
    loraStateDict,
    loraTraining,
    mergeLora,
    readLoraFile,
    saveLoraWeights,
} from "./lora.js";
export { finishedRecords, runPerImageCsv, writeRunPerImage } from "./results.js";
export {
    type AblationEvent,
    type ImageRecord,
    type PromptCounts,
    planFingerprint,
    promptCounts,
    RunFolderError,
    type RunOptions,
    readStrategyRecord,
    readZeroShotRecord,
    runAblation,
    type SelectionRecord,
    type StrategyRecord,
    type ValidationRecord,
    type ZeroShotRecord,
} from "./run-ablation.js";
export {
    collectRecords,
    lockFile,
    readFailure,
    runUnits,
    type UnitFailure,
    type UnitRunOptions,
    type UnitState,
    unitDone,
    unitStates,
    unitsDir,
} from "./run-units.js";
export {
    type BatchStep,
    decoderStep,
    epochOrder,
    patienceExhausted,
    type StepInfo,
    type TrainedModel,
    type TrainerState,
    TrainingDivergedError,
    type TrainOptions,
    type TrainResult,
    type TrainSet,
    trainDecoder,
    trainLoop,
    type ValidationOptions,
    type ValidationResult,
} from "./train-decoder.js";
export { type LockInfo, type LockState, readLock, staleAfterMs, UnitLock } from "./unit-lock.js";
export {
    assignShard,
    embedShardCount,
    estimateImages,
    parseShard,
    planUnits,
    STAGES,
    type Stage,
    shardRange,
    totalCost,
    trainUnitId,
    type Unit,
    type UnitCost,
    UnitError,
    type UnitKind,
} from "./units.js";
