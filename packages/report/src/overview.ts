/**
 * The overview of a run: every strategy of every dataset with its mean IoU and Dice, spread,
 * confidence interval and the paper's Dice for the same configuration; as text cells, CSV and the
 * compact plain-text table for the terminal.
 */
import { type PairedComparison, zeroShotComparisons } from "./comparisons.js";
import { paperEntryForStrategy } from "./paper.js";
import { sortByStrategy } from "./strategies.js";
import { bestStrategy, comparedPaperDataset, type StrategySummary, SummaryCache } from "./summaries.js";
import { csvTable, fmt3, fmtP, fmtPaper, fmtSigned, type TextTable } from "./text-table.js";
import type { DatasetResults, RunResults, StrategyResult } from "./types.js";

/** One dataset's strategies summarised, in the paper's order, and the best one by mean Dice. */
export interface DatasetOverview {
    dataset: DatasetResults;
    summaries: StrategySummary[];
    best: StrategySummary | undefined;
    /** Fine-tuned vs zero-shot paired test per strategy id (strategies with a zero-shot baseline). */
    zeroShot: Map<string, PairedComparison>;
}

/** Summaries of every strategy of every dataset. */
export function overview(results: RunResults, cache: SummaryCache = new SummaryCache()): DatasetOverview[] {
    return results.datasets.map((dataset) => {
        const summaries = sortByStrategy(dataset.strategies).map((s) => cache.get(s));
        const zeroShot = new Map(zeroShotComparisons(dataset.name, dataset.strategies).map((c) => [c.a, c]));
        return { dataset, summaries, best: bestStrategy(summaries), zeroShot };
    });
}

/** Mean and sample standard deviation (percent) of values in [0, 1]; std NaN for fewer than two. */
function spread(values: readonly number[]): { mean: number; std: number; n: number } | undefined {
    const v = values.filter((x) => Number.isFinite(x)).map((x) => x * 100);
    if (v.length === 0) return undefined;
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    const std = v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1)) : Number.NaN;
    return { mean, std, n: v.length };
}

/** Cross-validation: mean and spread (percent) of a strategy's per-fold mean Dice; undefined without folds. */
export function foldSpread(s: StrategyResult | undefined): { mean: number; std: number; n: number } | undefined {
    return spread((s?.folds ?? []).map((f) => f.dice));
}

/**
 * Cross-validation: mean and spread (percent) across training seeds of each seed's mean Dice over
 * the folds (every fold weighted alike); undefined without folds.
 */
export function seedSpread(s: StrategyResult | undefined): { mean: number; std: number; n: number } | undefined {
    const bySeed = new Map<number, number[]>();
    for (const f of s?.folds ?? [])
        for (const p of f.perSeed) bySeed.set(p.seed, [...(bySeed.get(p.seed) ?? []), p.dice]);
    return spread([...bySeed.values()].map((v) => v.reduce((a, b) => a + b, 0) / v.length));
}

function spreadText(f: { mean: number; std: number; n: number } | undefined): string {
    if (!f) return "-";
    return Number.isFinite(f.std) ? `${fmt3(f.mean)} ± ${fmt3(f.std)} (${f.n})` : `${fmt3(f.mean)} (1)`;
}

function zeroShotCells(d: DatasetOverview, s: StrategySummary): string[] {
    const c = d.zeroShot.get(s.id);
    if (!c || !s.zeroShot) return ["-", "-", "-"];
    return [
        s.zeroShot.n ? fmt3(s.zeroShot.dice.mean) : "-",
        c.nPairs ? fmtSigned(c.meanDiff) : "-",
        c.pValue === null ? "-" : fmtP(c.pValue),
    ];
}

function paperDice(d: DatasetOverview, id: string): string {
    const e = paperEntryForStrategy(id, comparedPaperDataset(d.dataset));
    return e?.dice === null || e === undefined ? "-" : fmtPaper(e.dice);
}

function seconds(s: number | undefined): string {
    if (s === undefined || !Number.isFinite(s)) return "-";
    return s >= 120 ? `${(s / 60).toFixed(1)} min` : `${s.toFixed(1)} s`;
}

