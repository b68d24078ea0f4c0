/**
 * Tables 3, 4 and 5 of the paper with our numbers beside the published ones: the table model,
 * and its Markdown, HTML and CSV renderings.
 */
import { relativeImprovement } from "@sam-ablate/metrics";
import { PAPER_RESULTS, PAPER_TABLE3_IMPROVEMENT, type PaperEntry } from "./paper.js";
import { parseStrategyId, sortByStrategy, strategyDisplayName } from "./strategies.js";
import { comparedPaperDataset, type StrategySummary, SummaryCache } from "./summaries.js";
import {
    type CsvValue,
    csvTable,
    escapeXml,
    fmt3,
    fmtPaper,
    fmtSigned,
    htmlTable,
    markdownTable,
    type TextTable,
} from "./text-table.js";
import type { DatasetResults, PaperDataset, RunResults } from "./types.js";

/** Which tables: the paper's Tables 3-5, and the architecture modifications of its Table 1 (IDs 9-11). */
export type PaperTableId = "table3" | "table4" | "table5" | "architectures";

/** IoU and Dice (percent) of one configuration, ours (with spread and counts) or the paper's. */
export interface MetricCell {
    strategyId: string;
    iou: number | null;
    dice: number | null;
    iouStd?: number;
    diceStd?: number;
    iouCI?: [number, number];
    diceCI?: [number, number];
    /** Evaluated images. */
    n?: number;
    /** Images excluded for an empty ground truth. */
    excluded?: number;
    /** Ours only: the pretrained decoder with the same prompts on the same images (percent). */
    zeroShot?: { iou: number | null; dice: number | null; n: number };
}

/** One line of a comparison table: our result or the paper's for one experiment on one dataset. */
export interface ComparisonRow {
    experiment: string;
    /** Our dataset's name (for paper rows: the paper's dataset name). */
    dataset: string;
    /** The paper dataset this row is compared with. */
    paperDataset: PaperDataset;
    source: "ours" | "paper";
    /** The configuration (Table 3: without box); null = not run. */
    main: MetricCell | null;
    /** Table 3 only: the same points with the box; null = not run. */
    box?: MetricCell | null;
    /** Table 3 only: relative change with the box, (with - without) / without x 100. */
    improvement?: { iou: number | null; dice: number | null };
}

/** A comparison table (Table 3, 4 or 5): rows grouped by experiment, then dataset, ours before the paper's. */
export interface ComparisonTable {
    id: PaperTableId;
    title: string;
    /** Whether the table has the with-box and improvement columns (Table 3). */
    withBox: boolean;
    /** Whether any of our rows has a zero-shot baseline (adds the zero-shot Dice columns). */
    zeroShot: boolean;
    rows: ComparisonRow[];
    notes: string[];
}

/** How our means are annotated in Markdown and HTML cells. */
export type Spread = "none" | "std" | "ci95";

interface RowDef {
    experiment: string;
    /** Table 3: points without box; else the ids whose results are shown in this row. */
    ids: string[];
    /** Table 3: the matching with-box id. */
    boxId?: string;
}

const TABLE_TITLES: Record<PaperTableId, string> = {
    table3: "Table 3: IoU and Dice (%) for different numbers of positive points with and without bounding box",
    table4: "Table 4: IoU and Dice (%) for different jitter on the bounding box",
    table5: "Table 5: IoU and Dice (%) for special sampling strategies",
    architectures:
        "Architecture modifications (Table 1 IDs 9-11): IoU and Dice (%) of the prompt-free decoder (AutoSAM), prediction heads and LoRA in the image encoder, beside the tight-box decoder",
};

function paperExperiments(table: 3 | 4 | 5): string[] {
    const out: string[] = [];
    for (const r of PAPER_RESULTS) if (r.table === table && !out.includes(r.experiment)) out.push(r.experiment);
    return out;
}

function allIds(results: RunResults): string[] {
    const ids: string[] = [];
    for (const d of results.datasets) for (const s of d.strategies) if (!ids.includes(s.id)) ids.push(s.id);
    return ids;
}

/** The row label of an architecture arm: its Table 1 ID and what it is. */
function architectureExperiment(id: string): string {
    const arm = parseStrategyId(id).arm;
    if (arm?.kind === "head") {
        return arm.head === "autosam"
            ? "ID 9: AutoSAM (decoder without prompt)"
            : arm.head === "linear"
              ? "ID 10: Linear head"
              : `ID 10: CNN head, depth ${arm.depth}`;
    }
    if (arm?.kind === "lora") return `ID 11: LoRA r${arm.rank} in the encoder + ${strategyDisplayName(arm.prompt.id)}`;
    return id;
}

