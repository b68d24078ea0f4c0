/**
 * Random positive and negative point samplers: uniform draws of pixels from the foreground or from
 * a background region, without replacement when the region is large enough and with replacement
 * otherwise.
 */
import type { MaskIndex } from "./mask-index.js";
import type { BackgroundRegion, NegativeSpec } from "./prompt-plan.js";
import type { Rng } from "./rng.js";
import type { Point } from "./types.js";

/** Points drawn from a pixel set. */
export interface DrawnPoints {
    points: Point[];
    /** True when the set had fewer pixels than requested, so pixels were drawn with replacement. */
    withReplacement: boolean;
    /** Number of pixels the points were drawn from. */
    candidates: number;
}

/** Negative points and how their region was resolved. */
export interface DrawnNegatives extends DrawnPoints {
    /** The region the points actually came from (`patch` after a fallback from `box`). */
    regionUsed: BackgroundRegion["kind"];
    /** True when the requested `box` region was empty and the whole patch was used instead. */
    fellBack: boolean;
}

/**
 * `count` distinct pixels drawn uniformly from `pixels` (linear indices into a `width`-wide
 * patch), in random order; with replacement when there are fewer than `count` pixels. An empty
 * pixel set yields no points.
 */
export function drawPixels(pixels: Uint32Array, width: number, count: number, rng: Rng): DrawnPoints {
    const n = pixels.length;
    if (n === 0 || count === 0) return { points: [], withReplacement: false, candidates: n };
    const withReplacement = n < count;
    const picks = withReplacement ? rng.sampleWithReplacement(n, count) : rng.sample(n, count);
    const points = picks.map((p): Point => {
        const i = pixels[p] as number;
        const x = i % width;
        return [x, (i - x) / width];
    });
    return { points, withReplacement, candidates: n };
}

/** `count` positive points: foreground pixels drawn uniformly (see `drawPixels`). */
export function samplePositivePoints(index: MaskIndex, count: number, rng: Rng): DrawnPoints {
    return drawPixels(index.foreground, index.width, count, rng);
}

/**
 * Negative points: `spec.count` background pixels from `spec.region`. A `box` region without any
 * background pixel falls back to the whole patch. When the patch has no background at all (the mask
 * covers it), no negative point is drawn (`points` is empty, `candidates` is 0).
 */
export function sampleNegativePoints(index: MaskIndex, spec: NegativeSpec, rng: Rng): DrawnNegatives {
    let regionUsed: BackgroundRegion["kind"] = spec.region.kind;
    let pixels: Uint32Array;
    let fellBack = false;
    switch (spec.region.kind) {
        case "patch":
            pixels = index.background();
            break;
        case "box":
            pixels = index.backgroundInTightBox();
            if (pixels.length === 0) {
                pixels = index.background();
                regionUsed = "patch";
                fellBack = true;
            }
            break;
        case "ring":
            pixels = index.backgroundRing(spec.region.radius);
            break;
    }
    return { ...drawPixels(pixels, index.width, spec.count, rng), regionUsed, fellBack };
}
