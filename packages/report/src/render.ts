/**
 * renderReport: writes a run's tables (Markdown + CSV), figures (SVG + PNG) and the self-contained
 * report.html into a folder, every file atomically.
 */
import path from "node:path";
import { encodePng, svgToPng } from "@sam-ablate/image-io";
import { writeFileAtomic } from "./atomic-write.js";
import { comparisonsCsv, comparisonsMarkdown, pairedComparisons } from "./comparisons.js";
import { DEFAULT_EFFORT, type EffortTable, effortData } from "./effort.js";
import { boxPlotFigure } from "./figures/boxplot.js";
import { learningCurvesFigure } from "./figures/curves-figure.js";
import { effortFigure } from "./figures/effort-figure.js";
import { lossFigure } from "./figures/loss-figure.js";
import { overlayFigure, overlayTitle } from "./figures/overlay.js";
import { type OverlayGroup, type ReportFigure, type ReportModel, reportHtml } from "./html.js";
import { overview, overviewCsv } from "./overview.js";
import { selectionCsv } from "./selection.js";
import { sortByStrategy } from "./strategies.js";
import { SummaryCache } from "./summaries.js";
import { buildComparisonTables, comparisonTableCsv, comparisonTableMarkdown, type Spread } from "./tables.js";
import type { RunResults } from "./types.js";
import { validateRunResults } from "./validate.js";

/** Options of {@link renderReport}. */
export interface ReportOptions {
    /** Implementation effort per strategy id for Figure 10 (default {@link DEFAULT_EFFORT}). */
    effort?: EffortTable;
    /** Spread shown beside our means in the Markdown and HTML tables (default "none", like the paper). */
    spread?: Spread;
    /** Pixel scale of the PNG renderings of the figures (default 2). */
    pngScale?: number;
    /** Time stamp printed in the report (default now). */
    generatedAt?: Date;
}

/** The files a report consists of, as paths relative to its folder. */
export interface ReportFiles {
    outDir: string;
    html: string;
    tables: string[];
    figures: string[];
}

/** A file-name-safe form of a name ("BraTS 2020" -> "brats-2020"). */
export function slug(name: string): string {
    const s = name
        .toLowerCase()
        .replace(/[^a-z0-9._-]+/g, "-")
        .replace(/^[-.]+|-+$/g, "");
    return s || "x";
}

function uniqueSlugs(names: readonly string[]): string[] {
    const used = new Map<string, number>();
    return names.map((n) => {
        const base = slug(n);
        const k = used.get(base) ?? 0;
        used.set(base, k + 1);
        return k === 0 ? base : `${base}-${k + 1}`;
    });
}

/**
 * Renders the report of a run into `outDir`: `tables/table{3,4,5}.{md,csv}`,
 * `tables/statistics.{md,csv}`, `tables/summary.csv`, `tables/selection.csv` (runs with validation), `figures/*.{svg,png}` and `report.html`.
 * Throws ERR_SA_REPORT_INPUT for inconsistent results and ERR_SA_REPORT_WRITE when a file cannot
 * be written.
 */
