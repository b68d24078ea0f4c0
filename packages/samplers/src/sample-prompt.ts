/**
 * Builds one prompt from a ground-truth mask according to a `PromptPlan`, together with a report
 * of what happened while sampling.
 *
 * Each component draws from its own sub-stream of the given `Rng` (`"positive"`, `"negative"`,
 * `"box"`), so plans that share a component share its randomness: on the same image and step,
 * `points10` and `points10_box` get the same ten points, and `box_jitter5` / `box_jitter10` move
 * the sides by the same uniform draws scaled by their amounts.
 */
import { jitterBox } from "./box-jitter.js";
import { MaskIndex } from "./mask-index.js";
import {
    type BackgroundRegion,
    type CentroidMode,
    type PositiveSpec,
    type PromptPlan,
    validatePlan,
} from "./prompt-plan.js";
import { sampleNegativePoints, samplePositivePoints } from "./random-points.js";
import type { Rng } from "./rng.js";
import { boxCentrePoint, centroidPoint, fourSectionPoints } from "./special-points.js";
import type { BinaryMask, Box, Point, PointLabel, Prompt } from "./types.js";

/** What happened while sampling one prompt. */
export interface PromptReport {
    /** The image id, when given. */
    imageId?: string | number;
    /** Number of foreground pixels of the mask. */
    foregroundPixels: number;
    /** The tight box of the mask. */
    tightBox: Box;
    /**
     * Positive points: requested vs drawn (four sections requests 4 and draws one per non-empty
     * quadrant), and whether they were drawn with replacement.
     */
    positive: { kind: PositiveSpec["kind"]; requested: number; drawn: number; withReplacement: boolean };
    /** Negative points, when the plan asks for any. */
    negative?: {
        requested: number;
        drawn: number;
        regionRequested: BackgroundRegion["kind"];
        regionUsed: BackgroundRegion["kind"];
        /** The `box` region had no background pixel; the whole patch was used. */
        fellBack: boolean;
        /** The region had fewer pixels than requested. */
        withReplacement: boolean;
        /** Number of pixels of the region used (0: the patch has no background, no negatives). */
        candidates: number;
    };
    /** The box, when the plan has one; `iouWithTight` is 1 for a tight box. */
    box?: { kind: "tight" | "jittered"; iouWithTight: number; clamped: boolean };
    /** The centroid strategy's outcome. */
    centroid?: { mode: CentroidMode; mean: [x: number, y: number]; outsideMask: boolean };
    /** The box-centre strategy's outcome. */
    boxCentre?: { outsideMask: boolean };
    /** The four-sections strategy's outcome (quadrants in top-left, top-right, bottom-left, bottom-right order). */
    sections?: { quadrantsUsed: [boolean, boolean, boolean, boolean]; count: number };
}

/** A prompt and its sampling report. */
export interface SampledPrompt {
    prompt: Prompt;
    report: PromptReport;
}

/**
 * Samples the prompt that `plan` describes from `mask`. Pass a `MaskIndex` to reuse its cached
 * lookups across steps. Throws `EmptyMaskError` (`ERR_SA_EMPTY_MASK`) for a mask without
 * foreground, `StrategyError` (`ERR_SA_STRATEGY`) for a malformed plan.
 */
export function samplePrompt(
    mask: BinaryMask | MaskIndex,
    plan: PromptPlan,
    rng: Rng,
    imageId?: string | number,
): SampledPrompt {
    validatePlan(plan);
    const index = mask instanceof MaskIndex ? mask : new MaskIndex(mask, imageId);
    const id = imageId ?? index.imageId;
    const points: Point[] = [];
    const labels: PointLabel[] = [];
    const report: PromptReport = {
        ...(id === undefined ? {} : { imageId: id }),
        foregroundPixels: index.foreground.length,
        tightBox: [...index.tightBox],
        positive: { kind: plan.positive.kind, requested: 0, drawn: 0, withReplacement: false },
    };

    const positive = plan.positive;
    const positiveRng = rng.split("positive");
    switch (positive.kind) {
        case "none":
            break;
        case "random": {
            const drawn = samplePositivePoints(index, positive.count, positiveRng);
            points.push(...drawn.points);
            report.positive.requested = positive.count;
            report.positive.withReplacement = drawn.withReplacement;
            break;
        }
        case "centroid": {
            const c = centroidPoint(index, positive.centroidMode);
            points.push(c.point);
            report.positive.requested = 1;
            report.centroid = { mode: positive.centroidMode, mean: c.mean, outsideMask: c.outsideMask };
            break;
        }
        case "boxCentre": {
            const c = boxCentrePoint(index);
            points.push(c.point);
            report.positive.requested = 1;
            report.boxCentre = { outsideMask: c.outsideMask };
            break;
        }
        case "fourSections": {
            const s = fourSectionPoints(index, positiveRng);
            points.push(...s.points);
            report.positive.requested = 4;
            report.sections = { quadrantsUsed: s.quadrantsUsed, count: s.points.length };
            break;
        }
    }
    report.positive.drawn = points.length;
    for (let i = 0; i < points.length; i++) labels.push(1);

    if (plan.negative !== undefined && plan.negative.count > 0) {
        const drawn = sampleNegativePoints(index, plan.negative, rng.split("negative"));
        points.push(...drawn.points);
        for (let i = 0; i < drawn.points.length; i++) labels.push(0);
        report.negative = {
            requested: plan.negative.count,
            drawn: drawn.points.length,
            regionRequested: plan.negative.region.kind,
            regionUsed: drawn.regionUsed,
            fellBack: drawn.fellBack,
            withReplacement: drawn.withReplacement,
            candidates: drawn.candidates,
        };
    }

    const prompt: Prompt = { points, labels };
    if (plan.box.kind === "tight") {
        prompt.box = [...index.tightBox];
        report.box = { kind: "tight", iouWithTight: 1, clamped: false };
    } else if (plan.box.kind === "jittered") {
        const j = jitterBox(index.tightBox, plan.box.jitter, index, rng.split("box"));
        prompt.box = j.box;
        report.box = { kind: "jittered", iouWithTight: j.iouWithOriginal, clamped: j.clamped };
    }
    return { prompt, report };
}