/** Whether a run has any architecture arm (a prompt-free head or an encoder adapter). */
export function hasArchitectureArms(results: RunResults): boolean {
    return allIds(results).some((id) => {
        const f = parseStrategyId(id).family;
        return f === "head" || f === "lora";
    });
}

function rowDefs(table: PaperTableId, results: RunResults): RowDef[] {
    const ids = allIds(results);
    const defs: RowDef[] = [];
    if (table === "architectures") {
        defs.push({ experiment: "Baseline: decoder fine-tuned with the tight box", ids: ["box"] });
        const arms = ids.filter((id) => {
            const f = parseStrategyId(id).family;
            return f === "head" || f === "lora";
        });
        for (const a of sortByStrategy(arms.map((id) => ({ id }))))
            defs.push({ experiment: architectureExperiment(a.id), ids: [a.id] });
        return defs;
    }
    if (table === "table3") {
        const counts = new Set<number>([3, 10, 50, 100]);
        for (const id of ids) {
            const s = parseStrategyId(id);
            if (s.family === "points" && s.positives !== undefined) counts.add(s.positives);
        }
        for (const n of [...counts].sort((a, b) => a - b)) {
            defs.push({ experiment: `${n} Positive Points`, ids: [`points${n}`], boxId: `points${n}_box` });
        }
        return defs;
    }
    if (table === "table4") {
        const jitters = new Set<number>([5, 10, 20]);
        for (const id of ids) {
            const s = parseStrategyId(id);
            if (s.family === "jitter" && s.jitterPercent !== undefined) jitters.add(s.jitterPercent);
        }
        defs.push({ experiment: "Normal Bounding Box", ids: ["box"] });
        for (const j of [...jitters].sort((a, b) => a - b)) {
            defs.push({ experiment: `Bounding Box with ${j}% Jitter`, ids: [`box_jitter${j}`] });
        }
        return defs;
    }
    const [negatives, centre, centroid, sections] = paperExperiments(5) as [string, string, string, string];
    const negIds = ids.filter((id) => parseStrategyId(id).family === "negatives");
    const paperNeg = ["pos50_neg50", "pos50_neg50_box"];
    defs.push({ experiment: negatives, ids: paperNeg });
    for (const id of negIds) {
        if (paperNeg.includes(id)) continue;
        const s = parseStrategyId(id);
        defs.push({ experiment: `${s.positives} Positive + ${s.negatives} Negative Points`, ids: [id] });
    }
    defs.push({ experiment: centre, ids: ["box_centre"] });
    defs.push({ experiment: centroid, ids: ["centroid"] });
    defs.push({ experiment: sections, ids: ["four_sections"] });
    for (const id of ids) if (parseStrategyId(id).family === "other") defs.push({ experiment: id, ids: [id] });
    return defs;
}

function oursCell(s: StrategySummary): MetricCell {
    const z = s.zeroShot;
    return {
        ...(z ? { zeroShot: { iou: z.n ? z.iou.mean : null, dice: z.n ? z.dice.mean : null, n: z.n } } : {}),
        strategyId: s.id,
        iou: s.n > 0 ? s.iou.mean : null,
        dice: s.n > 0 ? s.dice.mean : null,
        iouStd: s.iou.std,
        diceStd: s.dice.std,
        iouCI: s.iou.ci95,
        diceCI: s.dice.ci95,
        n: s.n,
        excluded: s.excluded,
    };
}

function paperCell(e: PaperEntry): MetricCell {
    return { strategyId: e.strategyId, iou: e.iou, dice: e.dice };
}

function relativeChange(without: number | null | undefined, withBox: number | null | undefined): number | null {
    if (without === null || without === undefined || withBox === null || withBox === undefined || without === 0)
        return null;
    return relativeImprovement(withBox, without);
}

/** The paper's table number; 1 for the architecture modifications (Table 1 lists them, with no results). */
function tableNumber(id: PaperTableId): 1 | 3 | 4 | 5 {
    return id === "table3" ? 3 : id === "table4" ? 4 : id === "table5" ? 5 : 1;
}

/**
 * Builds one of the paper's tables from a run: for every experiment and dataset that was run, our
 * line (mean over evaluated images, with n and excluded) and the paper's line on the compared
 * paper dataset. Experiments or datasets without a run are omitted, never filled in.
 */
