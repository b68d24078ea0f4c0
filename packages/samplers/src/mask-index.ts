/**
 * A validated ground-truth mask with the lookups every sampler needs (foreground pixel list, tight
 * box, background regions, distance transforms), computed once and cached. Prompts are re-sampled
 * from the same mask at every training step, so building one `MaskIndex` per image and reusing it
 * avoids rescanning the mask.
 */
import { squaredDistanceTransform } from "./distance-transform.js";
import { EmptyMaskError, SamplerArgumentError } from "./errors.js";
import type { BinaryMask, Box } from "./types.js";

/** Checks a mask's shape and buffer; throws `SamplerArgumentError` naming the problem. */
export function validateMask(mask: BinaryMask, what: string = "mask"): void {
    if (mask === null || typeof mask !== "object") {
        throw new SamplerArgumentError(`${what} must be an object {width, height, data}, got ${String(mask)}`);
    }
    const { width, height, data } = mask;
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
        throw new SamplerArgumentError(
            `${what} needs positive integer width and height, got ${String(width)}x${String(height)}`,
        );
    }
    if (!(data instanceof Uint8Array)) {
        throw new SamplerArgumentError(`${what}.data must be a Uint8Array`);
    }
    if (data.length !== width * height) {
        throw new SamplerArgumentError(
            `${what}.data has ${data.length} bytes, expected width*height = ${width}*${height} = ${width * height}`,
        );
    }
}

/** The tight box of a mask (min/max foreground x and y, inclusive), or `null` for an empty mask. */
export function tightBox(mask: BinaryMask): Box | null {
    validateMask(mask);
    const { width, height, data } = mask;
    let x0 = width;
    let y0 = height;
    let x1 = -1;
    let y1 = -1;
    for (let y = 0; y < height; y++) {
        const row = y * width;
        for (let x = 0; x < width; x++) {
            if (data[row + x]) {
                if (x < x0) x0 = x;
                if (x > x1) x1 = x;
                if (y < y0) y0 = y;
                y1 = y;
            }
        }
    }
    return x1 < 0 ? null : [x0, y0, x1, y1];
}

/** A validated, non-empty mask with cached lookups. */
export class MaskIndex {
    readonly width: number;
    readonly height: number;
    /** The mask bytes as given (nonzero = foreground); not copied, do not mutate while in use. */
    readonly data: Uint8Array;
    /** The image this mask belongs to, when given (used in error messages). */
    readonly imageId: string | number | undefined;
    /** Linear indices (`y * width + x`) of every foreground pixel, in row-major order. */
    readonly foreground: Uint32Array;
    /** Min/max x and y over all foreground pixels (inclusive pixel indices). */
    readonly tightBox: Box;

    private backgroundCache: Uint32Array | undefined;
    private boxBackgroundCache: Uint32Array | undefined;
    private readonly ringCache = new Map<number, Uint32Array>();
    private toForegroundCache: Float64Array | undefined;
    private toBackgroundCache: Float64Array | undefined;

    /** Throws `EmptyMaskError` (code `ERR_SA_EMPTY_MASK`) when the mask has no foreground pixel. */
    constructor(mask: BinaryMask, imageId?: string | number) {
        validateMask(mask, imageId === undefined ? "mask" : `mask of image ${JSON.stringify(imageId)}`);
        this.width = mask.width;
        this.height = mask.height;
        this.data = mask.data;
        this.imageId = imageId;
        const box = tightBox(mask);
        if (box === null) throw new EmptyMaskError(imageId);
        this.tightBox = box;
        let count = 0;
        for (let i = 0; i < mask.data.length; i++) if (mask.data[i]) count++;
        const fg = new Uint32Array(count);
        let j = 0;
        for (let i = 0; i < mask.data.length; i++) if (mask.data[i]) fg[j++] = i;
        this.foreground = fg;
    }

    /** Whether pixel (x, y) is foreground; false outside the patch. */
    isForeground(x: number, y: number): boolean {
        if (x < 0 || y < 0 || x >= this.width || y >= this.height) return false;
        return this.data[y * this.width + x] !== 0;
    }

    /** Linear indices of every background pixel of the patch (row-major). */
    background(): Uint32Array {
        this.backgroundCache ??= this.collect((i) => this.data[i] === 0);
        return this.backgroundCache;
    }

    /** Linear indices of the background pixels inside the tight box (row-major). */
    backgroundInTightBox(): Uint32Array {
        if (this.boxBackgroundCache === undefined) {
            const [x0, y0, x1, y1] = this.tightBox;
            const w = this.width;
            this.boxBackgroundCache = this.collect((i) => {
                const x = i % w;
                const y = (i - x) / w;
                return this.data[i] === 0 && x >= x0 && x <= x1 && y >= y0 && y <= y1;
            });
        }
        return this.boxBackgroundCache;
    }

    /**
     * Linear indices of the background pixels whose Euclidean distance to the nearest foreground
     * pixel is at most `radius` (row-major).
     */
    backgroundRing(radius: number): Uint32Array {
        let ring = this.ringCache.get(radius);
        if (ring === undefined) {
            const dist = this.squaredDistanceToForeground();
            const r2 = radius * radius;
            ring = this.collect((i) => this.data[i] === 0 && (dist[i] as number) <= r2);
            this.ringCache.set(radius, ring);
        }
        return ring;
    }

    /** Squared Euclidean distance from every pixel to the nearest foreground pixel (0 on foreground). */
    squaredDistanceToForeground(): Float64Array {
        this.toForegroundCache ??= squaredDistanceTransform(
            this.width,
            this.height,
            this.data.map((v) => (v ? 1 : 0)),
        );
        return this.toForegroundCache;
    }

    /**
     * Squared Euclidean distance from every pixel to the nearest background pixel inside the patch
     * (0 on background; `Infinity` everywhere when the patch has no background). The region outside
     * the patch is not background: a mask cut by the patch border is not treated as ending there.
     */
    squaredDistanceToBackground(): Float64Array {
        this.toBackgroundCache ??= squaredDistanceTransform(
            this.width,
            this.height,
            this.data.map((v) => (v ? 0 : 1)),
        );
        return this.toBackgroundCache;
    }

    private collect(keep: (i: number) => boolean): Uint32Array {
        const n = this.width * this.height;
        let count = 0;
        for (let i = 0; i < n; i++) if (keep(i)) count++;
        const out = new Uint32Array(count);
        let j = 0;
        for (let i = 0; i < n; i++) if (keep(i)) out[j++] = i;
        return out;
    }
}
