/**
 * Box jitter: perturbations of the tight box as published in the literature. All modes move each
 * of the four sides independently (draw order: x0, y0, x1, y1) and clamp the result to the patch.
 */
import { SamplerArgumentError } from "./errors.js";
import type { Rng } from "./rng.js";
import type { Box } from "./types.js";

/**
 * How to perturb a box.
 * - `outward` (the paper's): each side moves outward by U(0, fraction x side length); x sides use
 *   the box width, y sides its height (lengths in pixels, `x1 - x0 + 1`).
 * - `symmetric`: each side moves by U(-fraction, +fraction) x side length (positive = outward).
 * - `pixels`: each side moves by a uniform integer in [-pixels, +pixels] (positive = outward).
 * - `medsam`: each side moves outward by a uniform integer in [0, pixelsAt1024] at the 1024-pixel
 *   model resolution (MedSAM uses 20), scaled to the patch by (longest patch side / 1024).
 * Inward moves are limited to half the box span per side (rounded down in `pixels` mode, which
 * keeps integer corners), so a box never inverts.
 */
export type BoxJitter =
    | { mode: "outward"; fraction: number }
    | { mode: "symmetric"; fraction: number }
    | { mode: "pixels"; pixels: number }
    | { mode: "medsam"; pixelsAt1024: number };

/** The outcome of one jitter draw. */
export interface JitteredBox {
    /** The perturbed box, clamped to the patch (corners may be fractional). */
    box: Box;
    /** IoU between the perturbed and the original box (see `boxIoU`). */
    iouWithOriginal: number;
    /** Whether at least one side was clamped to the patch border. */
    clamped: boolean;
}

/** Throws `SamplerArgumentError` when a jitter specification is malformed. */
export function validateJitter(jitter: BoxJitter): void {
    const bad = (what: string): never => {
        throw new SamplerArgumentError(`box jitter (${JSON.stringify(jitter)}): ${what}`);
    };
    switch (jitter?.mode) {
        case "outward":
        case "symmetric":
            if (!Number.isFinite(jitter.fraction) || jitter.fraction < 0) bad("fraction must be a finite number >= 0");
            return;
        case "pixels":
            if (!Number.isInteger(jitter.pixels) || jitter.pixels < 0) bad("pixels must be an integer >= 0");
            return;
        case "medsam":
            if (!Number.isInteger(jitter.pixelsAt1024) || jitter.pixelsAt1024 < 0) {
                bad("pixelsAt1024 must be an integer >= 0");
            }
            return;
        default:
            bad('mode must be one of "outward", "symmetric", "pixels", "medsam"');
    }
}

/**
 * Perturbs `box` (inclusive pixel indices) inside a `width` x `height` patch.
 * Consumes exactly four draws from `rng` (or four rejection-sampled integers).
 */
export function jitterBox(
    box: Box,
    jitter: BoxJitter,
    patch: { width: number; height: number },
    rng: Rng,
): JitteredBox {
    validateJitter(jitter);
    const [x0, y0, x1, y1] = box;
    const boxWidth = x1 - x0 + 1;
    const boxHeight = y1 - y0 + 1;
    // Outward moves of the sides x0, y0, x1, y1 (negative = inward).
    const lengths = [boxWidth, boxHeight, boxWidth, boxHeight];
    const moves = lengths.map((length) => drawMove(jitter, length, patch, rng));
    // Integer modes keep integer corners: their inward limit is rounded down.
    const integral = jitter.mode === "pixels";
    const halfX = integral ? Math.floor((x1 - x0) / 2) : (x1 - x0) / 2;
    const halfY = integral ? Math.floor((y1 - y0) / 2) : (y1 - y0) / 2;
    const limit = (move: number, half: number): number => Math.max(move, -half);
    const raw: Box = [
        x0 - limit(moves[0] as number, halfX),
        y0 - limit(moves[1] as number, halfY),
        x1 + limit(moves[2] as number, halfX),
        y1 + limit(moves[3] as number, halfY),
    ];
    const maxX = patch.width - 1;
    const maxY = patch.height - 1;
    const out: Box = [
        Math.min(Math.max(raw[0], 0), maxX),
        Math.min(Math.max(raw[1], 0), maxY),
        Math.min(Math.max(raw[2], 0), maxX),
        Math.min(Math.max(raw[3], 0), maxY),
    ];
    const clamped = out.some((v, i) => v !== raw[i]);
    return { box: out, iouWithOriginal: boxIoU(out, box), clamped };
}

function drawMove(jitter: BoxJitter, length: number, patch: { width: number; height: number }, rng: Rng): number {
    switch (jitter.mode) {
        case "outward":
            return rng.float() * jitter.fraction * length;
        case "symmetric":
            return (2 * rng.float() - 1) * jitter.fraction * length;
        case "pixels":
            return rng.intBetween(-jitter.pixels, jitter.pixels);
        case "medsam":
            return (rng.intBetween(0, jitter.pixelsAt1024) * Math.max(patch.width, patch.height)) / 1024;
    }
}

/**
 * Intersection over union of two boxes in inclusive pixel-index coordinates: a box covers
 * `[x0, x1 + 1) x [y0, y1 + 1)`, so a one-pixel box has area 1.
 */
export function boxIoU(a: Box, b: Box): number {
    const area = (r: Box): number => Math.max(0, r[2] - r[0] + 1) * Math.max(0, r[3] - r[1] + 1);
    const iw = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]) + 1);
    const ih = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]) + 1);
    const inter = iw * ih;
    const union = area(a) + area(b) - inter;
    return union > 0 ? inter / union : 0;
}
