/**
 * The predictor: takes an RGB image and prompts in original-image pixels, does ResizeLongestSide +
 * normalisation + padding, runs the image encoder once per image and the mask decoder per prompt, and
 * returns masks at the original size (SAM's postprocess) with IoU predictions — the official
 * SamPredictor's behaviour on our native models.
 */
import { SamAblateError } from "@sam-ablate/errors";
import { loadAddon, type NativeImageEncoder, type NativePrompts, type NativeSamDecoder } from "@sam-ablate/native";
import type { Prompt } from "@sam-ablate/samplers";
import { SamFrame } from "./sam-frame.js";

/** An RGB image, interleaved, row-major. */
export interface RgbImage {
    width: number;
    height: number;
    data: Uint8Array;
}

export interface Prediction {
    /** [M, H, W] logits at the original size (M = 3 with multimask, else 1). */
    logits: Float32Array;
    /** [M, H, W] 0/1 (logit > 0). */
    masks: Uint8Array;
    /** [M] predicted IoU. */
    iou: Float32Array;
    /** [M, 4E, 4E] low-res logits (feed back as maskInput). */
    lowRes: Float32Array;
    width: number;
    height: number;
}

/** Error for bad predictor inputs. */
export class PredictorError extends SamAblateError {}

export class SamPredictor {
    private embedding: Float32Array | undefined;
    private frame: SamFrame | undefined;

    constructor(
        readonly encoder: NativeImageEncoder,
        readonly decoder: NativeSamDecoder,
    ) {
        if (encoder.info.imgSize !== decoder.info.imgSize || encoder.info.embedSize !== decoder.info.embedSize) {
            throw new PredictorError(
                "ERR_SA_MODEL",
                `encoder (input ${encoder.info.imgSize}, grid ${encoder.info.embedSize}) and decoder ` +
                    `(input ${decoder.info.imgSize}, grid ${decoder.info.embedSize}) do not belong together`,
            );
        }
    }

    /** Encodes an image (the expensive step); later predict() calls reuse the embedding. */
    async setImage(image: RgbImage): Promise<void> {
        const { width, height, data } = image;
        if (!(width > 0 && height > 0) || data.length !== width * height * 3) {
            throw new PredictorError(
                "ERR_SA_IMAGE",
                `setImage: expected ${width}x${height}x3 bytes, got ${data.length}`,
            );
        }
        const size = this.encoder.info.imgSize;
        // SAM's preprocessing, natively and off the JS thread (the bits of preprocessImage)
        const input = new Float32Array(3 * size * size);
        await loadAddon().preprocessImage(data, height, width, size, input);
        const { embedding } = await this.encoder.encode(input, 1);
        this.embedding = embedding;
        this.frame = new SamFrame(height, width, size);
    }

    /** Uses a precomputed embedding (e.g. from the cache) for an image of the given size. */
    setEmbedding(embedding: Float32Array, height: number, width: number): void {
        const E = this.decoder.info.embedSize;
        const C = this.encoder.info.embedDim;
        if (embedding.length !== C * E * E) {
            throw new PredictorError(
                "ERR_SA_SHAPE",
                `setEmbedding: expected ${C}x${E}x${E} values, got ${embedding.length}`,
            );
        }
        this.embedding = embedding;
        this.frame = new SamFrame(height, width, this.decoder.info.imgSize);
    }

    /** The current image's embedding [embedDim, E, E]. */
    get imageEmbedding(): Float32Array | undefined {
        return this.embedding;
    }

    /** The current image's frame (sizes and transforms). */
    get imageFrame(): SamFrame | undefined {
        return this.frame;
    }

    /** Converts an image-pixel prompt into the decoder's prompt batch (model input frame). */
    toNativePrompt(prompt: Prompt, maskInput?: Float32Array): NativePrompts {
        if (!this.frame) throw new PredictorError("ERR_SA_STATE", "toNativePrompt: call setImage() first");
        return this.frame.toNative([prompt], maskInput);
    }

    /**
     * Predicts masks for one prompt. multimask: the 3 multimask outputs (tokens 1..3), else token 0
     * (SAM's multimask_output semantics). maskInput: low-res logits [4E, 4E] of an earlier prediction.
     */
    async predict(prompt: Prompt, multimask = false, maskInput?: Float32Array): Promise<Prediction> {
        const frame = this.frame;
        if (!this.embedding || !frame) throw new PredictorError("ERR_SA_STATE", "predict: call setImage() first");
        const E = this.decoder.info.embedSize;
        const m = 4 * E;
        const first = multimask ? 1 : 0;
        const M = multimask ? 3 : 1;
        const { lowRes: sel, iou } = await this.decoder.predictAll(
            this.embedding,
            frame.toNative([prompt], maskInput),
            {
                firstMask: first,
                maskCount: M,
            },
        );
        const iouSel = iou.slice(first, first + M);
        const logits = frame.postprocessMasks(sel, M, m, m);
        const masks = new Uint8Array(logits.length);
        for (let i = 0; i < logits.length; i++) masks[i] = (logits[i] as number) > 0 ? 1 : 0;
        return { logits, masks, iou: iouSel, lowRes: sel, width: frame.width, height: frame.height };
    }
}
