/**
 * Per-image Dice box plots per strategy (the paper's Figures 7-9): box = quartiles, line = median,
 * whiskers = the furthest values within 1.5 IQR of the box, dots = values beyond, diamond = mean,
 * n under each box.
 */

import { quantileSorted } from "@sam-ablate/metrics";
import { parseStrategyId, type StrategyFamily, sortByStrategy } from "../strategies.js";
import { diceValues } from "../summaries.js";
import { escapeXml } from "../text-table.js";
import type { DatasetResults } from "../types.js";
import { attrs, figureTitle, linearScale, n2, niceTicks, PALETTE, svgDocument, text, textWidth, yAxis } from "./svg.js";

/** Angle of the strategy labels under the boxes (degrees, counter-clockwise). */
const LABEL_ANGLE = 40;

/** The statistics drawn by one box. */
export interface BoxPlotStats {
    n: number;
    mean: number;
    median: number;
    q1: number;
    q3: number;
    /** Smallest value >= q1 - 1.5 IQR. */
    whiskerLow: number;
    /** Largest value <= q3 + 1.5 IQR. */
    whiskerHigh: number;
    /** Values outside the whiskers, ascending. */
    outliers: number[];
}

/** Box-plot statistics (Tukey: whiskers at the furthest values within 1.5 IQR; quartiles interpolated). */
export function boxPlotStats(values: readonly number[]): BoxPlotStats {
    const sorted = [...values].sort((a, b) => a - b);
    const n = sorted.length;
    if (n === 0) {
        const nan = Number.NaN;
        return { n: 0, mean: nan, median: nan, q1: nan, q3: nan, whiskerLow: nan, whiskerHigh: nan, outliers: [] };
    }
    const q1 = quantileSorted(sorted, 0.25);
    const q3 = quantileSorted(sorted, 0.75);
    const iqr = q3 - q1;
    const lowFence = q1 - 1.5 * iqr;
    const highFence = q3 + 1.5 * iqr;
    const inside = sorted.filter((v) => v >= lowFence && v <= highFence);
    return {
        n,
        mean: sorted.reduce((s, v) => s + v, 0) / n,
        median: quantileSorted(sorted, 0.5),
        q1,
        q3,
        whiskerLow: inside[0] ?? q1,
        whiskerHigh: inside[inside.length - 1] ?? q3,
        outliers: sorted.filter((v) => v < lowFence || v > highFence),
    };
}

const FAMILY_COLOUR: Record<StrategyFamily, string> = {
    points: PALETTE[0] as string,
    box: PALETTE[1] as string,
    jitter: PALETTE[4] as string,
    negatives: PALETTE[3] as string,
    box_centre: PALETTE[2] as string,
    centroid: PALETTE[5] as string,
    four_sections: PALETTE[6] as string,
    other: "#777777",
    // the architecture arms (Table 1 IDs 9-11) outside the prompt families' palette
    head: "#8C564B",
    lora: "#5D3A9B",
};

/** The colour of a strategy in box plots (by family; points with a box use the box colour). */
export function strategyColour(id: string): string {
    const s = parseStrategyId(id);
    if (s.family === "points" && s.withBox) return FAMILY_COLOUR.box;
    return FAMILY_COLOUR[s.family];
}

/** Options of {@link boxPlotFigure}. */
export interface BoxPlotOptions {
    /** Figure title; default "Per-image Dice by prompt strategy: <dataset>". */
    title?: string;
    /** Only these strategy ids (in the paper's order); default all. */
    strategyIds?: readonly string[];
}

