/**
 * Figure 10: performance difference to the average (Dice, percentage points) against implementation
 * effort, one marker shape and colour per dataset; the ideal strategies sit top-left.
 */
import { EFFORT_LEVELS, type EffortData } from "../effort.js";
import { escapeXml } from "../text-table.js";
import {
    attrs,
    figureTitle,
    linearScale,
    n2,
    niceTicks,
    PALETTE,
    svgDocument,
    text,
    textLines,
    textWidth,
    wrapText,
    yAxis,
} from "./svg.js";

const LABEL_FONT = 10;
const LINE = 12;
/** Labels longer than this are wrapped onto several lines. */
const LABEL_MAX_W = 200;

/**
 * Label baselines for points at `ys` (sorted top to bottom), each label `heights[i]` tall: as close
 * to its point as possible, never overlapping, kept within [minY, maxY] (pushed down, then up).
 */
function stackLabels(ys: readonly number[], heights: readonly number[], minY: number, maxY: number): number[] {
    const out = ys.map((y) => y);
    for (let i = 0; i < out.length; i++) {
        const prev = i === 0 ? minY - LINE : (out[i - 1] as number) + (heights[i - 1] as number);
        out[i] = Math.max(out[i] as number, prev, minY);
    }
    for (let i = out.length - 1; i >= 0; i--) {
        const limit =
            i === out.length - 1
                ? maxY - (heights[i] as number) + LINE
                : (out[i + 1] as number) - (heights[i] as number);
        out[i] = Math.min(out[i] as number, limit);
    }
    return out;
}

/** A marker of a given shape centred at (x, y). */
function marker(shape: number, x: number, y: number, colour: string): string {
    const r = 5.5;
    switch (shape % 4) {
        case 0:
            return `<circle${attrs({ cx: x, cy: y, r, fill: colour, stroke: "#ffffff", "stroke-width": 1 })}/>`;
        case 1:
            return `<rect${attrs({ x: x - r, y: y - r, width: 2 * r, height: 2 * r, fill: colour, stroke: "#ffffff", "stroke-width": 1 })}/>`;
        case 2:
            return `<path${attrs({ d: `M${n2(x)} ${n2(y - r - 1)}L${n2(x + r + 1)} ${n2(y + r)}L${n2(x - r - 1)} ${n2(y + r)}Z`, fill: colour, stroke: "#ffffff", "stroke-width": 1 })}/>`;
        default:
            return `<path${attrs({ d: `M${n2(x)} ${n2(y - r - 1)}L${n2(x + r + 1)} ${n2(y)}L${n2(x)} ${n2(y + r + 1)}L${n2(x - r - 1)} ${n2(y)}Z`, fill: colour, stroke: "#ffffff", "stroke-width": 1 })}/>`;
    }
}

