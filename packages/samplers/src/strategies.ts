/**
 * Named prompt strategies: the paper's plan as a registry of ids (`points3`, `box_jitter10`,
 * `pos50_neg50_box`, `centroid`, ...) and a parser for generic ids such as `points25_box_jitter10`.
 *
 * Id grammar: parts joined by `_`, each kind at most once, any order (the canonical order is
 * positive, negative, box):
 * - positives: `points<N>` or `pos<N>` (N random foreground pixels), `centroid` (mean),
 *   `centroid_interior` (distance-transform maximum), `box_centre` (or `box_center`),
 *   `four_sections`;
 * - negatives: `neg<M>` (patch background), `neg<M>-box` (inside the tight box), `neg<M>-ring<R>`
 *   (within R pixels of the mask);
 * - box: `box` (tight), `box_jitter<P>` (outward, P percent), `box_jittersym<P>` (symmetric,
 *   P percent), `box_jitterpx<K>` (+-K pixels), `box_jittermedsam` / `box_jittermedsam<K>` (MedSAM,
 *   0..K pixels at 1024, K = 20 by default).
 */

import { quoted } from "@sam-ablate/errors";
import type { BoxJitter } from "./box-jitter.js";
import { StrategyError } from "./errors.js";
import { type PromptPlan, validatePlan } from "./prompt-plan.js";

/** A dataset of the paper. */
export type PaperDataset = "bcss" | "brats";

/** Where a strategy appears in the paper's results. */
export interface PaperReference {
    /** Table number (3: points with/without box, 4: box jitter, 5: special strategies). */
    table: 3 | 4 | 5;
    /** The row label exactly as printed in the paper. */
    row: string;
    /** Table 3 only: the "Without BB" or "With BB" column group. */
    column?: "without box" | "with box";
    /** The datasets for which the paper reports this configuration. */
    datasets: PaperDataset[];
}

/** A named strategy: canonical id, human label, plan, and its place in the paper (if any). */
export interface StrategyDefinition {
    id: string;
    label: string;
    plan: PromptPlan;
    paper?: PaperReference;
}

const VALID_FORMS =
    "valid forms: points<N>, pos<N>, centroid, centroid_interior, box_centre, four_sections, " +
    "neg<M>[-box|-ring<R>], box, box_jitter<P>, box_jittersym<P>, box_jitterpx<K>, box_jittermedsam[<K>], " +
    "joined by '_' (e.g. points25_box_jitter10, pos50_neg50_box)";

const BOTH: PaperDataset[] = ["bcss", "brats"];

/** The paper's strategies in the order of Tables 3, 4 and 5. */
const PAPER: ReadonlyArray<readonly [id: string, paper: PaperReference]> = [
    ...[3, 10, 50, 100].flatMap((n) => [
        [`points${n}`, { table: 3, row: `${n} Positive Points`, column: "without box", datasets: BOTH }] as const,
        [`points${n}_box`, { table: 3, row: `${n} Positive Points`, column: "with box", datasets: BOTH }] as const,
    ]),
    ["box", { table: 4, row: "Normal Bounding Box", datasets: BOTH }],
    ...[5, 10, 20].map(
        (p) => [`box_jitter${p}`, { table: 4, row: `Bounding Box with ${p}% Jitter`, datasets: BOTH }] as const,
    ),
    ["pos50_neg50", { table: 5, row: "50 Positive + 50 Negative Points", datasets: ["bcss"] }],
    ["pos50_neg50_box", { table: 5, row: "50 Positive + 50 Negative Points", datasets: ["brats"] }],
    ["box_centre", { table: 5, row: "Center of Curated Bounding Box", datasets: BOTH }],
    ["centroid", { table: 5, row: "Centroid of Ground Truth", datasets: ["brats"] }],
    ["four_sections", { table: 5, row: "Dividing Ground Truth into 4 Sections", datasets: ["brats"] }],
];

const paperById = new Map<string, PaperReference>(PAPER.map(([id, ref]) => [id, ref]));

/** The ids of the paper's strategies, in table order. */
export const PAPER_STRATEGY_IDS: readonly string[] = PAPER.map(([id]) => id);

/** The paper's strategies (Tables 3–5) as definitions, in table order. */
export function paperStrategies(): StrategyDefinition[] {
    return PAPER_STRATEGY_IDS.map((id) => parseStrategy(id));
}

