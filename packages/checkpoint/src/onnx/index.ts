export { OnnxError } from "./errors.js";
export { OnnxModel, type OnnxUse, readOnnx, readOnnxFile, readOnnxTensor } from "./model.js";
export { onnxToFloat32, onnxToNumbers } from "./tensor.js";
export type {
    OnnxAttribute,
    OnnxDType,
    OnnxGraph,
    OnnxNode,
    OnnxOpset,
    OnnxTensor,
    OnnxTensorData,
    OnnxValueInfo,
} from "./types.js";