/** The SVG scatter plot of Figure 10 from {@link effortData}'s output. */
export function effortFigure(
    data: EffortData,
    title = "Dice difference to the average vs implementation effort",
): string {
    const datasets = [...new Set(data.points.map((p) => p.dataset))];
    const left = 78;
    const right = 64;
    const top = 58;
    const wrappedFirst = new Map(data.points.map((p) => [p, wrapText(p.label, LABEL_FONT, LABEL_MAX_W)]));
    // tall enough for every label of the busiest effort level, one above the other
    const plotH = Math.max(
        380,
        ...EFFORT_LEVELS.map((level) =>
            data.points
                .filter((p) => p.effort === level)
                .reduce((a, p) => a + (wrappedFirst.get(p)?.length ?? 1) * LINE, 2 * LINE),
        ),
    );
    const wrapped = wrappedFirst;
    const labelW = Math.max(60, ...[...wrapped.values()].flat().map((l) => textWidth(l, LABEL_FONT)));
    const markerW = 90;
    const catW = Math.max(200, markerW + 16 + labelW + 10);
    const width = left + right + catW * EFFORT_LEVELS.length;
    const legendH = 22 * Math.max(1, datasets.length) + (data.unplaced.length ? 18 : 0);
    const height = top + plotH + 48 + legendH + 10;
    const diffs = data.points.map((p) => p.difference);
    const { ticks, lo, hi } = niceTicks(Math.min(0, ...diffs), Math.max(0, ...diffs), 6);
    const y = linearScale(lo, hi, top + plotH, top);
    let body = figureTitle(
        width,
        title,
        "y: strategy mean Dice minus the average of the prompt strategies of the dataset; ideal: top-left",
    );
    body += yAxis(ticks, y, left, left + catW * EFFORT_LEVELS.length, "Dice difference to average (pp)");
    body += `<line${attrs({ x1: left, y1: y(0), x2: left + catW * EFFORT_LEVELS.length, y2: y(0), stroke: "#555555", "stroke-dasharray": "5 4" })}/>`;
    // the average line's label sits outside the plot, right of its end, clear of the strategy labels
    body += text(left + catW * EFFORT_LEVELS.length + 4, y(0) + 4, "average", { "font-size": 11, fill: "#555555" });
    EFFORT_LEVELS.forEach((level, c) => {
        const x0 = left + catW * c;
        if (c > 0) body += `<line${attrs({ x1: x0, y1: top, x2: x0, y2: top + plotH, stroke: "#eeeeee" })}/>`;
        body += text(x0 + catW / 2, top + plotH + 20, level, { "text-anchor": "middle", "font-size": 13 });
        // Markers are spread across the left part of the column (highest difference first); labels
        // stack in a column on the right, at least one line apart, joined to their markers.
        const here = data.points.filter((p) => p.effort === level).sort((a, b) => b.difference - a.difference);
        const labelX = x0 + markerW + 16;
        const lines = here.map((p) => wrapped.get(p) as string[]);
        const heights = lines.map((l) => l.length * LINE);
        const baselines = stackLabels(
            here.map((p) => y(p.difference) + 4),
            heights,
            top + LINE,
            top + plotH,
        );
        here.forEach((p, i) => {
            const px = x0 + 14 + ((markerW - 20) * (i + 0.5)) / Math.max(1, here.length);
            const py = y(p.difference);
            const labelY = baselines[i] as number;
            const di = datasets.indexOf(p.dataset);
            const colour = PALETTE[di % PALETTE.length] as string;
            const tip = `${p.dataset}, ${p.label}: ${p.meanDice.toFixed(2)}% Dice, ${p.difference >= 0 ? "+" : ""}${p.difference.toFixed(2)} pp`;
            body += `<g><title>${escapeXml(tip)}</title>${marker(di, px, py, colour)}`;
            body += `<line${attrs({ x1: px + 7, y1: py, x2: labelX - 3, y2: labelY - 4, stroke: "#aaaaaa", "stroke-width": 0.7 })}/>`;
            body += textLines(labelX, labelY, lines[i] as string[], LINE, { "font-size": LABEL_FONT, fill: "#222222" });
            body += "</g>";
        });
    });
    body += text(left + (catW * EFFORT_LEVELS.length) / 2, top + plotH + 40, "Implementation effort", {
        "text-anchor": "middle",
        "font-size": 13,
    });
    datasets.forEach((d, i) => {
        const ly = top + plotH + 64 + 22 * i;
        body += marker(i, left + 8, ly - 4, PALETTE[i % PALETTE.length] as string);
        body += text(left + 20, ly, d, { "font-size": 12 });
    });
    if (data.unplaced.length) {
        const ly = top + plotH + 64 + 22 * datasets.length;
        body += text(left, ly, `Not placed (no effort level): ${data.unplaced.join("; ")}`, {
            "font-size": 11,
            fill: "#555555",
        });
    }
    if (data.points.length === 0) {
        body += text(
            left + (catW * EFFORT_LEVELS.length) / 2,
            top + plotH / 2,
            "no evaluated strategy has an effort level",
            { "text-anchor": "middle", fill: "#555555" },
        );
    }
    return svgDocument(width, height, title, body);
}