export function buildComparisonTable(
    table: PaperTableId,
    results: RunResults,
    cache: SummaryCache = new SummaryCache(),
): ComparisonTable {
    const num = tableNumber(table);
    const summaries = new Map<DatasetResults, Map<string, StrategySummary>>();
    for (const d of results.datasets) summaries.set(d, new Map(d.strategies.map((s) => [s.id, cache.get(s)])));
    const rows: ComparisonRow[] = [];
    const notes: string[] = [];
    const mismatches: string[] = [];
    for (const def of rowDefs(table, results)) {
        for (const d of results.datasets) {
            const byId = summaries.get(d) as Map<string, StrategySummary>;
            const pd = comparedPaperDataset(d);
            const paperEntries = PAPER_RESULTS.filter(
                (r) => r.table === num && r.experiment === def.experiment && r.dataset === pd,
            );
            if (table === "table3") {
                const without = byId.get(def.ids[0] as string);
                const withBox = byId.get(def.boxId as string);
                if (!without && !withBox) continue;
                const main = without ? oursCell(without) : null;
                const box = withBox ? oursCell(withBox) : null;
                rows.push({
                    experiment: def.experiment,
                    dataset: d.name,
                    paperDataset: pd,
                    source: "ours",
                    main,
                    box,
                    improvement: {
                        iou: relativeChange(main?.iou, box?.iou),
                        dice: relativeChange(main?.dice, box?.dice),
                    },
                });
                const pw = paperEntries.find((e) => e.strategyId === def.ids[0]);
                const pb = paperEntries.find((e) => e.strategyId === def.boxId);
                const positives = parseStrategyId(def.ids[0] as string).positives;
                const printed = PAPER_TABLE3_IMPROVEMENT.find((r) => r.positives === positives && r.dataset === pd);
                if (pw || pb) {
                    rows.push({
                        experiment: def.experiment,
                        dataset: pd,
                        paperDataset: pd,
                        source: "paper",
                        main: pw ? paperCell(pw) : null,
                        box: pb ? paperCell(pb) : null,
                        improvement: printed ? { iou: printed.iou, dice: printed.dice } : { iou: null, dice: null },
                    });
                }
                continue;
            }
            const ran = def.ids.map((id) => byId.get(id)).filter((s): s is StrategySummary => s !== undefined);
            if (ran.length === 0) continue;
            for (const s of ran) {
                rows.push({
                    experiment: def.experiment,
                    dataset: d.name,
                    paperDataset: pd,
                    source: "ours",
                    main: oursCell(s),
                });
            }
            for (const e of paperEntries) {
                rows.push({
                    experiment: def.experiment,
                    dataset: pd,
                    paperDataset: pd,
                    source: "paper",
                    main: paperCell(e),
                });
                if (e.note) notes.push(`Paper, ${e.experiment} on ${e.dataset}: ${e.note}.`);
                for (const s of ran) {
                    if (s.id !== e.strategyId) {
                        mismatches.push(
                            `${def.experiment} on ${d.name}: ours is ${s.id} (${strategyDisplayName(s.id)}), the paper ran ${e.strategyId} (${strategyDisplayName(e.strategyId)}) on ${pd}.`,
                        );
                    }
                }
            }
        }
    }
    notes.push(
        "Ours: mean over the evaluated test images in percent; n = evaluated images, excluded = images with an empty ground truth (not scored).",
    );
    if (table === "table3") {
        notes.push(
            "Improvement with BB (%) = (with box - without box) / without box x 100, for IoU and Dice separately.",
        );
    }
    if (table === "architectures") {
        notes.push(
            "The paper lists these modifications in Table 1 (IDs 9-11) without results: there is no paper row. All arms use the same data, splits, seeds, training loop and evaluation; AutoSAM and the heads see no prompt in training or at test time, LoRA trains with its prompt strategy.",
            "Heads (ID 10): N blocks of (3x3 conv, LayerNorm2d, ReLU) at the embedding grid, a 1x1 conv to one channel and bilinear upsampling to the decoder's low-res grid, then SAM's postprocess; the linear head is the 1x1 conv and the upsampling alone. They start from random weights, the decoder variants from the pretrained ones.",
        );
    }
    for (const d of results.datasets) {
        if (
            table !== "architectures" &&
            d.paperName === undefined &&
            rows.some((r) => r.source === "ours" && r.dataset === d.name)
        ) {
            notes.push(
                `${d.name} is not one of the paper's datasets; the paper's ${comparedPaperDataset(d)} numbers (same domain) are shown for reference.`,
            );
        }
    }
    notes.push(...mismatches);
    const zeroShot = rows.some((r) => r.main?.zeroShot !== undefined || r.box?.zeroShot !== undefined);
    if (zeroShot) {
        notes.push(
            "Zero-shot: the pretrained decoder (not fine-tuned) with the same evaluation prompts on the same test images; the paired fine-tuned vs zero-shot tests are in the statistics.",
        );
    }
    return { id: table, title: TABLE_TITLES[table], withBox: table === "table3", zeroShot, rows, notes };
}

