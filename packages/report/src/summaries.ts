/**
 * Per-strategy summaries of the per-image metrics (in percent), and the paper dataset a dataset is
 * compared with.
 */
import { bootstrapMeanCI, type SummaryStats, summarize } from "@sam-ablate/metrics";
import { PAPER_DATASET_BY_KIND } from "./paper.js";
import type { DatasetResults, PaperDataset, StrategyResult } from "./types.js";

/** Summary of one metric over the evaluated (non-excluded) images, in percent. */
export interface MetricSummary extends SummaryStats {
    /** 95% percentile-bootstrap confidence interval of the mean, in percent. */
    ci95: [number, number];
}

/** Summary of one strategy on one dataset, in percent. */
export interface StrategySummary {
    id: string;
    label: string;
    /** Evaluated images (dice not null). */
    n: number;
    /** Images excluded for an empty ground truth, as reported by the run. */
    excluded: number;
    dice: MetricSummary;
    iou: MetricSummary;
    /** The pretrained decoder with the same prompts; absent when not evaluated. */
    zeroShot?: { n: number; excluded: number; dice: MetricSummary; iou: MetricSummary };
}

/** Seed of the bootstrap resampling: fixed, so a report is reproducible. */
const BOOTSTRAP_SEED = 20240101;

function metricSummary(fractions: number[]): MetricSummary {
    const pct = fractions.map((v) => v * 100);
    const ci = bootstrapMeanCI(pct, { seed: BOOTSTRAP_SEED });
    return { ...summarize(pct), ci95: [ci.lower, ci.upper] };
}

/** Per-image Dice of the evaluated images of a strategy, in percent. */
export function diceValues(strategy: StrategyResult): number[] {
    const out: number[] = [];
    for (const r of strategy.perImage) if (r.dice !== null) out.push(r.dice * 100);
    return out;
}

function metrics(perImage: StrategyResult["perImage"]): { n: number; dice: MetricSummary; iou: MetricSummary } {
    const dice: number[] = [];
    const iou: number[] = [];
    for (const r of perImage) {
        if (r.dice !== null) dice.push(r.dice);
        if (r.iou !== null) iou.push(r.iou);
    }
    return { n: dice.length, dice: metricSummary(dice), iou: metricSummary(iou) };
}

/** Summary statistics of a strategy's per-image Dice and IoU (percent), with bootstrap 95% CIs. */
export function summarizeStrategy(strategy: StrategyResult): StrategySummary {
    const out: StrategySummary = {
        id: strategy.id,
        label: strategy.label,
        excluded: strategy.excluded,
        ...metrics(strategy.perImage),
    };
    if (strategy.zeroShot)
        out.zeroShot = { excluded: strategy.zeroShot.excluded, ...metrics(strategy.zeroShot.perImage) };
    return out;
}

/**
 * Summaries computed once per strategy object (the bootstrap is the expensive part). Share one
 * cache across the tables, statistics and figures of one rendering; results must not change
 * while a cache that has seen them is in use.
 */
export class SummaryCache {
    private readonly map = new WeakMap<StrategyResult, StrategySummary>();

    /** The summary of a strategy, computed on first use. */
    get(strategy: StrategyResult): StrategySummary {
        let s = this.map.get(strategy);
        if (s === undefined) {
            s = summarizeStrategy(strategy);
            this.map.set(strategy, s);
        }
        return s;
    }
}

/** The paper dataset a dataset is compared with: its own paper name, else the paper's dataset of the same kind. */
export function comparedPaperDataset(dataset: DatasetResults): PaperDataset {
    return dataset.paperName ?? PAPER_DATASET_BY_KIND[dataset.kind];
}

/** The strategy of a dataset with the highest mean Dice (ties: the first), or undefined when none was evaluated. */
export function bestStrategy(summaries: readonly StrategySummary[]): StrategySummary | undefined {
    let best: StrategySummary | undefined;
    for (const s of summaries) {
        if (s.n === 0) continue;
        if (best === undefined || s.dice.mean > best.dice.mean) best = s;
    }
    return best;
}
