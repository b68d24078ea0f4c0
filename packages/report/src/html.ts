/**
 * The self-contained HTML report: inline CSS, figures inline as SVG (overlay images as data URIs),
 * no scripts and no external requests.
 */
import { COMPARISONS_NOTE, comparisonsTextTable, type PairedComparison } from "./comparisons.js";
import type { DatasetOverview } from "./overview.js";
import { overviewTextTable } from "./overview.js";
import { selectionTextTable } from "./selection.js";
import { comparedPaperDataset } from "./summaries.js";
import { type ComparisonTable, comparisonTableHtml, type Spread } from "./tables.js";
import { escapeXml, fmt3, fmtP, fmtSigned, htmlTable } from "./text-table.js";
import type { RunResults } from "./types.js";

/** A rendered figure: its SVG and where its files are written (relative to the report folder, no extension). */
export interface ReportFigure {
    file: string;
    title: string;
    caption: string;
    svg: string;
}

/** The overlays of one strategy on one dataset. */
export interface OverlayGroup {
    dataset: string;
    strategy: string;
    figures: ReportFigure[];
}

/** Everything the HTML report shows, already computed. */
export interface ReportModel {
    results: RunResults;
    overview: DatasetOverview[];
    tables: ComparisonTable[];
    comparisons: PairedComparison[];
    boxPlots: ReportFigure[];
    effort: ReportFigure;
    losses: ReportFigure[];
    /** Learning curves (training loss and validation Dice), one small-multiple figure per validated dataset. */
    curves: ReportFigure[];
    overlays: OverlayGroup[];
    spread: Spread;
    generatedAt: Date;
}

const CSS = `
:root { color-scheme: light; }
body { font: 15px/1.5 "DejaVu Sans", Helvetica, Arial, sans-serif; color: #1a1a1a; margin: 0; background: #fafafa; }
main { max-width: 1240px; margin: 0 auto; padding: 24px 32px 64px; background: #ffffff; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 21px; margin: 36px 0 10px; border-bottom: 2px solid #0072B2; padding-bottom: 4px; }
h3 { font-size: 17px; margin: 24px 0 8px; }
.meta { color: #555555; margin: 0 0 12px; }
nav ul { columns: 3; padding-left: 18px; margin: 8px 0; }
table { border-collapse: collapse; margin: 8px 0 6px; font-size: 13px; }
caption { text-align: left; font-weight: bold; padding: 4px 0 6px; }
th, td { border: 1px solid #d0d0d0; padding: 3px 8px; white-space: nowrap; }
th { background: #eef3f8; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.paper td { color: #555555; background: #f6f6f6; font-style: italic; }
tr.best td { background: #e6f4ea; font-weight: bold; }
.scroll { overflow-x: auto; }
.summary th { white-space: normal; vertical-align: bottom; }
.summary td:first-child { white-space: normal; min-width: 170px; }
.notes { color: #444444; font-size: 13px; margin: 4px 0 12px; }
figure { margin: 12px 0 20px; }
figure svg { max-width: 100%; height: auto; border: 1px solid #e4e4e4; }
figcaption { color: #444444; font-size: 13px; margin-top: 4px; }
.overlays { display: flex; flex-wrap: wrap; gap: 12px; }
.overlays figure { margin: 0; width: 372px; }
.summary-card { border-left: 4px solid #009E73; background: #f3faf6; padding: 8px 14px; margin: 8px 0; }
pre { background: #f4f4f4; padding: 12px; overflow-x: auto; font-size: 12px; }
.empty { color: #777777; font-style: italic; }
`;

function figureHtml(f: ReportFigure): string {
    return `<figure>${f.svg.trim()}<figcaption>${escapeXml(f.caption)} Files: <code>${escapeXml(f.file)}.svg</code>, <code>${escapeXml(f.file)}.png</code>.</figcaption></figure>`;
}

function configJson(config: unknown): string {
    try {
        return JSON.stringify(config, (_k, v) => (typeof v === "bigint" ? v.toString() : v), 2) ?? "null";
    } catch (err) {
        return `(configuration not serialisable: ${err instanceof Error ? err.message : String(err)})`;
    }
}