/**
 * Builds Tables 3, 4 and 5 (a table with no row that was run is still returned, with no rows), and the
 * architecture table after them when the run has a head or adapter arm.
 */
export function buildComparisonTables(
    results: RunResults,
    cache: SummaryCache = new SummaryCache(),
): ComparisonTable[] {
    const ids: PaperTableId[] = [
        "table3",
        "table4",
        "table5",
        ...(hasArchitectureArms(results) ? (["architectures"] as const) : []),
    ];
    return ids.map((t) => buildComparisonTable(t, results, cache));
}

function metricText(
    row: ComparisonRow,
    cell: MetricCell | null | undefined,
    metric: "iou" | "dice",
    spread: Spread,
): string {
    if (cell === null || cell === undefined) return row.source === "ours" ? "not run" : "-";
    const v = cell[metric];
    if (v === null) return "-";
    if (row.source === "paper") return fmtPaper(v);
    const base = fmt3(v);
    if (spread === "std") {
        const sd = metric === "iou" ? cell.iouStd : cell.diceStd;
        return sd === undefined ? base : `${base} ± ${fmt3(sd)}`;
    }
    if (spread === "ci95") {
        const ci = metric === "iou" ? cell.iouCI : cell.diceCI;
        return ci === undefined ? base : `${base} [${fmt3(ci[0])}, ${fmt3(ci[1])}]`;
    }
    return base;
}

function zeroShotText(row: ComparisonRow, cell: MetricCell | null | undefined): string {
    if (row.source === "paper") return "";
    const v = cell?.zeroShot?.dice;
    return v === null || v === undefined ? "-" : fmt3(v);
}

function improvementText(row: ComparisonRow, v: number | null | undefined): string {
    if (v === null || v === undefined) return "-";
    return row.source === "paper" ? fmtPaper(v, true) : fmtSigned(v);
}

function countText(row: ComparisonRow, key: "n" | "excluded"): string {
    if (row.source === "paper") return "";
    const a = row.main?.[key];
    const b = row.box?.[key];
    if (a !== undefined && b !== undefined && a !== b) return `${a} / ${b}`;
    const v = a ?? b;
    return v === undefined ? "" : String(v);
}

/** The table as preformatted text cells (shared by the Markdown and HTML renderings). */
export function comparisonTextTable(t: ComparisonTable, spread: Spread = "none"): TextTable {
    const zs = t.zeroShot;
    const headers = t.withBox
        ? [
              "Experiment",
              "Dataset",
              "Source",
              "IoU",
              "Dice",
              "IoU (BB)",
              "Dice (BB)",
              "Improvement IoU (%)",
              "Improvement Dice (%)",
              ...(zs ? ["Dice zero-shot", "Dice zero-shot (BB)"] : []),
              "n",
              "Excluded",
          ]
        : [
              "Experiment",
              "Dataset",
              "Source",
              "Strategy",
              "IoU",
              "Dice",
              ...(zs ? ["Dice zero-shot"] : []),
              "n",
              "Excluded",
          ];
    const align = headers.map((_, c) => (c < (t.withBox ? 3 : 4) ? "left" : "right") as "left" | "right");
    const rows = t.rows.map((r) => {
        const head = [r.experiment, r.dataset, r.source];
        if (t.withBox) {
            return [
                ...head,
                metricText(r, r.main, "iou", spread),
                metricText(r, r.main, "dice", spread),
                metricText(r, r.box, "iou", spread),
                metricText(r, r.box, "dice", spread),
                improvementText(r, r.improvement?.iou),
                improvementText(r, r.improvement?.dice),
                ...(zs ? [zeroShotText(r, r.main), zeroShotText(r, r.box)] : []),
                countText(r, "n"),
                countText(r, "excluded"),
            ];
        }
        return [
            ...head,
            r.main?.strategyId ?? "",
            metricText(r, r.main, "iou", spread),
            metricText(r, r.main, "dice", spread),
            ...(zs ? [zeroShotText(r, r.main)] : []),
            countText(r, "n"),
            countText(r, "excluded"),
        ];
    });
    return { headers, align, rows, rowClasses: t.rows.map((r) => r.source) };
}

