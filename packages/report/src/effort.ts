/**
 * Implementation effort of each strategy (the x axis of the paper's Figure 10) and the arithmetic of
 * that figure: each strategy's mean Dice minus the average over all strategies of its dataset.
 * The effort table is data: the CLI can replace or extend it from a JSON file.
 */
import { quoted, ReportError } from "./errors.js";
import { parseStrategyId, sortByStrategy } from "./strategies.js";
import { SummaryCache } from "./summaries.js";
import type { RunResults } from "./types.js";

/** Implementation effort levels, lowest first. */
export const EFFORT_LEVELS = ["low", "medium", "high"] as const;

/** One implementation effort level. */
export type EffortLevel = (typeof EFFORT_LEVELS)[number];

/** Effort level per strategy id. */
export type EffortTable = Readonly<Record<string, EffortLevel>>;

/**
 * Default effort per strategy id, following the paper's discussion: sampling positive points and the
 * tight box (alone or together) are the simplest; jitter, negative points, the box centre and the
 * ground-truth centroid need one more step each; the four-section split is the most involved.
 */
export const DEFAULT_EFFORT: EffortTable = {
    points3: "low",
    points10: "low",
    points50: "low",
    points100: "low",
    points3_box: "low",
    points10_box: "low",
    points50_box: "low",
    points100_box: "low",
    box: "low",
    box_jitter5: "medium",
    box_jitter10: "medium",
    box_jitter20: "medium",
    pos50_neg50: "medium",
    pos50_neg50_box: "medium",
    box_centre: "medium",
    centroid: "medium",
    four_sections: "high",
};

/**
 * Effort of the architecture arms (Table 1, IDs 9-11) when the table has no entry for their id:
 * AutoSAM and the prediction heads change what is trained on the cached embeddings and drop the
 * prompt sampling (medium); LoRA puts the image encoder and its backward pass into the loop (high).
 */
export function architectureEffort(id: string): EffortLevel | undefined {
    const family = parseStrategyId(id).family;
    return family === "head" ? "medium" : family === "lora" ? "high" : undefined;
}

/** The effort of a strategy id: its entry in `effort`, else the architecture default, else none. */
export function effortOf(id: string, effort: EffortTable = DEFAULT_EFFORT): EffortLevel | undefined {
    return Object.hasOwn(effort, id) ? effort[id] : architectureEffort(id);
}

/**
 * Validates an effort table read from JSON (an object of strategy id -> "low" | "medium" | "high")
 * and returns `base` overridden by it. `source` names the file in error messages.
 */
export function parseEffortTable(json: unknown, source: string, base: EffortTable = DEFAULT_EFFORT): EffortTable {
    if (json === null || typeof json !== "object" || Array.isArray(json)) {
        throw new ReportError(
            "ERR_SA_REPORT_EFFORT",
            `${source}: the effort table must be a JSON object of strategy id -> effort level`,
        );
    }
    const out: Record<string, EffortLevel> = { ...base };
    for (const [id, level] of Object.entries(json)) {
        if (!(EFFORT_LEVELS as readonly unknown[]).includes(level)) {
            throw new ReportError(
                "ERR_SA_REPORT_EFFORT",
                `${source}: effort of "${id}" is ${quoted(level)}; expected one of ${EFFORT_LEVELS.join(", ")}`,
            );
        }
        out[id] = level as EffortLevel;
    }
    return out;
}

/** One point of Figure 10. */
export interface EffortPoint {
    dataset: string;
    strategyId: string;
    label: string;
    effort: EffortLevel;
    /** Mean Dice of the strategy (%). */
    meanDice: number;
    /** Average of the mean Dice of all evaluated strategies of the dataset (%). */
    average: number;
    /** meanDice - average, in percentage points. */
    difference: number;
}

/** Figure 10's data, and the strategies left out because the effort table has no level for them. */
export interface EffortData {
    points: EffortPoint[];
    /** "dataset: id" of each evaluated strategy without an effort level. */
    unplaced: string[];
}

/**
 * Figure 10's arithmetic: per dataset, the average of the prompt strategies' mean Dice (every
 * evaluated prompt strategy counts; the architecture arms are placed against that same average and
 * do not move it; a dataset with arms only averages them), and each strategy's difference to it in
 * percentage points.
 */
export function effortData(
    results: RunResults,
    effort: EffortTable = DEFAULT_EFFORT,
    cache: SummaryCache = new SummaryCache(),
): EffortData {
    const points: EffortPoint[] = [];
    const unplaced: string[] = [];
    for (const d of results.datasets) {
        const evaluated = sortByStrategy(d.strategies.map((s) => cache.get(s))).filter((s) => s.n > 0);
        if (evaluated.length === 0) continue;
        const prompts = evaluated.filter((s) => {
            const f = parseStrategyId(s.id).family;
            return f !== "head" && f !== "lora";
        });
        const base = prompts.length ? prompts : evaluated;
        const average = base.reduce((sum, s) => sum + s.dice.mean, 0) / base.length;
        for (const s of evaluated) {
            const level = effortOf(s.id, effort);
            if (level === undefined) {
                unplaced.push(`${d.name}: ${s.id}`);
                continue;
            }
            points.push({
                dataset: d.name,
                strategyId: s.id,
                label: s.label,
                effort: level,
                meanDice: s.dice.mean,
                average,
                difference: s.dice.mean - average,
            });
        }
    }
    return { points, unplaced };
}