function summarySection(m: ReportModel): string {
    let out = "";
    for (const d of m.overview) {
        const ds = d.dataset;
        out += `<h3>${escapeXml(ds.name)}</h3>`;
        const cv = ds.folds
            ? ` Patient-level cross-validation: ${ds.folds.evaluated.length} of ${ds.folds.k} folds evaluated (${ds.folds.evaluated.join(", ")}); the test images of these folds are pooled in the tables, and the per-fold mean Dice is summarised (mean ± std across folds) beside the spread across training seeds.`
            : "";
        out += `<p class="meta">${escapeXml(ds.kind)}; ${ds.nTrain} training / ${ds.nTest} test patches${ds.folds ? " (training: per fold; test: all evaluated folds)" : ""}; compared with the paper's ${escapeXml(comparedPaperDataset(ds))}${ds.paperName ? "" : " (same domain, for reference)"}.${escapeXml(cv)}</p>`;
        if (d.best) {
            const b = d.best;
            const second = d.summaries
                .filter((s) => s.id !== b.id && s.n > 0)
                .sort((x, y) => y.dice.mean - x.dice.mean)[0];
            const test =
                second &&
                m.comparisons.find(
                    (c) =>
                        c.dataset === ds.name &&
                        ((c.a === b.id && c.b === second.id) || (c.a === second.id && c.b === b.id)),
                );
            const diff = test ? (test.a === b.id ? test.meanDiff : -test.meanDiff) : Number.NaN;
            let against = "";
            if (second) {
                against = ` Next best: <b>${escapeXml(second.label)}</b> (Dice ${fmt3(second.dice.mean)}%)`;
                against +=
                    test && test.pValue !== null
                        ? `; paired difference ${fmt3(diff)} pp over ${test.nPairs} shared images, Wilcoxon p = ${fmtP(test.pValue)} (Holm-adjusted ${fmtP(test.pHolm ?? test.pValue)}).`
                        : "; no paired test (no shared images with a difference).";
            }
            out += `<div class="summary-card">Best strategy by mean Dice: <b>${escapeXml(b.label)}</b> (<code>${escapeXml(b.id)}</code>): Dice ${fmt3(b.dice.mean)}% (95% CI ${fmt3(b.dice.ci95[0])}-${fmt3(b.dice.ci95[1])}), IoU ${fmt3(b.iou.mean)}%, over ${b.n} test images (${b.excluded} excluded for an empty ground truth).${against}</div>`;
        } else {
            out += `<p class="empty">No strategy evaluated any image on this dataset.</p>`;
        }
        const gains = [...d.zeroShot.values()].filter((c) => c.nPairs > 0);
        if (gains.length) {
            const diffs = gains.map((c) => c.meanDiff);
            const significant = gains.filter((c) => c.pHolm !== null && c.pHolm < 0.05).length;
            out += `<p>Fine-tuning vs zero-shot (the pretrained decoder with the same prompts on the same images): mean Dice changed by ${fmtSigned(Math.min(...diffs))} to ${fmtSigned(Math.max(...diffs))} pp across ${gains.length} strategies; ${significant} of ${gains.length} differences have a Holm-adjusted Wilcoxon p &lt; 0.05.</p>`;
        }
        if (d.summaries.length)
            out += `<div class="scroll summary">${htmlTable(overviewTextTable(d), `All strategies on ${ds.name} (mean over test images, %)`)}</div>`;
    }
    return out;
}

function notesSection(m: ReportModel): string {
    const items: string[] = [];
    for (const d of m.results.datasets) {
        const counts = new Set(d.strategies.map((s) => s.excluded));
        const only = [...counts][0];
        if (counts.size === 1 && only !== undefined && only > 0) {
            items.push(
                `${d.name}: ${only} test image(s) excluded for an empty ground truth (MONAI ignore_empty), in every strategy.`,
            );
        } else {
            for (const s of d.strategies) {
                if (s.excluded > 0) {
                    items.push(
                        `${d.name}, ${s.label}: ${s.excluded} test image(s) excluded for an empty ground truth (MONAI ignore_empty).`,
                    );
                }
            }
        }
        for (const s of d.strategies) for (const n of s.notes ?? []) items.push(`${d.name}, ${s.label}: ${n}`);
    }
    if (items.length === 0)
        return `<p class="empty">No notes: no image was excluded and no strategy reported an observation.</p>`;
    return `<ul>${items.map((i) => `<li>${escapeXml(i)}</li>`).join("")}</ul>`;
}