/** The table as a Markdown document: title, table and notes. */
export function comparisonTableMarkdown(t: ComparisonTable, spread: Spread = "none"): string {
    const notes = t.notes.map((n) => `- ${n}`).join("\n");
    const body = t.rows.length ? markdownTable(comparisonTextTable(t, spread)) : "_No strategy of this table was run._";
    return `# ${t.title}\n\n${body}\n${notes ? `\n${notes}\n` : ""}`;
}

/** The table as an HTML <table> with its notes. */
export function comparisonTableHtml(t: ComparisonTable, spread: Spread = "none"): string {
    if (t.rows.length === 0) return `<p class="empty">No strategy of ${t.title.split(":")[0]} was run.</p>`;
    const notes = t.notes.length
        ? `<ul class="notes">${t.notes.map((n) => `<li>${escapeXml(n)}</li>`).join("")}</ul>`
        : "";
    return `${htmlTable(comparisonTextTable(t, spread), t.title)}\n${notes}`;
}

function oursCsv(cell: MetricCell | null | undefined): CsvValue[] {
    return [
        cell?.iou,
        cell?.dice,
        cell?.iouStd,
        cell?.diceStd,
        cell?.iouCI?.[0],
        cell?.iouCI?.[1],
        cell?.diceCI?.[0],
        cell?.diceCI?.[1],
        cell?.n,
        cell?.excluded,
        cell?.zeroShot?.iou,
        cell?.zeroShot?.dice,
    ];
}

const OURS_COLUMNS = [
    "iou_pct",
    "dice_pct",
    "iou_std_pct",
    "dice_std_pct",
    "iou_ci95_low_pct",
    "iou_ci95_high_pct",
    "dice_ci95_low_pct",
    "dice_ci95_high_pct",
    "n",
    "excluded",
    "zeroshot_iou_pct",
    "zeroshot_dice_pct",
];

/** The paper's line matching one of ours: same experiment and paper dataset, the same strategy where the paper ran several. */
function paperRowFor(t: ComparisonTable, ours: ComparisonRow): ComparisonRow | undefined {
    const candidates = t.rows.filter(
        (r) => r.source === "paper" && r.experiment === ours.experiment && r.dataset === ours.paperDataset,
    );
    return candidates.find((r) => r.main?.strategyId === ours.main?.strategyId) ?? candidates[0];
}

/**
 * The table as CSV, one line per configuration we ran: our numbers (`ours_*`, with spread, counts
 * and the zero-shot baseline) and the paper's (`paper_*`) in separate columns. Metrics in percent
 * (`_pct`), unrounded; empty = not run or not printed.
 */
export function comparisonTableCsv(t: ComparisonTable): string {
    const headers = ["experiment", "dataset", "paper_dataset", "strategy_id", ...OURS_COLUMNS.map((c) => `ours_${c}`)];
    if (t.withBox) headers.push("box_strategy_id", ...OURS_COLUMNS.map((c) => `ours_box_${c}`));
    headers.push("paper_strategy_id", "paper_iou_pct", "paper_dice_pct");
    if (t.withBox) {
        headers.push(
            "paper_box_iou_pct",
            "paper_box_dice_pct",
            "ours_improvement_iou_pct",
            "ours_improvement_dice_pct",
            "paper_improvement_iou_pct",
            "paper_improvement_dice_pct",
        );
    }
    const rows = t.rows
        .filter((r) => r.source === "ours")
        .map((r) => {
            const p = paperRowFor(t, r);
            const line: CsvValue[] = [r.experiment, r.dataset, r.paperDataset, r.main?.strategyId, ...oursCsv(r.main)];
            if (t.withBox) line.push(r.box?.strategyId, ...oursCsv(r.box));
            line.push(p?.main?.strategyId, p?.main?.iou, p?.main?.dice);
            if (t.withBox) {
                line.push(
                    p?.box?.iou,
                    p?.box?.dice,
                    r.improvement?.iou,
                    r.improvement?.dice,
                    p?.improvement?.iou,
                    p?.improvement?.dice,
                );
            }
            return line;
        });
    return csvTable(headers, rows);
}
