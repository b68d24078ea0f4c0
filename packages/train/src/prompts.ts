/**
 * Prompts in patch pixels (what the samplers produce) -> the native decoder's prompt batch in the
 * model input frame (ResizeLongestSide), padded with "not a point" (-1) entries when prompts in a
 * batch carry different numbers of points.
 */
import type { NativePrompts } from "@sam-ablate/native";

/** A prompt in patch pixel indices: points [x, y], labels 1/0, optional box [x0, y0, x1, y1]. */
export interface PatchPrompt {
    points: readonly (readonly [number, number])[];
    labels: readonly number[];
    box?: readonly [number, number, number, number];
}

/** Error for prompts that cannot be batched or converted. */
export class PromptBatchError extends Error {
    readonly code = "ERR_SA_PROMPT";
    constructor(message: string) {
        super(message);
        this.name = "PromptBatchError";
    }
}

/**
 * Converts prompts on patches of size (height, width) to the model frame of side `imgSize`
 * (coordinates scaled as ResizeLongestSide.apply_coords / apply_boxes).
 */
export function toNativePrompts(prompts: readonly PatchPrompt[], height: number, width: number, imgSize: number): NativePrompts {
    if (prompts.length === 0) throw new PromptBatchError("empty prompt batch");
    const scale = imgSize / Math.max(height, width);
    const nh = Math.floor(height * scale + 0.5);
    const nw = Math.floor(width * scale + 0.5);
    const sx = nw / width;
    const sy = nh / height;
    const withBox = prompts.filter((p) => p.box !== undefined).length;
    if (withBox !== 0 && withBox !== prompts.length) {
        throw new PromptBatchError("a batch mixes prompts with and without a box; batch them separately");
    }
    const nPoints = Math.max(...prompts.map((p) => p.points.length));
    if (nPoints === 0 && withBox === 0) throw new PromptBatchError("a prompt needs at least one point or a box");
    const B = prompts.length;
    const points = new Float32Array(B * nPoints * 2);
    const labels = new Float32Array(B * nPoints).fill(-1);
    const boxes = withBox ? new Float32Array(B * 4) : undefined;
    prompts.forEach((p, b) => {
        if (p.points.length !== p.labels.length) {
            throw new PromptBatchError(`prompt ${b}: ${p.points.length} points but ${p.labels.length} labels`);
        }
        p.points.forEach(([x, y], i) => {
            points[(b * nPoints + i) * 2] = x * sx;
            points[(b * nPoints + i) * 2 + 1] = y * sy;
            labels[b * nPoints + i] = p.labels[i] as number;
        });
        if (boxes && p.box) {
            const [x0, y0, x1, y1] = p.box;
            boxes.set([x0 * sx, y0 * sy, x1 * sx, y1 * sy], b * 4);
        }
    });
    const out: NativePrompts = { batch: B, nPoints };
    if (nPoints > 0) {
        out.points = points;
        out.labels = labels;
    }
    if (boxes) out.boxes = boxes;
    return out;
}
