/**
 * The single-point and per-section strategies: centroid of the ground truth, centre of the tight
 * box, and one random point from each quadrant of the tight box.
 */
import type { MaskIndex } from "./mask-index.js";
import type { CentroidMode } from "./prompt-plan.js";
import type { Rng } from "./rng.js";
import type { Point } from "./types.js";

/** Rounds half up (toward +Infinity), the rounding used for every derived point. */
const roundHalfUp = (v: number): number => Math.floor(v + 0.5);

/** A centroid point and where it landed. */
export interface CentroidPoint {
    point: Point;
    /** The unrounded mean foreground coordinate. */
    mean: [x: number, y: number];
    /** True when the point is a background pixel (possible for `mean` on concave masks). */
    outsideMask: boolean;
}

/**
 * The ground-truth centroid.
 * - `mean`: the mean foreground coordinate, each axis rounded half up.
 * - `interior`: the foreground pixel with the largest Euclidean distance to a background pixel of
 *   the patch (pixels outside the patch do not count as background). Ties go to the candidate
 *   nearest to the mean coordinate, then to the first in row-major order. On a mask that covers
 *   the whole patch every pixel ties, so the pixel nearest the mean is chosen.
 */
export function centroidPoint(index: MaskIndex, mode: CentroidMode): CentroidPoint {
    const w = index.width;
    let sx = 0;
    let sy = 0;
    for (const i of index.foreground) {
        const x = i % w;
        sx += x;
        sy += (i - x) / w;
    }
    const mx = sx / index.foreground.length;
    const my = sy / index.foreground.length;
    if (mode === "mean") {
        const point: Point = [roundHalfUp(mx), roundHalfUp(my)];
        return { point, mean: [mx, my], outsideMask: !index.isForeground(point[0], point[1]) };
    }
    const dist = index.squaredDistanceToBackground();
    let best = -1;
    let bestDist = -1;
    let bestToMean = Number.POSITIVE_INFINITY;
    for (const i of index.foreground) {
        const d = dist[i] as number;
        if (d < bestDist) continue;
        const x = i % w;
        const y = (i - x) / w;
        const toMean = (x - mx) * (x - mx) + (y - my) * (y - my);
        if (d > bestDist || toMean < bestToMean) {
            best = i;
            bestDist = d;
            bestToMean = toMean;
        }
    }
    const x = best % w;
    return { point: [x, (best - x) / w], mean: [mx, my], outsideMask: false };
}

/** The centre of the tight box and where it landed. */
export interface BoxCentrePoint {
    point: Point;
    /** True when the centre pixel is background. */
    outsideMask: boolean;
}

/** The centre of the tight box, each axis rounded half up. */
export function boxCentrePoint(index: MaskIndex): BoxCentrePoint {
    const [x0, y0, x1, y1] = index.tightBox;
    const point: Point = [roundHalfUp((x0 + x1) / 2), roundHalfUp((y0 + y1) / 2)];
    return { point, outsideMask: !index.isForeground(point[0], point[1]) };
}

/** Quadrant names in the order points are emitted. */
export const QUADRANTS = ["topLeft", "topRight", "bottomLeft", "bottomRight"] as const;

/** One point per non-empty quadrant of the tight box. */
export interface SectionPoints {
    /** The points, in quadrant order top-left, top-right, bottom-left, bottom-right. */
    points: Point[];
    /** Which quadrants (in `QUADRANTS` order) contain foreground and therefore gave a point. */
    quadrantsUsed: [boolean, boolean, boolean, boolean];
}

/**
 * Splits the tight box at its centre (cx, cy) = ((x0 + x1) / 2, (y0 + y1) / 2): a pixel is left when
 * x < cx and top when y < cy; a pixel on a centre line (odd box sizes) belongs to the right/bottom
 * side. From each quadrant that contains foreground, one foreground pixel is drawn uniformly.
 */
export function fourSectionPoints(index: MaskIndex, rng: Rng): SectionPoints {
    const w = index.width;
    const [x0, y0, x1, y1] = index.tightBox;
    const sx = x0 + x1;
    const sy = y0 + y1;
    const buckets: number[][] = [[], [], [], []];
    for (const i of index.foreground) {
        const x = i % w;
        const y = (i - x) / w;
        const q = (2 * y < sy ? 0 : 2) + (2 * x < sx ? 0 : 1);
        (buckets[q] as number[]).push(i);
    }
    const points: Point[] = [];
    const used: [boolean, boolean, boolean, boolean] = [false, false, false, false];
    buckets.forEach((bucket, q) => {
        if (bucket.length === 0) return;
        const i = bucket[rng.int(bucket.length)] as number;
        const x = i % w;
        points.push([x, (i - x) / w]);
        used[q] = true;
    });
    return { points, quadrantsUsed: used };
}
