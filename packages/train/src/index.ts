/**
 * @sam-ablate/train: decoder fine-tuning (the paper's method), the embedding cache, evaluation and
 * the ablation runner.
 */
export { writeFileAtomicSync, writeJsonAtomic } from "./atomic.js";
export {
    decoderStateDict,
    exportDecoderPth,
    loadTrainState,
    DECODER_METADATA,
    type DecoderProvenance,
    decoderProvenance,
    loadDecoderWeights,
    saveDecoderWeights,
    saveTrainState,
    type TrainState,
} from "./checkpointing.js";
export {
    kindOfManifest,
    loadPreparedForReport,
    type PreparedData,
    type PreparedSplit,
    prepareDataset,
    preparedKind,
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
export { type EvalResult, evaluateDecoder, evaluationPrompts, type ImageScore, type TestSet } from "./evaluate.js";
export {
    type AblationPlan,
    type DatasetKind,
    type DatasetPlan,
    type DatasetSource,
    PRESETS,
    type PresetName,
    PlanError,
    paperStrategyIds,
    parseSavePredictions,
    presetPlan,
    resolvePlan,
    strategiesFor,
    type TrainingPlan,
} from "./plan.js";
export { buildRunResults, runPerImageCsv, writeRunPerImage } from "./results.js";
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
    type StrategyRecord,
    type ZeroShotRecord,
} from "./runAblation.js";
export { epochOrder, type StepInfo, type TrainOptions, type TrainResult, TrainingDivergedError, trainDecoder, type TrainSet } from "./trainDecoder.js";
