/**
 * @sam-ablate/train: decoder fine-tuning (the paper's method), the embedding cache, evaluation and
 * the ablation runner.
 */
export { writeFileAtomicSync, writeJsonAtomic } from "./atomic.js";
export {
    decoderStateDict,
    exportDecoderPth,
    loadTrainState,
    saveDecoderWeights,
    saveTrainState,
    type TrainState,
} from "./checkpointing.js";
export { loadPreparedForReport, type PreparedData, type PreparedSplit, prepareDataset } from "./datasets.js";
export { embeddingKey, ensureEmbeddings, type SplitEmbeddings } from "./embed.js";
export {
    cacheFileName,
    canonicalJson,
    EmbeddingCache,
    EmbeddingCacheError,
    type EmbeddingCacheKey,
    EmbeddingCacheWriter,
    hashKey,
} from "./EmbeddingCache.js";
export { type EvalResult, evaluateDecoder, type ImageScore, type TestSet } from "./evaluate.js";
export {
    type AblationPlan,
    type DatasetKind,
    type DatasetPlan,
    type DatasetSource,
    PRESETS,
    type PresetName,
    PlanError,
    paperStrategyIds,
    presetPlan,
    resolvePlan,
    strategiesFor,
    type TrainingPlan,
} from "./plan.js";
export { buildRunResults } from "./results.js";
export {
    type AblationEvent,
    planFingerprint,
    readStrategyRecord,
    RunFolderError,
    type RunOptions,
    runAblation,
    type StrategyRecord,
} from "./runAblation.js";
export { epochOrder, type StepInfo, type TrainOptions, type TrainResult, TrainingDivergedError, trainDecoder, type TrainSet } from "./trainDecoder.js";
