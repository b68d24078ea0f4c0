/**
 * Aggregation of per-prompt sampling reports into the figures a run logs: mean jitter IoU, how
 * often the centroid or box centre fell outside the mask, how often sampling needed replacement or
 * a region fallback, and how many quadrants the four-sections strategy used.
 */
import type { PromptReport } from "./sample-prompt.js";

/** Counts and means over many prompt reports. */
export interface PromptReportSummary {
    /** Number of reports summarised. */
    prompts: number;
    /** Prompts whose positive points were drawn with replacement (mask smaller than N). */
    positiveWithReplacement: number;
    /** Prompts whose negative points were drawn with replacement (region smaller than N). */
    negativeWithReplacement: number;
    /** Prompts whose `box` background region was empty, so the whole patch was used. */
    negativeFallbacks: number;
    /** Prompts that asked for negatives on a patch without any background (none drawn). */
    negativeUnavailable: number;
    /** Jittered boxes: count, mean and minimum IoU against the tight box, number clamped to the patch. */
    jitter: { count: number; meanIoU: number; minIoU: number; clamped: number } | null;
    /** Centroid prompts and how many fell on a background pixel. */
    centroid: { count: number; outsideMask: number } | null;
    /** Box-centre prompts and how many fell on a background pixel. */
    boxCentre: { count: number; outsideMask: number } | null;
    /** Four-sections prompts: `quadrantHistogram[k - 1]` = prompts that used k quadrants. */
    sections: { count: number; quadrantHistogram: [number, number, number, number] } | null;
}

/** Summarises prompt reports (any mix of strategies). */
export function summarizePromptReports(reports: Iterable<PromptReport>): PromptReportSummary {
    let prompts = 0;
    let positiveWithReplacement = 0;
    let negativeWithReplacement = 0;
    let negativeFallbacks = 0;
    let negativeUnavailable = 0;
    let jitterCount = 0;
    let jitterSum = 0;
    let jitterMin = Number.POSITIVE_INFINITY;
    let jitterClamped = 0;
    let centroidCount = 0;
    let centroidOutside = 0;
    let centreCount = 0;
    let centreOutside = 0;
    let sectionsCount = 0;
    const histogram: [number, number, number, number] = [0, 0, 0, 0];
    for (const r of reports) {
        prompts++;
        if (r.positive.withReplacement) positiveWithReplacement++;
        if (r.negative) {
            if (r.negative.withReplacement) negativeWithReplacement++;
            if (r.negative.fellBack) negativeFallbacks++;
            if (r.negative.candidates === 0) negativeUnavailable++;
        }
        if (r.box?.kind === "jittered") {
            jitterCount++;
            jitterSum += r.box.iouWithTight;
            jitterMin = Math.min(jitterMin, r.box.iouWithTight);
            if (r.box.clamped) jitterClamped++;
        }
        if (r.centroid) {
            centroidCount++;
            if (r.centroid.outsideMask) centroidOutside++;
        }
        if (r.boxCentre) {
            centreCount++;
            if (r.boxCentre.outsideMask) centreOutside++;
        }
        if (r.sections) {
            sectionsCount++;
            const k = r.sections.count;
            if (k >= 1 && k <= 4) histogram[k - 1] = (histogram[k - 1] ?? 0) + 1;
        }
    }
    return {
        prompts,
        positiveWithReplacement,
        negativeWithReplacement,
        negativeFallbacks,
        negativeUnavailable,
        jitter:
            jitterCount === 0
                ? null
                : { count: jitterCount, meanIoU: jitterSum / jitterCount, minIoU: jitterMin, clamped: jitterClamped },
        centroid: centroidCount === 0 ? null : { count: centroidCount, outsideMask: centroidOutside },
        boxCentre: centreCount === 0 ? null : { count: centreCount, outsideMask: centreOutside },
        sections: sectionsCount === 0 ? null : { count: sectionsCount, quadrantHistogram: histogram },
    };
}