/** One dataset's overview as text cells. */
export function overviewTextTable(d: DatasetOverview): TextTable {
    const headers = [
        "Strategy",
        "n (excluded)",
        "IoU",
        "Dice",
        "Dice std",
        "Dice 95% CI",
        "Dice median",
        ...(d.dataset.folds ? ["Dice across folds: mean ± std (folds)", "Dice across seeds: mean ± std (seeds)"] : []),
        ...(d.zeroShot.size ? ["Zero-shot Dice", "Gain (pp)", "p"] : []),
        `Paper Dice (${comparedPaperDataset(d.dataset)})`,
        "Train time",
    ];
    const train = new Map(d.dataset.strategies.map((s) => [s.id, s.trainSeconds]));
    const results = new Map(d.dataset.strategies.map((s) => [s.id, s]));
    return {
        headers,
        align: headers.map((_, c) => (c < 1 ? "left" : "right")),
        rows: d.summaries.map((s) => [
            s.label,
            `${s.n} (${s.excluded})`,
            fmt3(s.iou.mean),
            fmt3(s.dice.mean),
            fmt3(s.dice.std),
            s.n ? `[${fmt3(s.dice.ci95[0])}, ${fmt3(s.dice.ci95[1])}]` : "n/a",
            fmt3(s.dice.median),
            ...(d.dataset.folds
                ? [spreadText(foldSpread(results.get(s.id))), spreadText(seedSpread(results.get(s.id)))]
                : []),
            ...(d.zeroShot.size ? zeroShotCells(d, s) : []),
            paperDice(d, s.id),
            seconds(train.get(s.id)),
        ]),
        rowClasses: d.summaries.map((s) => (s.id === d.best?.id ? "best" : undefined)),
    };
}

/**
 * Every strategy summary of the run as CSV (metrics in percent, `_pct`; differences in percentage
 * points, `_pp`; unrounded). The zero-shot columns are empty for a strategy without a baseline.
 */
export function overviewCsv(data: readonly DatasetOverview[]): string {
    // cross-validation columns only in a run with folds (a run without keeps its columns)
    const cv = data.some((d) => d.dataset.folds !== undefined);
    const headers = [
        "dataset",
        "kind",
        "strategy_id",
        "label",
        "n",
        "excluded",
        "iou_mean_pct",
        "iou_std_pct",
        "iou_median_pct",
        "iou_ci95_low_pct",
        "iou_ci95_high_pct",
        "dice_mean_pct",
        "dice_std_pct",
        "dice_median_pct",
        "dice_q1_pct",
        "dice_q3_pct",
        "dice_min_pct",
        "dice_max_pct",
        "dice_ci95_low_pct",
        "dice_ci95_high_pct",
        ...(cv ? FOLD_COLUMNS : []),
        "zeroshot_n",
        "zeroshot_iou_mean_pct",
        "zeroshot_dice_mean_pct",
        "zeroshot_dice_ci95_low_pct",
        "zeroshot_dice_ci95_high_pct",
        "gain_dice_mean_pp",
        "gain_dice_median_pp",
        "gain_n_pairs",
        "gain_p_value",
        "gain_p_holm",
        "paper_dataset",
        "paper_iou_pct",
        "paper_dice_pct",
        "train_seconds",
    ];
    const rows = data.flatMap((d) => {
        const pd = comparedPaperDataset(d.dataset);
        const train = new Map(d.dataset.strategies.map((s) => [s.id, s.trainSeconds]));
        return d.summaries.map((s) => {
            const p = paperEntryForStrategy(s.id, pd);
            return [
                d.dataset.name,
                d.dataset.kind,
                s.id,
                s.label,
                s.n,
                s.excluded,
                s.iou.mean,
                s.iou.std,
                s.iou.median,
                s.iou.ci95[0],
                s.iou.ci95[1],
                s.dice.mean,
                s.dice.std,
                s.dice.median,
                s.dice.q1,
                s.dice.q3,
                s.dice.min,
                s.dice.max,
                s.dice.ci95[0],
                s.dice.ci95[1],
                ...(cv ? foldCsv(d.dataset.strategies.find((x) => x.id === s.id)) : []),
                ...zeroShotCsv(d, s),
                pd,
                p?.iou,
                p?.dice,
                train.get(s.id),
            ];
        });
    });
    return csvTable(headers, rows);
}