/**
 * Parses a strategy id (a paper id or a generic one, see the module documentation) into its
 * definition. The returned `id` is canonical (`pos10_box` becomes `points10_box`). Throws
 * `StrategyError` (code `ERR_SA_STRATEGY`) for an unknown or inconsistent id, listing the valid forms.
 */
export function parseStrategy(id: string): StrategyDefinition {
    if (typeof id !== "string" || id.trim() === "") {
        throw new StrategyError(`strategy id must be a non-empty string, got ${quoted(id)}; ${VALID_FORMS}`);
    }
    const plan = parsePlan(id.trim().toLowerCase(), id);
    const canonical = strategyId(plan);
    const paper = paperById.get(canonical);
    const definition: StrategyDefinition = { id: canonical, label: strategyLabel(plan), plan };
    if (paper) definition.paper = { ...paper, datasets: [...paper.datasets] };
    return definition;
}

function parsePlan(text: string, original: string): PromptPlan {
    const fail = (why: string): never => {
        throw new StrategyError(`unknown strategy ${quoted(original)}: ${why}; ${VALID_FORMS}`);
    };
    const tokens = text.split("_");
    const found: Partial<PromptPlan> = {};
    const setPositive = (p: PromptPlan["positive"], token: string): void => {
        if (found.positive) fail(`${quoted(token)} adds a second positive-point part`);
        found.positive = p;
    };
    const setBox = (b: PromptPlan["box"], token: string): void => {
        if (found.box) fail(`${quoted(token)} adds a second box part`);
        found.box = b;
    };
    for (let i = 0; i < tokens.length; i++) {
        const token = tokens[i] as string;
        const next = tokens[i + 1];
        const pointsMatch = /^(?:points|pos)([1-9]\d*)$/.exec(token);
        const negMatch = /^neg([1-9]\d*)(?:-(patch|box|ring([1-9]\d*(?:\.\d+)?)))?$/.exec(token);
        if (pointsMatch) {
            setPositive({ kind: "random", count: Number(pointsMatch[1]) }, token);
        } else if (negMatch) {
            if (found.negative) fail(`${quoted(token)} adds a second negative-point part`);
            const region: NonNullable<PromptPlan["negative"]>["region"] =
                negMatch[3] !== undefined
                    ? { kind: "ring", radius: Number(negMatch[3]) }
                    : negMatch[2] === "box"
                      ? { kind: "box" }
                      : { kind: "patch" };
            found.negative = { count: Number(negMatch[1]), region };
        } else if (token === "centroid") {
            if (next === "interior" || next === "mean") {
                setPositive({ kind: "centroid", centroidMode: next }, `${token}_${next}`);
                i++;
            } else {
                setPositive({ kind: "centroid", centroidMode: "mean" }, token);
            }
        } else if (token === "four" && next === "sections") {
            setPositive({ kind: "fourSections" }, "four_sections");
            i++;
        } else if (token === "box" && (next === "centre" || next === "center")) {
            setPositive({ kind: "boxCentre" }, `box_${next}`);
            i++;
        } else if (token === "box") {
            const jitter = next === undefined ? null : parseJitter(next);
            if (jitter) {
                setBox({ kind: "jittered", jitter }, `box_${next}`);
                i++;
            } else {
                setBox({ kind: "tight" }, token);
            }
        } else if (token.startsWith("jitter")) {
            fail(`${quoted(token)} must directly follow "box"`);
        } else {
            fail(`${quoted(token)} is not a known part`);
        }
    }
    const plan: PromptPlan = {
        positive: found.positive ?? { kind: "none" },
        ...(found.negative ? { negative: found.negative } : {}),
        box: found.box ?? { kind: "none" },
    };
    try {
        validatePlan(plan);
    } catch (e) {
        throw new StrategyError(`strategy ${quoted(original)}: ${e instanceof Error ? e.message : String(e)}`);
    }
    return plan;
}

function parseJitter(token: string): BoxJitter | null {
    const outward = /^jitter(\d+(?:\.\d+)?)$/.exec(token);
    if (outward) return { mode: "outward", fraction: Number(outward[1]) / 100 };
    const symmetric = /^jittersym(\d+(?:\.\d+)?)$/.exec(token);
    if (symmetric) return { mode: "symmetric", fraction: Number(symmetric[1]) / 100 };
    const pixels = /^jitterpx(\d+)$/.exec(token);
    if (pixels) return { mode: "pixels", pixels: Number(pixels[1]) };
    const medsam = /^jittermedsam(\d+)?$/.exec(token);
    if (medsam) return { mode: "medsam", pixelsAt1024: medsam[1] === undefined ? 20 : Number(medsam[1]) };
    return null;
}

