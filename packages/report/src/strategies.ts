import { type Arm, type PromptPlan, parseArm } from "@sam-ablate/samplers";

/**
 * Strategy ids: what each id means, its display name and the order in which strategies appear
 * in tables and figures (the paper's order: points, points + box, box, jitter, special strategies).
 */

/**
 * The families of prompt strategies in the paper (Table 1, IDs 1-7), and the architecture
 * modifications (IDs 9-11): prompt-free heads and LoRA in the image encoder.
 */
export type StrategyFamily =
    | "points"
    | "box"
    | "jitter"
    | "negatives"
    | "box_centre"
    | "centroid"
    | "four_sections"
    | "other"
    | "head"
    | "lora";

/** A strategy id decoded into its parts. */
export interface StrategyInfo {
    id: string;
    family: StrategyFamily;
    /** Positive points (points and negatives families). */
    positives?: number;
    /** Negative points (negatives family). */
    negatives?: number;
    /** Whether the tight box is part of the prompt. */
    withBox: boolean;
    /** Box jitter in percent of the side length (jitter family). */
    jitterPercent?: number;
    /** The parsed arm (absent for ids no parser knows: family "other"). */
    arm?: Arm;
}

const FAMILY_RANK: Record<StrategyFamily, number> = {
    points: 0,
    box: 1,
    jitter: 2,
    negatives: 3,
    box_centre: 4,
    centroid: 5,
    four_sections: 6,
    other: 7,
    head: 8,
    lora: 9,
};

/**
 * Decodes a strategy id (points3, points10_box, box, box_jitter5, pos50_neg50[_box], box_centre, centroid,
 * four_sections, the generic forms the samplers understand, heads and LoRA arms) through the samplers'
 * arm parser, so the report and the runner agree on what an id means. Ids it rejects are "other".
 */
export function parseStrategyId(id: string): StrategyInfo {
    let arm: Arm;
    try {
        arm = parseArm(id);
    } catch {
        return { id, family: "other", withBox: false };
    }
    if (arm.kind === "head") return { id, family: "head", withBox: false, arm };
    if (arm.kind === "lora") return { id, family: "lora", withBox: arm.prompt.plan.box.kind !== "none", arm };
    return { ...promptInfo(id, arm.strategy.plan), arm };
}

function promptInfo(id: string, plan: PromptPlan): StrategyInfo {
    const withBox = plan.box.kind !== "none";
    const pos = plan.positive;
    if (plan.negative && plan.negative.count > 0) {
        return {
            id,
            family: "negatives",
            positives: pos.kind === "random" ? pos.count : 0,
            negatives: plan.negative.count,
            withBox,
        };
    }
    switch (pos.kind) {
        case "random":
            return { id, family: "points", positives: pos.count, withBox };
        case "boxCentre":
            return { id, family: "box_centre", withBox };
        case "centroid":
            return { id, family: "centroid", withBox };
        case "fourSections":
            return { id, family: "four_sections", withBox };
        case "none":
            break;
    }
    if (plan.box.kind === "tight") return { id, family: "box", withBox: true };
    if (plan.box.kind === "jittered") {
        const j = plan.box.jitter;
        return j.mode === "outward"
            ? { id, family: "jitter", withBox: true, jitterPercent: Math.round(j.fraction * 1000) / 10 }
            : { id, family: "jitter", withBox: true };
    }
    return { id, family: "other", withBox: false };
}

/** A default display name for a strategy id, e.g. "3 points + box", "box, 5% jitter". */
export function strategyDisplayName(id: string): string {
    const s = parseStrategyId(id);
    switch (s.family) {
        case "points":
            return `${s.positives} point${s.positives === 1 ? "" : "s"}${s.withBox ? " + box" : ""}`;
        case "box":
            return "box";
        case "jitter":
            return `box, ${s.jitterPercent}% jitter`;
        case "negatives":
            return `${s.positives} pos + ${s.negatives} neg${s.withBox ? " + box" : ""}`;
        case "box_centre":
            return "box centre";
        case "centroid":
            return "GT centroid";
        case "four_sections":
            return "4 sections";
        case "head":
            return s.arm?.kind === "head"
                ? s.arm.head === "cnn"
                    ? `CNN head (${s.arm.depth})`
                    : s.arm.head === "linear"
                      ? "linear head"
                      : "AutoSAM"
                : id;
        case "lora":
            return s.arm?.kind === "lora" ? `LoRA r${s.arm.rank} + ${strategyDisplayName(s.arm.prompt.id)}` : id;
        case "other":
            return id;
    }
}

/**
 * The id of the same prompt without the box (points10_box -> points10, pos50_neg50_box -> pos50_neg50),
 * or undefined when the id has no box variant.
 */
export function withoutBoxId(id: string): string | undefined {
    const s = parseStrategyId(id);
    if ((s.family === "points" || s.family === "negatives") && s.withBox) return id.slice(0, -"_box".length);
    return undefined;
}

/** Compares two strategy ids in the paper's order; unknown ids go last, in their given order. */
export function compareStrategyIds(a: string, b: string): number {
    const sa = parseStrategyId(a);
    const sb = parseStrategyId(b);
    const byFamily = FAMILY_RANK[sa.family] - FAMILY_RANK[sb.family];
    if (byFamily !== 0) return byFamily;
    if (sa.family === "points" || sa.family === "negatives") {
        if (sa.withBox !== sb.withBox) return sa.withBox ? 1 : -1;
        const byPos = (sa.positives ?? 0) - (sb.positives ?? 0);
        if (byPos !== 0) return byPos;
        return (sa.negatives ?? 0) - (sb.negatives ?? 0);
    }
    if (sa.family === "jitter") return (sa.jitterPercent ?? 0) - (sb.jitterPercent ?? 0);
    if (sa.arm?.kind === "head" && sb.arm?.kind === "head") return headRank(sa.arm) - headRank(sb.arm);
    if (sa.arm?.kind === "lora" && sb.arm?.kind === "lora") return sa.arm.rank - sb.arm.rank;
    return 0;
}

/** AutoSAM, then the CNN heads by depth, then the linear head. */
function headRank(arm: Extract<Arm, { kind: "head" }>): number {
    return arm.head === "autosam" ? 0 : arm.head === "cnn" ? (arm.depth ?? 0) : 100;
}

/** Returns the items sorted by their strategy id in the paper's order (a stable sort; unknown ids keep their order). */
export function sortByStrategy<T extends { id: string }>(items: readonly T[]): T[] {
    return [...items].sort((a, b) => compareStrategyIds(a.id, b.id));
}
