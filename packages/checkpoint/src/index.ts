export {};
export * from "./onnx/index.js";