/** Formats a number for an id or label without floating-point noise (0.07 * 100 -> "7"). */
const formatNumber = (v: number): string => String(Number(v.toPrecision(12)));

function jitterId(jitter: BoxJitter): string {
    switch (jitter.mode) {
        case "outward":
            return `jitter${formatNumber(jitter.fraction * 100)}`;
        case "symmetric":
            return `jittersym${formatNumber(jitter.fraction * 100)}`;
        case "pixels":
            return `jitterpx${jitter.pixels}`;
        case "medsam":
            return jitter.pixelsAt1024 === 20 ? "jittermedsam" : `jittermedsam${jitter.pixelsAt1024}`;
    }
}

/**
 * The canonical id of a plan (positive part, negative part, box part), which `parseStrategy`
 * maps back to an equal plan. Throws `StrategyError` for a malformed plan.
 */
export function strategyId(plan: PromptPlan): string {
    validatePlan(plan);
    const parts: string[] = [];
    const negatives = plan.negative?.count ?? 0;
    const p = plan.positive;
    switch (p.kind) {
        case "random":
            parts.push(negatives > 0 ? `pos${p.count}` : `points${p.count}`);
            break;
        case "centroid":
            parts.push(p.centroidMode === "mean" ? "centroid" : "centroid_interior");
            break;
        case "boxCentre":
            parts.push("box_centre");
            break;
        case "fourSections":
            parts.push("four_sections");
            break;
        case "none":
            break;
    }
    if (plan.negative !== undefined && negatives > 0) {
        const r = plan.negative.region;
        const suffix = r.kind === "patch" ? "" : r.kind === "box" ? "-box" : `-ring${formatNumber(r.radius)}`;
        parts.push(`neg${negatives}${suffix}`);
    }
    if (plan.box.kind === "tight") parts.push("box");
    else if (plan.box.kind === "jittered") parts.push(`box_${jitterId(plan.box.jitter)}`);
    return parts.join("_");
}

/** A human-readable label for a plan, in the paper's wording ("3 Positive Points + Bounding Box"). */
export function strategyLabel(plan: PromptPlan): string {
    validatePlan(plan);
    const parts: string[] = [];
    const p = plan.positive;
    const negatives = plan.negative?.count ?? 0;
    const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : "s"}`;
    switch (p.kind) {
        case "random":
            parts.push(
                negatives > 0
                    ? `${p.count} Positive + ${plural(negatives, "Negative Point")}`
                    : plural(p.count, "Positive Point"),
            );
            break;
        case "centroid":
            parts.push(p.centroidMode === "mean" ? "Centroid of Ground Truth" : "Interior Point of Ground Truth");
            break;
        case "boxCentre":
            parts.push("Centre of Bounding Box");
            break;
        case "fourSections":
            parts.push("Dividing Ground Truth into 4 Sections");
            break;
        case "none":
            break;
    }
    if (negatives > 0 && p.kind !== "random") parts.push(plural(negatives, "Negative Point"));
    if (plan.negative !== undefined && negatives > 0) {
        const r = plan.negative.region;
        if (r.kind === "box") parts[parts.length - 1] += " (negatives inside the box)";
        if (r.kind === "ring")
            parts[parts.length - 1] += ` (negatives within ${formatNumber(r.radius)} px of the mask)`;
    }
    if (plan.box.kind !== "none") {
        let box = "Bounding Box";
        if (plan.box.kind === "jittered") {
            const j = plan.box.jitter;
            switch (j.mode) {
                case "outward":
                    box += ` with ${formatNumber(j.fraction * 100)}% Jitter`;
                    break;
                case "symmetric":
                    box += ` with \u00b1${formatNumber(j.fraction * 100)}% Symmetric Jitter`;
                    break;
                case "pixels":
                    box += ` with \u00b1${j.pixels} px Jitter`;
                    break;
                case "medsam":
                    box += ` with MedSAM Jitter (0-${j.pixelsAt1024} px at 1024)`;
                    break;
            }
        }
        parts.push(box);
    }
    return parts.join(" + ");
}
