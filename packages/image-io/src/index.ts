/**
 * Image decoding and encoding (the only package that uses sharp): PNG/TIFF/JPEG to 8-bit pixels,
 * exact class-code label images, PNG encoding, resizing and SVG rendering.
 */

export { type DecodeOptions, decodeImage, decodeLabelImage, imageSize, readImage, readLabelImage } from "./decode.js";
export { encodePng, type PngOptions, writePng } from "./encode.js";
export { ImageIoError } from "./errors.js";
export { type ResizeKernel, resizeImage } from "./resize.js";
export { svgToPng } from "./svg.js";
export type { EncodableImage, LabelImage, RawImage } from "./types.js";
