/**
 * Shared value types of the samplers: masks, points, boxes and prompts, all in patch pixel
 * coordinates (x to the right, y down; a point is a pixel index, SAM adds the +0.5 itself).
 */

/** A binary mask, row-major (`data[y * width + x]`), any nonzero byte is foreground. */
export interface BinaryMask {
    readonly width: number;
    readonly height: number;
    readonly data: Uint8Array;
}

/** A point as `[x, y]` pixel indices. */
export type Point = [x: number, y: number];

/**
 * A box as `[x0, y0, x1, y1]`: the first and last covered pixel index on each axis (inclusive,
 * SAM's/MedSAM's convention on pixel indices). A tight box has integer corners; a jittered box
 * may have fractional ones (SAM consumes box corners as floats).
 */
export type Box = [x0: number, y0: number, x1: number, y1: number];

/** Point label: 1 = positive (foreground), 0 = negative (background). */
export type PointLabel = 0 | 1;

/** The prompt handed to SAM's prompt encoder. `labels[i]` belongs to `points[i]`. */
export interface Prompt {
    points: Point[];
    labels: PointLabel[];
    box?: Box;
}
