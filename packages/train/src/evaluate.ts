/**
 * Evaluation of a (fine-tuned) decoder on the test split: one prompt per test image, drawn once from
 * a fixed seed (every strategy sees the same randomness where strategies share it), the single-mask
 * output (mask token 0) postprocessed as SAM does to the patch's resolution, binarised at logit > 0,
 * Dice and IoU per image with MONAI semantics (an empty ground truth is excluded and counted).
 */
import { binarize, diceIoU } from "@sam-ablate/metrics";
import { SamFrame } from "@sam-ablate/model";
import type { NativeHeadTrainer, NativeSamDecoder } from "@sam-ablate/native";
import { type Prompt, type PromptPlan, type PromptReport, rngFor, samplePrompt } from "@sam-ablate/samplers";

export interface TestSet {
    ids: readonly string[];
    patients: readonly string[];
    height: number;
    width: number;
    /**
     * Image i's embedding (cached, or encoded on demand by an adapted encoder). With `into` it may write
     * there and return it (the evaluation passes one buffer for every image).
     */
    embedding(i: number, into?: Float32Array): Float32Array | Promise<Float32Array>;
    /** Ground truth at the patch resolution, 0/1. */
    mask(i: number): Uint8Array;
}

export interface ImageScore {
    imageId: string;
    patient: string;
    /** null: excluded (empty ground truth, MONAI ignore_empty). */
    dice: number | null;
    iou: number | null;
    prompt: Prompt;
}

export interface EvalResult {
    perImage: ImageScore[];
    excluded: number;
    meanDice: number;
    meanIou: number;
    /** Binary predictions of the first `keepPredictions` images (for overlays). */
    predictions: Map<string, Uint8Array>;
}

/**
 * The evaluation prompts of a strategy on a test split: test image i gets the prompt drawn from
 * `rngFor(evalSeed, imageId, 0, "eval")`, so a fine-tuned decoder, the pretrained decoder and every
 * seed of a strategy are scored with the same prompts. Returns null for an empty ground truth. The
 * sampler reports of the drawn prompts are appended to `reports` when given.
 */
export function evaluationPrompts(
    data: Pick<TestSet, "ids" | "height" | "width" | "mask">,
    plan: PromptPlan,
    evalSeed: number,
    reports?: PromptReport[],
): (i: number) => Prompt | null {
    return (i) => {
        const mask = data.mask(i);
        if (!mask.some((v) => v !== 0)) return null;
        const id = data.ids[i] as string;
        const s = samplePrompt(
            { width: data.width, height: data.height, data: mask },
            plan,
            rngFor(evalSeed, id, 0, "eval"),
            id,
        );
        reports?.push(s.report);
        return s.prompt;
    };
}

/** Low-res logits [4E, 4E] of one test image (its embedding, its prompt; none for a prompt-free model). */
export type LowResPredictor = (embedding: Float32Array, prompt: Prompt | undefined) => Promise<Float32Array>;

/**
 * Evaluates `decoder`. `promptFor(i)` returns test image i's prompt, or null when the ground truth is
 * empty (no prompt can be drawn; the image is excluded); "none": every image without a prompt
 * (AutoSAM's prompt-free decoder).
 */
export async function evaluateDecoder(
    decoder: NativeSamDecoder,
    data: TestSet,
    promptFor: ((i: number) => Prompt | null) | "none",
    opts: { imgSize: number; ignoreEmpty: boolean; keepPredictions?: number; batch?: number },
): Promise<EvalResult> {
    const frame = new SamFrame(data.height, data.width, opts.imgSize);
    const m = 4 * decoder.info.embedSize;
    const predict: LowResPredictor = async (embedding, prompt) => {
        const { lowRes } = await decoder.predictAll(
            embedding,
            prompt ? frame.toNative([prompt]) : SamFrame.noPrompt(1),
            { firstMask: 0, maskCount: 1 }, // mask token 0 (multimask_output false) alone
        );
        return lowRes;
    };
    return evaluateLowRes(predict, m, data, promptFor, opts);
}

/** Evaluates a prompt-free prediction head (its low-res output through the same postprocess and metrics). */
export async function evaluateHead(
    head: NativeHeadTrainer,
    data: TestSet,
    opts: { imgSize: number; ignoreEmpty: boolean; keepPredictions?: number },
): Promise<EvalResult> {
    return evaluateLowRes((embedding) => head.predict(embedding), 4 * head.info.embedSize, data, "none", opts);
}

/**
 * The evaluation protocol on low-res logits [m, m] from any model: SAM's postprocess to the patch
 * resolution, logit > 0, Dice and IoU per image (MONAI semantics). With prompts, an image without a
 * prompt (empty ground truth) is excluded, or scored as an empty prediction when empty ground truths
 * count; a prompt-free model ("none") predicts every image it scores.
 */
export async function evaluateLowRes(
    predict: LowResPredictor,
    m: number,
    data: TestSet,
    promptFor: ((i: number) => Prompt | null) | "none",
    opts: { imgSize: number; ignoreEmpty: boolean; keepPredictions?: number },
): Promise<EvalResult> {
    const { height, width } = data;
    const frame = new SamFrame(height, width, opts.imgSize);
    const perImage: ImageScore[] = [];
    const predictions = new Map<string, Uint8Array>();
    const none: Prompt = { points: [], labels: [] };
    let excluded = 0;
    let buffer: Float32Array | undefined;
    for (let i = 0; i < data.ids.length; i++) {
        const id = data.ids[i] as string;
        const patient = data.patients[i] as string;
        const gt = data.mask(i);
        const prompt = promptFor === "none" ? undefined : promptFor(i);
        const emptyTruth = prompt === null || (prompt === undefined && opts.ignoreEmpty && !gt.some((v) => v !== 0));
        if (emptyTruth) {
            if (opts.ignoreEmpty) {
                excluded++;
                perImage.push({ imageId: id, patient, dice: null, iou: null, prompt: none });
                continue;
            }
            // Without a prompt there is nothing to segment: the prediction is empty.
            const s = diceIoU(new Uint8Array(gt.length), gt, { ignoreEmpty: false });
            perImage.push({ imageId: id, patient, dice: s.dice, iou: s.iou, prompt: none });
            continue;
        }
        // One buffer for every image's embedding (a prediction has finished with it when it resolves).
        const emb = await data.embedding(i, buffer);
        if (!buffer && emb.length > 0) buffer = new Float32Array(emb.length);
        const lowRes = await predict(emb, prompt ?? undefined);
        const logits = frame.postprocessMasks(lowRes.subarray(0, m * m), 1, m, m);
        const pred = binarize(logits);
        const s = diceIoU(pred, gt, { ignoreEmpty: opts.ignoreEmpty });
        if (s.dice === null) excluded++;
        perImage.push({ imageId: id, patient, dice: s.dice, iou: s.iou, prompt: prompt ?? none });
        if (predictions.size < (opts.keepPredictions ?? 0)) predictions.set(id, pred);
    }
    const scored = perImage.filter((p) => p.dice !== null);
    const mean = (k: "dice" | "iou") =>
        scored.length ? scored.reduce((a, p) => a + (p[k] as number), 0) / scored.length : Number.NaN;
    return { perImage, excluded, meanDice: mean("dice"), meanIou: mean("iou"), predictions };
}
