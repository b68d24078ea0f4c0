/**
 * The overview of a run: every strategy of every dataset with its mean IoU and Dice, spread,
 * confidence interval and the paper's Dice for the same configuration; as text cells, CSV and the
 * compact plain-text table for the terminal.
 */
import { paperEntryForStrategy } from "./paper.js";
import { sortByStrategy } from "./strategies.js";
import { bestStrategy, comparedPaperDataset, type StrategySummary, SummaryCache } from "./summaries.js";
import { csvTable, fmt3, fmtPaper, type TextTable } from "./text-table.js";
import type { DatasetResults, RunResults } from "./types.js";

/** One dataset's strategies summarised, in the paper's order, and the best one by mean Dice. */
export interface DatasetOverview {
    dataset: DatasetResults;
    summaries: StrategySummary[];
    best: StrategySummary | undefined;
}

/** Summaries of every strategy of every dataset. */
export function overview(results: RunResults, cache: SummaryCache = new SummaryCache()): DatasetOverview[] {
    return results.datasets.map((dataset) => {
        const summaries = sortByStrategy(dataset.strategies).map((s) => cache.get(s));
        return { dataset, summaries, best: bestStrategy(summaries) };
    });
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
        "Id",
        "n",
        "Excluded",
        "IoU",
        "Dice",
        "Dice std",
        "Dice 95% CI",
        "Dice median",
        `Paper Dice (${comparedPaperDataset(d.dataset)})`,
        "Train time",
    ];
    const train = new Map(d.dataset.strategies.map((s) => [s.id, s.trainSeconds]));
    return {
        headers,
        align: headers.map((_, c) => (c < 2 ? "left" : "right")),
        rows: d.summaries.map((s) => [
            s.label,
            s.id,
            String(s.n),
            String(s.excluded),
            fmt3(s.iou.mean),
            fmt3(s.dice.mean),
            fmt3(s.dice.std),
            s.n ? `[${fmt3(s.dice.ci95[0])}, ${fmt3(s.dice.ci95[1])}]` : "n/a",
            fmt3(s.dice.median),
            paperDice(d, s.id),
            seconds(train.get(s.id)),
        ]),
        rowClasses: d.summaries.map((s) => (s.id === d.best?.id ? "best" : undefined)),
    };
}

/** Every strategy summary of the run as CSV (percent, unrounded). */
export function overviewCsv(data: readonly DatasetOverview[]): string {
    const headers = [
        "dataset",
        "kind",
        "strategy_id",
        "label",
        "n",
        "excluded",
        "iou_mean",
        "iou_std",
        "iou_median",
        "iou_ci95_low",
        "iou_ci95_high",
        "dice_mean",
        "dice_std",
        "dice_median",
        "dice_q1",
        "dice_q3",
        "dice_min",
        "dice_max",
        "dice_ci95_low",
        "dice_ci95_high",
        "paper_dataset",
        "paper_iou",
        "paper_dice",
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
                pd,
                p?.iou,
                p?.dice,
                train.get(s.id),
            ];
        });
    });
    return csvTable(headers, rows);
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
            headers: ["Strategy", "n", "Excl", "IoU %", "Dice %", "Dice 95% CI", `Paper Dice (${pd})`],
            align: ["left", "right", "right", "right", "right", "right", "right"],
            rows: d.summaries.map((s) => [
                s.id === d.best?.id ? `${s.label} *` : s.label,
                String(s.n),
                String(s.excluded),
                fmt3(s.iou.mean),
                fmt3(s.dice.mean),
                s.n ? `[${s.dice.ci95[0].toFixed(2)}, ${s.dice.ci95[1].toFixed(2)}]` : "n/a",
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