export async function renderReport(
    results: RunResults,
    outDir: string,
    options: ReportOptions = {},
): Promise<ReportFiles> {
    validateRunResults(results);
    const spread = options.spread ?? "none";
    const scale = options.pngScale ?? 2;
    const files: ReportFiles = { outDir, html: "report.html", tables: [], figures: [] };
    const write = async (rel: string, data: string | Uint8Array, list: string[]) => {
        await writeFileAtomic(path.join(outDir, rel), data);
        list.push(rel);
    };
    const writeFigure = async (f: ReportFigure) => {
        await write(`${f.file}.svg`, f.svg, files.figures);
        await write(`${f.file}.png`, await svgToPng(f.svg, scale), files.figures);
    };

    const cache = new SummaryCache();
    const tables = buildComparisonTables(results, cache);
    for (const t of tables) {
        await write(`tables/${t.id}.md`, comparisonTableMarkdown(t, spread), files.tables);
        await write(`tables/${t.id}.csv`, comparisonTableCsv(t), files.tables);
    }
    const comparisons = pairedComparisons(results, cache);
    await write("tables/statistics.md", comparisonsMarkdown(comparisons), files.tables);
    await write("tables/statistics.csv", comparisonsCsv(comparisons), files.tables);
    const datasets = overview(results, cache);
    await write("tables/summary.csv", overviewCsv(datasets), files.tables);
    if (results.datasets.some((d) => d.strategies.some((s) => s.selection))) {
        await write("tables/selection.csv", selectionCsv(results), files.tables);
    }

    const slugs = uniqueSlugs(results.datasets.map((d) => d.name));
    const boxPlots: ReportFigure[] = [];
    const losses: ReportFigure[] = [];
    const curves: ReportFigure[] = [];
    const overlays: OverlayGroup[] = [];
    for (const [i, d] of results.datasets.entries()) {
        const ds = slugs[i] as string;
        const box: ReportFigure = {
            file: `figures/dice-boxplot-${ds}`,
            title: `Per-image Dice: ${d.name}`,
            caption: `Per-image Dice (%) of every strategy on ${d.name}: box = quartiles, line = median, diamond = mean, whiskers = furthest values within 1.5 IQR, circles = outliers; n under each box.`,
            svg: boxPlotFigure(d),
        };
        await writeFigure(box);
        boxPlots.push(box);
        const lossSvg = lossFigure(d);
        if (lossSvg) {
            const loss: ReportFigure = {
                file: `figures/loss-${ds}`,
                title: `Training loss: ${d.name}`,
                caption: `Mean training loss per epoch of each strategy on ${d.name}.`,
                svg: lossSvg,
            };
            await writeFigure(loss);
            losses.push(loss);
        }
        const curvesSvg = d.strategies.some((s) => s.selection) ? learningCurvesFigure(d) : undefined;
        if (curvesSvg) {
            const fig: ReportFigure = {
                file: `figures/curves-${ds}`,
                title: `Learning curves: ${d.name}`,
                caption: `${d.name}: mean training loss per epoch and validation Dice of each strategy (first seed); the dashed line and circle mark the epoch whose weights were selected.`,
                svg: curvesSvg,
            };
            await writeFigure(fig);
            curves.push(fig);
        }
        const strategySlugs = uniqueSlugs(sortByStrategy(d.strategies).map((s) => s.id));
        for (const [j, s] of sortByStrategy(d.strategies).entries()) {
            const samples = s.samples ?? [];
            if (samples.length === 0) continue;
            const group: OverlayGroup = { dataset: d.name, strategy: s.label, figures: [] };
            const sampleSlugs = uniqueSlugs(samples.map((x) => x.imageId));
            for (const [k, sample] of samples.entries()) {
                const png = await encodePng({
                    width: sample.width,
                    height: sample.height,
                    channels: 3,
                    data: sample.image,
                });
                const fig: ReportFigure = {
                    file: `figures/overlay-${ds}-${strategySlugs[j]}-${sampleSlugs[k]}`,
                    title: overlayTitle(s.label, sample),
                    caption: `${d.name}, ${s.label}, image ${sample.imageId}: ground truth red, prediction dashed cyan, positive points green, negative red, box yellow. Dice ${(sample.dice * 100).toFixed(1)}%.`,
                    svg: overlayFigure(sample, png, { title: overlayTitle(s.label, sample) }),
                };
                await writeFigure(fig);
                group.figures.push(fig);
            }
            overlays.push(group);
        }
    }
    const effort: ReportFigure = {
        file: "figures/effort",
        title: "Dice difference to the average vs implementation effort",
        caption:
            "Figure 10: each strategy's mean Dice minus the average mean Dice of the prompt strategies of its dataset (percentage points), against its implementation effort; architecture arms (AutoSAM, heads, LoRA) are placed against the same average. Top-left is best.",
        svg: effortFigure(effortData(results, options.effort ?? DEFAULT_EFFORT, cache)),
    };
    await writeFigure(effort);

    const model: ReportModel = {
        results,
        overview: datasets,
        tables,
        comparisons,
        boxPlots,
        effort,
        losses,
        curves,
        overlays,
        spread,
        generatedAt: options.generatedAt ?? new Date(),
    };
    await writeFileAtomic(path.join(outDir, files.html), reportHtml(model));
    return files;
}
