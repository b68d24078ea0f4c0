/**
 * The predictor: takes an RGB image and prompts in original-image pixels, does ResizeLongestSide +
 * normalisation + padding, runs the image encoder once per image and the mask decoder per prompt, and
 * returns masks at the original size (SAM's postprocess) with IoU predictions — the official
 * SamPredictor's behaviour on our native models.
 */
import type { NativeImageEncoder, NativePrompts, NativeSamDecoder } from "@sam-ablate/native";
import { postprocessMasks, preprocessImage, transformCoords } from "./preprocess.js";

/** An RGB image, interleaved, row-major. */
export interface RgbImage {
    width: number;
    height: number;
    data: Uint8Array;
}

/** A prompt in original-image pixels (x right, y down). */
export interface ImagePrompt {
    points?: readonly (readonly [number, number])[];
    /** 1 positive, 0 negative (one per point). */
    labels?: readonly number[];
    box?: readonly [number, number, number, number];
    /** Low-res mask logits [4E x 4E] from an earlier prediction. */
    maskInput?: Float32Array;
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
export class PredictorError extends Error {
    constructor(
        readonly code: string,
        message: string,
    ) {
        super(message);
        this.name = "PredictorError";
    }
}

export class SamPredictor {
    private embedding: Float32Array | undefined;
    private originalSize: [number, number] = [0, 0];
    private inputSize: [number, number] = [0, 0];

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
            throw new PredictorError("ERR_SA_IMAGE", `setImage: expected ${width}x${height}x3 bytes, got ${data.length}`);
        }
        const size = this.encoder.info.imgSize;
        const { input, inputSize } = preprocessImage(data, height, width, size);
        const { embedding } = await this.encoder.encode(input, 1);
        this.embedding = embedding;
        this.originalSize = [height, width];
        this.inputSize = inputSize;
    }

    /** Uses a precomputed embedding (e.g. from the cache) for an image of the given size. */
    setEmbedding(embedding: Float32Array, height: number, width: number): void {
        const E = this.decoder.info.embedSize;
        if (embedding.length !== 256 * E * E) {
            throw new PredictorError("ERR_SA_SHAPE", `setEmbedding: expected 256x${E}x${E} values, got ${embedding.length}`);
        }
        const size = this.decoder.info.imgSize;
        const scale = size / Math.max(height, width);
        this.embedding = embedding;
        this.originalSize = [height, width];
        this.inputSize = [Math.floor(height * scale + 0.5), Math.floor(width * scale + 0.5)];
    }

    /** The current image's embedding [256, E, E]. */
    get imageEmbedding(): Float32Array | undefined {
        return this.embedding;
    }

    /** Converts an image-pixel prompt into the decoder's prompt batch (model input frame). */
    toNativePrompt(prompt: ImagePrompt): NativePrompts {
        const [h, w] = this.originalSize;
        const size = this.decoder.info.imgSize;
        const pts = prompt.points ?? [];
        const labels = prompt.labels ?? [];
        if (pts.length !== labels.length) {
            throw new PredictorError("ERR_SA_PROMPT", `prompt has ${pts.length} points but ${labels.length} labels`);
        }
        if (pts.length === 0 && !prompt.box) throw new PredictorError("ERR_SA_PROMPT", "a prompt needs points or a box");
        const out: NativePrompts = { batch: 1, nPoints: pts.length };
        if (pts.length) {
            out.points = transformCoords(pts.flat(), h, w, size);
            out.labels = Float32Array.from(labels);
        }
        if (prompt.box) out.boxes = transformCoords(prompt.box, h, w, size);
        if (prompt.maskInput) out.maskInput = prompt.maskInput;
        return out;
    }

    /**
     * Predicts masks for one prompt. multimask: the 3 multimask outputs (tokens 1..3), else token 0
     * (SAM's multimask_output semantics).
     */
    async predict(prompt: ImagePrompt, multimask = false): Promise<Prediction> {
        if (!this.embedding) throw new PredictorError("ERR_SA_STATE", "predict: call setImage() first");
        const E = this.decoder.info.embedSize;
        const { lowRes, iou } = await this.decoder.predictAll(this.embedding, this.toNativePrompt(prompt));
        const m = 4 * E;
        const first = multimask ? 1 : 0;
        const M = multimask ? 3 : 1;
        const sel = lowRes.slice(first * m * m, (first + M) * m * m);
        const iouSel = iou.slice(first, first + M);
        const size = this.decoder.info.imgSize;
        const logits = postprocessMasks(sel, M, m, m, size, this.inputSize, this.originalSize);
        const masks = new Uint8Array(logits.length);
        for (let i = 0; i < logits.length; i++) masks[i] = (logits[i] as number) > 0 ? 1 : 0;
        const [height, width] = this.originalSize;
        return { logits, masks, iou: iouSel, lowRes: sel, width, height };
    }
}
