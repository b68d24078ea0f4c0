/**
 * The SAM frame of one image: its original size, the size it gets under ResizeLongestSide(imgSize)
 * (the rest of the imgSize x imgSize model input is zero padding at the bottom and right), and every
 * transform between the two: prompt coordinates in (apply_coords / apply_boxes), mask logits out
 * (postprocess_masks) and training targets onto the low-res logits grid. Prompts (one type, the
 * samplers' `Prompt`, in original-image pixels) become the decoder's native batch here, once.
 */
import { SamAblateError } from "@sam-ablate/errors";
import type { NativePrompts } from "@sam-ablate/native";
import type { Prompt } from "@sam-ablate/samplers";
import { postprocessMasks, resizeLongestSideShape } from "./preprocess.js";

/** Error for prompts that cannot be converted or batched (code ERR_SA_PROMPT). */
export class PromptBatchError extends SamAblateError<"ERR_SA_PROMPT"> {
    constructor(message: string) {
        super("ERR_SA_PROMPT", message);
    }
}

export class SamFrame {
    /** [height, width] of the image as given. */
    readonly originalSize: readonly [number, number];
    /** [height, width] after ResizeLongestSide(imgSize). */
    readonly inputSize: readonly [number, number];
    /** x and y factors from original pixels to the model input frame (nw / w, nh / h). */
    readonly scaleX: number;
    readonly scaleY: number;

    constructor(
        height: number,
        width: number,
        /** Side of the square model input (1024 for SAM). */
        readonly imgSize: number,
    ) {
        if (
            !(
                Number.isInteger(height) &&
                height > 0 &&
                Number.isInteger(width) &&
                width > 0 &&
                Number.isInteger(imgSize) &&
                imgSize > 0
            )
        ) {
            throw new RangeError(
                `SamFrame: need positive integer sizes, got ${height}x${width} for a ${imgSize} input`,
            );
        }
        const [nh, nw] = resizeLongestSideShape(height, width, imgSize);
        this.originalSize = [height, width];
        this.inputSize = [nh, nw];
        this.scaleX = nw / width;
        this.scaleY = nh / height;
    }

    get height(): number {
        return this.originalSize[0];
    }

    get width(): number {
        return this.originalSize[1];
    }

    /** Maps interleaved (x, y) pairs in original pixels to the model input frame (ResizeLongestSide.apply_coords). */
    applyCoords(xy: ArrayLike<number>): Float32Array {
        const out = new Float32Array(xy.length);
        for (let i = 0; i + 1 < xy.length; i += 2) {
            out[i] = (xy[i] as number) * this.scaleX;
            out[i + 1] = (xy[i + 1] as number) * this.scaleY;
        }
        return out;
    }

    /** Maps boxes [x0, y0, x1, y1, ...] to the model input frame (ResizeLongestSide.apply_boxes). */
    applyBoxes(boxes: ArrayLike<number>): Float32Array {
        if (boxes.length % 4 !== 0)
            throw new RangeError(`applyBoxes: ${boxes.length} values is not a whole number of boxes`);
        return this.applyCoords(boxes);
    }

    /**
     * SAM's postprocess_masks for this frame: low-res logits [N, lh, lw] -> bilinear to imgSize ->
     * crop to inputSize -> bilinear to the original size. Returns [N, height, width].
     */
    postprocessMasks(lowRes: Float32Array, N: number, lh: number, lw: number): Float32Array {
        return postprocessMasks(
            lowRes,
            N,
            lh,
            lw,
            this.imgSize,
            [this.inputSize[0], this.inputSize[1]],
            [this.height, this.width],
        );
    }

    /**
     * A 0/1 mask at the original size, resampled (nearest neighbour) onto the low-res logits grid of
     * side `lowRes`: the image occupies its top-left (h * lowRes / imgSize) x (w * lowRes / imgSize),
     * the rest is padding (0).
     */
    lowResTarget(mask: Uint8Array, lowRes: number): Float32Array {
        const [h, w] = this.originalSize;
        if (mask.length !== h * w)
            throw new RangeError(`lowResTarget: expected ${h * w} mask bytes, got ${mask.length}`);
        const out = new Float32Array(lowRes * lowRes);
        const scale = this.imgSize / Math.max(h, w);
        const f = lowRes / this.imgSize;
        const th = Math.round(h * scale * f);
        const tw = Math.round(w * scale * f);
        if (th === h && tw === w) {
            for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[y * lowRes + x] = mask[y * w + x] as number;
            return out;
        }
        for (let y = 0; y < th; y++) {
            const sy = Math.min(h - 1, Math.floor(((y + 0.5) * h) / th));
            for (let x = 0; x < tw; x++) {
                const sx = Math.min(w - 1, Math.floor(((x + 0.5) * w) / tw));
                out[y * lowRes + x] = mask[sy * w + sx] as number;
            }
        }
        return out;
    }

    /**
     * Prompts in original pixels -> the decoder's batch in the model input frame. Prompts with fewer
     * points are padded with "not a point" (label -1) entries; a batch must not mix prompts with and
     * without a box. `maskInput` ([batch, 1, 4E, 4E] low-res logits) is passed through.
     */
    /**
     * A batch of B samples without any prompt (AutoSAM's prompt-free decoder): no sparse token (the
     * official prompt encoder adds no padding point when there are no points) and the no-mask dense
     * embedding.
     */
    static noPrompt(batch: number): NativePrompts {
        if (!(Number.isInteger(batch) && batch >= 1))
            throw new PromptBatchError(`batch must be an integer >= 1, got ${batch}`);
        return { batch, nPoints: 0 };
    }

    toNative(prompts: readonly Prompt[], maskInput?: Float32Array): NativePrompts {
        if (prompts.length === 0) throw new PromptBatchError("empty prompt batch");
        const withBox = prompts.filter((p) => p.box !== undefined).length;
        if (withBox !== 0 && withBox !== prompts.length) {
            throw new PromptBatchError("a batch mixes prompts with and without a box; batch them separately");
        }
        const nPoints = Math.max(...prompts.map((p) => p.points.length));
        if (nPoints === 0 && withBox === 0) throw new PromptBatchError("a prompt needs at least one point or a box");
        const B = prompts.length;
        const sx = this.scaleX;
        const sy = this.scaleY;
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
        if (maskInput) out.maskInput = maskInput;
        return out;
    }
}