const FOLD_COLUMNS = [
    "folds_evaluated",
    "fold_dice_mean_pct",
    "fold_dice_std_pct",
    "seed_dice_mean_pct",
    "seed_dice_std_pct",
];

function foldCsv(s: StrategyResult | undefined): (number | string | undefined)[] {
    const f = foldSpread(s);
    if (!f) return new Array(FOLD_COLUMNS.length).fill(undefined);
    const sd = seedSpread(s);
    const finite = (x: number | undefined) => (x !== undefined && Number.isFinite(x) ? x : undefined);
    return [(s?.folds ?? []).map((x) => x.fold).join(" "), f.mean, finite(f.std), sd?.mean, finite(sd?.std)];
}

function zeroShotCsv(d: DatasetOverview, s: StrategySummary): (number | null | undefined)[] {
    const z = s.zeroShot;
    const c = d.zeroShot.get(s.id);
    if (!z || !c) return new Array(10).fill(undefined);
    return [
        z.n,
        z.n ? z.iou.mean : undefined,
        z.n ? z.dice.mean : undefined,
        z.n ? z.dice.ci95[0] : undefined,
        z.n ? z.dice.ci95[1] : undefined,
        c.nPairs ? c.meanDiff : undefined,
        c.nPairs ? c.medianDiff : undefined,
        c.nPairs,
        c.pValue,
        c.pHolm,
    ];
}

function plainTable(t: TextTable): string {
    const widths = t.headers.map((h, c) => Math.max(h.length, ...t.rows.map((r) => (r[c] ?? "").length)));
    const line = (cells: string[]) =>
        cells
            .map((cell, c) => (t.align[c] === "right" ? cell.padStart(widths[c] ?? 0) : cell.padEnd(widths[c] ?? 0)))
            .join("  ")
            .trimEnd();
    return [line(t.headers), widths.map((w) => "-".repeat(w)).join("  "), ...t.rows.map(line)].join("\n");
}

/**
 * A compact plain-text summary for the terminal: per dataset, each strategy's n, excluded, mean IoU
 * and Dice (%) with the Dice 95% CI and the paper's Dice, then the best strategy.
 */
export function summaryText(results: RunResults): string {
    const blocks: string[] = [];
    for (const d of overview(results)) {
        const pd = comparedPaperDataset(d.dataset);
        const t: TextTable = {
            headers: [
                "Strategy",
                "n",
                "Excl",
                "IoU %",
                "Dice %",
                "Dice 95% CI",
                ...(d.zeroShot.size ? ["Zero-shot Dice %", "Gain pp", "p"] : []),
                `Paper Dice (${pd})`,
            ],
            align: ["left", "right", "right", "right", "right", "right", "right", "right", "right", "right"],
            rows: d.summaries.map((s) => [
                s.id === d.best?.id ? `${s.label} *` : s.label,
                String(s.n),
                String(s.excluded),
                fmt3(s.iou.mean),
                fmt3(s.dice.mean),
                s.n ? `[${s.dice.ci95[0].toFixed(2)}, ${s.dice.ci95[1].toFixed(2)}]` : "n/a",
                ...(d.zeroShot.size ? zeroShotCells(d, s) : []),
                paperDice(d, s.id),
            ]),
        };
        const head = `${d.dataset.name} (${d.dataset.kind}; ${d.dataset.nTrain} train / ${d.dataset.nTest} test patches)`;
        const best = d.best
            ? `* best: ${d.best.label} (Dice ${fmt3(d.best.dice.mean)}%, 95% CI ${d.best.dice.ci95[0].toFixed(2)}-${d.best.dice.ci95[1].toFixed(2)})`
            : "best: none (no strategy evaluated any image)";
        blocks.push(`${head}\n${d.summaries.length ? plainTable(t) : "(no strategies)"}\n${best}`);
    }
    return `${results.title}\n\n${blocks.join("\n\n")}\n`;
}