function selectionSection(m: ReportModel): string {
    const parts: string[] = [];
    for (const d of m.results.datasets) {
        const t = selectionTextTable(d);
        if (!t) continue;
        parts.push(
            `<div class="scroll">${htmlTable(t, `${d.name}: test Dice (%) of the best-validation and the last weights`)}</div>`,
        );
        const fig = m.curves.find((f) => f.title === `Learning curves: ${d.name}`);
        if (fig) parts.push(figureHtml(fig));
    }
    if (parts.length === 0) {
        return `<p class="empty">No validation split (validation: none): every training patient trained and the last weights are reported, as in the paper.</p>`;
    }
    return `<p class="notes">A seeded share of the training patients is held out and scored with the evaluation protocol during training. The strategy's headline scores (tables above) are those of the selected weights; "best-val" are the weights of the best validation Dice, "last" those of the last step. Validation time is given as a share of the training time.</p>\n${parts.join("\n")}`;
}

/** The complete HTML document of the report. */
export function reportHtml(m: ReportModel): string {
    const r = m.results;
    const sections: [string, string, string][] = [];
    sections.push(["summary", "Summary", summarySection(m)]);
    for (const t of m.tables)
        sections.push([
            t.id,
            t.title.split(":")[0] as string,
            `<div class="scroll">${comparisonTableHtml(t, m.spread)}</div>`,
        ]);
    const stats = m.comparisons.length
        ? `<div class="scroll">${htmlTable(comparisonsTextTable(m.comparisons), "Paired comparisons on per-image Dice (Wilcoxon signed-rank)")}</div><p class="notes">${escapeXml(COMPARISONS_NOTE)}</p>`
        : `<p class="empty">No two strategies share test images.</p>`;
    sections.push(["statistics", "Statistics", stats]);
    sections.push(["boxplots", "Dice per image (Figures 7-9)", m.boxPlots.map(figureHtml).join("\n")]);
    sections.push(["effort", "Performance vs implementation effort (Figure 10)", figureHtml(m.effort)]);
    sections.push([
        "loss",
        "Training loss",
        m.losses.length ? m.losses.map(figureHtml).join("\n") : `<p class="empty">The run recorded no loss curves.</p>`,
    ]);
    sections.push(["selection", "Model selection and learning curves", selectionSection(m)]);
    const overlays = m.overlays.length
        ? m.overlays
              .map(
                  (g) =>
                      `<h3>${escapeXml(g.dataset)}: ${escapeXml(g.strategy)}</h3><div class="overlays">${g.figures
                          .map(
                              (f) => `<figure>${f.svg.trim()}<figcaption>${escapeXml(f.caption)}</figcaption></figure>`,
                          )
                          .join("")}</div>`,
              )
              .join("\n")
        : `<p class="empty">The run recorded no samples.</p>`;
    sections.push(["overlays", "Sample predictions", overlays]);
    sections.push(["notes", "Notes", notesSection(m)]);
    sections.push(["config", "Configuration", `<pre>${escapeXml(configJson(r.config))}</pre>`]);
    const nav = `<nav><ul>${sections.map(([id, title]) => `<li><a href="#${id}">${escapeXml(title)}</a></li>`).join("")}</ul></nav>`;
    const body = sections
        .map(([id, title, html]) => `<section id="${id}"><h2>${escapeXml(title)}</h2>\n${html}\n</section>`)
        .join("\n");
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeXml(r.title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
<h1>${escapeXml(r.title)}</h1>
<p class="meta">${escapeXml(r.createdBy)}; generated ${escapeXml(m.generatedAt.toISOString())}; datasets: ${r.datasets.map((d) => escapeXml(d.name)).join(", ") || "none"}.</p>
${nav}
${body}
</main>
</body>
</html>
`;
}