/** An SVG box plot of per-image Dice (%) of every strategy of a dataset. */
export function boxPlotFigure(dataset: DatasetResults, options: BoxPlotOptions = {}): string {
    const strategies = sortByStrategy(
        options.strategyIds
            ? dataset.strategies.filter((s) => options.strategyIds?.includes(s.id))
            : dataset.strategies,
    );
    const title = options.title ?? `Per-image Dice by prompt strategy: ${dataset.name}`;
    const k = Math.max(1, strategies.length);
    const slot = 64;
    const right = 24;
    const top = 58;
    const plotH = 320;
    // Rotated labels hang down-left from their box: room below for the longest, and on the left
    // for the first one (its slot's half-width covers part of it).
    const rad = (LABEL_ANGLE * Math.PI) / 180;
    const labelW = strategies.map((s) => textWidth(s.label, 12));
    const labelRoom = Math.max(60, ...labelW.map((w) => w * Math.sin(rad) + 12 * Math.cos(rad))) + 8;
    const firstReach = (labelW[0] ?? 0) * Math.cos(rad);
    const left = Math.max(72, Math.ceil(firstReach - slot / 2 + 8));
    const width = Math.max(560, left + right + k * slot);
    const plotW = width - left - right;
    const height = top + plotH + 30 + labelRoom + 46;
    const { ticks, lo, hi } = niceTicks(0, 100, 5);
    const y = linearScale(lo, hi, top + plotH, top);
    const step = plotW / k;
    let body = figureTitle(
        width,
        title,
        `${dataset.kind}, ${dataset.nTest} test images; excluded (empty ground truth) are not shown`,
    );
    body += yAxis(ticks, y, left, left + plotW, "Dice (%)");
    body += `<line${attrs({ x1: left, y1: top + plotH, x2: left + plotW, y2: top + plotH, stroke: "#333333" })}/>`;
    strategies.forEach((s, i) => {
        const cx = left + step * (i + 0.5);
        const st = boxPlotStats(diceValues(s));
        const colour = strategyColour(s.id);
        const half = Math.min(22, step * 0.35);
        let g = "";
        if (st.n > 0) {
            g += `<line${attrs({ x1: cx, y1: y(st.whiskerLow), x2: cx, y2: y(st.q1), stroke: "#333333" })}/>`;
            g += `<line${attrs({ x1: cx, y1: y(st.q3), x2: cx, y2: y(st.whiskerHigh), stroke: "#333333" })}/>`;
            for (const w of [st.whiskerLow, st.whiskerHigh]) {
                g += `<line${attrs({ x1: cx - half / 2, y1: y(w), x2: cx + half / 2, y2: y(w), stroke: "#333333" })}/>`;
            }
            const boxTop = y(st.q3);
            g += `<rect${attrs({ x: cx - half, y: boxTop, width: 2 * half, height: Math.max(0.5, y(st.q1) - boxTop), fill: colour, "fill-opacity": 0.35, stroke: colour, "stroke-width": 1.5 })}/>`;
            g += `<line${attrs({ x1: cx - half, y1: y(st.median), x2: cx + half, y2: y(st.median), stroke: "#000000", "stroke-width": 2 })}/>`;
            for (const o of st.outliers)
                g += `<circle${attrs({ cx, cy: y(o), r: 2.2, fill: "none", stroke: "#555555", "stroke-width": 1 })}/>`;
            const my = y(st.mean);
            g += `<path${attrs({ d: `M${n2(cx)} ${n2(my - 5)}L${n2(cx + 5)} ${n2(my)}L${n2(cx)} ${n2(my + 5)}L${n2(cx - 5)} ${n2(my)}Z`, fill: "#ffffff", stroke: "#000000", "stroke-width": 1.2 })}/>`;
        }
        g += text(cx, top + plotH + 16, `n=${st.n}`, { "text-anchor": "middle", "font-size": 11, fill: "#333333" });
        const ly = top + plotH + 30;
        g += text(cx, ly, s.label, {
            "text-anchor": "end",
            transform: `rotate(-40 ${n2(cx)} ${n2(ly)})`,
            "font-size": 12,
        });
        const tip = `${s.label}: n=${st.n}, median ${st.n ? st.median.toFixed(1) : "n/a"}%, mean ${st.n ? st.mean.toFixed(1) : "n/a"}%`;
        body += `<g><title>${escapeXml(tip)}</title>${g}</g>`;
    });
    const ly = height - 28;
    const lx = left;
    body += `<path${attrs({ d: `M${n2(lx)} ${n2(ly - 9)}L${n2(lx + 5)} ${n2(ly - 4)}L${n2(lx)} ${n2(ly + 1)}L${n2(lx - 5)} ${n2(ly - 4)}Z`, fill: "#ffffff", stroke: "#000000" })}/>`;
    body += text(lx + 10, ly, "mean", { "font-size": 11 });
    body += `<line${attrs({ x1: lx + 52, y1: ly - 4, x2: lx + 70, y2: ly - 4, stroke: "#000000", "stroke-width": 2 })}/>`;
    body += text(lx + 75, ly, "median", { "font-size": 11 });
    body += `<circle${attrs({ cx: lx + 126, cy: ly - 4, r: 2.2, fill: "none", stroke: "#555555" })}/>`;
    body += text(lx + 133, ly, "outlier (beyond 1.5 IQR)", { "font-size": 11 });
    body += text(lx - 5, ly + 18, "box: quartiles; whiskers: furthest values within 1.5 IQR", {
        "font-size": 11,
        fill: "#444444",
    });
    return svgDocument(width, height, title, body);
}
