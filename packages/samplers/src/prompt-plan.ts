/**
 * Prompt plans: a declarative description of how to build one prompt from a ground-truth mask
 * (which positive points, which negative points from which background region, which box).
 */
import { type BoxJitter, validateJitter } from "./box-jitter.js";
import { clip, StrategyError } from "./errors.js";

/** How the centroid point is placed. */
export type CentroidMode =
    /** The mean foreground coordinate, rounded (may fall outside a concave mask). */
    | "mean"
    /**
     * The foreground pixel farthest from any background pixel of the patch (exact Euclidean
     * distance transform maximum); always inside the mask.
     */
    | "interior";

/** The positive (label 1) points of a plan. */
export type PositiveSpec =
    | { kind: "none" }
    /** `count` foreground pixels, uniformly without replacement (with, when the mask is smaller). */
    | { kind: "random"; count: number }
    /** One point at the ground-truth centroid. */
    | { kind: "centroid"; centroidMode: CentroidMode }
    /** One point at the centre of the tight box, rounded (may fall outside the mask). */
    | { kind: "boxCentre" }
    /** One random foreground pixel from each non-empty quadrant of the tight box (1–4 points). */
    | { kind: "fourSections" };

/** Where negative (label 0) points are drawn from. */
export type BackgroundRegion =
    /** Every background pixel of the patch (the default). */
    | { kind: "patch" }
    /** Background pixels inside the tight box; falls back to `patch` when there are none. */
    | { kind: "box" }
    /** Background pixels within Euclidean distance `radius` (pixels, >= 1) of the mask. */
    | { kind: "ring"; radius: number };

/** The negative points of a plan: `count` background pixels from `region`. */
export interface NegativeSpec {
    count: number;
    region: BackgroundRegion;
}

/** The box of a plan. */
export type BoxSpec = { kind: "none" } | { kind: "tight" } | { kind: "jittered"; jitter: BoxJitter };

/** A complete prompt recipe. A plan must produce at least one point or a box. */
export interface PromptPlan {
    positive: PositiveSpec;
    negative?: NegativeSpec;
    box: BoxSpec;
}

/**
 * Upper bounds of a plan's counts, checked when a plan or strategy id is parsed (documented in the
 * README's strategy section). SAM's prompt encoder embeds every point, so counts beyond a patch's
 * worth of prompts only cost memory; the paper's largest plan has 100 points.
 */
export const PROMPT_LIMITS = {
    /** Positive plus negative points of one prompt. */
    maxPoints: 1024,
    /** Box jitter in percent of the box side (outward and symmetric). */
    maxJitterPercent: 100,
    /** Box jitter in pixels (`jitterpx`, and MedSAM's pixels at 1024). */
    maxJitterPixels: 1024,
    /** Radius of the negative-point ring, in pixels. */
    maxRingRadius: 1024,
} as const;

/** Throws `StrategyError` (code `ERR_SA_STRATEGY`) when a plan is malformed, empty or over a limit. */
export function validatePlan(plan: PromptPlan): void {
    const bad = (what: string): never => {
        throw new StrategyError(`invalid prompt plan ${clip(JSON.stringify(plan) ?? String(plan), 160)}: ${what}`);
    };
    if (plan === null || typeof plan !== "object") bad("a plan must be an object {positive, negative?, box}");
    const { positive, negative, box } = plan;
    switch (positive?.kind) {
        case "none":
        case "boxCentre":
        case "fourSections":
            break;
        case "random":
            if (!Number.isInteger(positive.count) || positive.count < 1) bad("positive.count must be an integer >= 1");
            break;
        case "centroid":
            if (positive.centroidMode !== "mean" && positive.centroidMode !== "interior") {
                bad('positive.centroidMode must be "mean" or "interior"');
            }
            break;
        default:
            bad('positive.kind must be one of "none", "random", "centroid", "boxCentre", "fourSections"');
    }
    if (negative !== undefined) {
        if (!Number.isInteger(negative.count) || negative.count < 0) bad("negative.count must be an integer >= 0");
        const region = negative.region;
        switch (region?.kind) {
            case "patch":
            case "box":
                break;
            case "ring":
                if (!Number.isFinite(region.radius) || region.radius < 1) bad("negative.region.radius must be >= 1");
                break;
            default:
                bad('negative.region.kind must be one of "patch", "box", "ring"');
        }
    }
    switch (box?.kind) {
        case "none":
        case "tight":
            break;
        case "jittered":
            try {
                validateJitter(box.jitter);
            } catch (e) {
                bad(e instanceof Error ? e.message : String(e));
            }
            break;
        default:
            bad('box.kind must be one of "none", "tight", "jittered"');
    }
    const points = (positive.kind === "random" ? positive.count : 0) + (negative?.count ?? 0);
    if (points > PROMPT_LIMITS.maxPoints) {
        bad(`${points} points in one prompt; at most ${PROMPT_LIMITS.maxPoints} (positive + negative)`);
    }
    if (negative?.region.kind === "ring" && negative.region.radius > PROMPT_LIMITS.maxRingRadius) {
        bad(`ring radius ${negative.region.radius}; at most ${PROMPT_LIMITS.maxRingRadius} pixels`);
    }
    if (box.kind === "jittered") {
        const j = box.jitter;
        if ((j.mode === "outward" || j.mode === "symmetric") && j.fraction * 100 > PROMPT_LIMITS.maxJitterPercent) {
            bad(`jitter ${clip(String(j.fraction * 100), 24)}%; at most ${PROMPT_LIMITS.maxJitterPercent}%`);
        }
        const px = j.mode === "pixels" ? j.pixels : j.mode === "medsam" ? j.pixelsAt1024 : 0;
        if (px > PROMPT_LIMITS.maxJitterPixels) bad(`jitter of ${px} pixels; at most ${PROMPT_LIMITS.maxJitterPixels}`);
    }
    if (positive.kind === "none" && (negative?.count ?? 0) === 0 && box.kind === "none") {
        bad("it produces neither points nor a box");
    }
}

/**
 * The plan with `fraction` of its random positive points replaced by negative points from
 * `region` (the paper's "50 + 50": `replaceWithNegatives(points100, 0.5)`). The number replaced
 * is `round(count x fraction)`; the total number of points is unchanged.
 */
export function replaceWithNegatives(
    plan: PromptPlan,
    fraction: number = 0.5,
    region: BackgroundRegion = { kind: "patch" },
): PromptPlan {
    validatePlan(plan);
    if (plan.positive.kind !== "random") {
        throw new StrategyError(
            `replaceWithNegatives needs a plan with random positive points, got positive.kind "${plan.positive.kind}"`,
        );
    }
    if (!(fraction > 0 && fraction < 1)) {
        throw new StrategyError(`replaceWithNegatives: fraction must be in (0, 1), got ${fraction}`);
    }
    if ((plan.negative?.count ?? 0) > 0) {
        throw new StrategyError("replaceWithNegatives needs a plan without negative points");
    }
    const negatives = Math.round(plan.positive.count * fraction);
    const positives = plan.positive.count - negatives;
    if (positives < 1 || negatives < 1) {
        throw new StrategyError(
            `replaceWithNegatives: ${plan.positive.count} points with fraction ${fraction} leave no positive or no negative point`,
        );
    }
    const result: PromptPlan = {
        positive: { kind: "random", count: positives },
        negative: { count: negatives, region },
        box: plan.box,
    };
    validatePlan(result);
    return result;
}
