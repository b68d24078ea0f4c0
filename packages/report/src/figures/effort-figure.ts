/**
 * Figure 10: performance difference to the average (Dice, percentage points) against implementation
 * effort, one marker shape and colour per dataset; the ideal strategies sit top-left.
 */
import { EFFORT_LEVELS, type EffortData } from "../effort.js";
import { escapeXml } from "../text-table.js";
import { attrs, figureTitle, linearScale, n2, niceTicks, PALETTE, svgDocument, text, yAxis } from "./svg.js";

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
    const right = 24;
    const top = 58;
    const plotH = 380;
    const catW = 230;
    const width = left + right + catW * EFFORT_LEVELS.length;
    const legendH = 22 * Math.max(1, datasets.length) + (data.unplaced.length ? 18 : 0);
    const height = top + plotH + 48 + legendH + 10;
    const diffs = data.points.map((p) => p.difference);
    const { ticks, lo, hi } = niceTicks(Math.min(0, ...diffs), Math.max(0, ...diffs), 6);
    const y = linearScale(lo, hi, top + plotH, top);
    let body = figureTitle(
        width,
        title,
        "y: strategy mean Dice minus the average of all strategies of the dataset; ideal: top-left",
    );
    body += yAxis(ticks, y, left, left + catW * EFFORT_LEVELS.length, "Dice difference to average (pp)");
    body += `<line${attrs({ x1: left, y1: y(0), x2: left + catW * EFFORT_LEVELS.length, y2: y(0), stroke: "#555555", "stroke-dasharray": "5 4" })}/>`;
    body += text(left + catW * EFFORT_LEVELS.length - 4, y(0) - 5, "average", {
        "text-anchor": "end",
        "font-size": 11,
        fill: "#555555",
    });
    EFFORT_LEVELS.forEach((level, c) => {
        const x0 = left + catW * c;
        if (c > 0) body += `<line${attrs({ x1: x0, y1: top, x2: x0, y2: top + plotH, stroke: "#eeeeee" })}/>`;
        body += text(x0 + catW / 2, top + plotH + 20, level, { "text-anchor": "middle", "font-size": 13 });
        // Markers are spread across the left part of the column (highest difference first); labels
        // stack in a column on the right, at least one line apart, joined to their markers.
        const here = data.points.filter((p) => p.effort === level).sort((a, b) => b.difference - a.difference);
        const labelX = x0 + catW - 114;
        let lastLabelY = Number.NEGATIVE_INFINITY;
        here.forEach((p, i) => {
            const px = x0 + 16 + ((catW - 150) * (i + 0.5)) / Math.max(1, here.length);
            const py = y(p.difference);
            const labelY = Math.max(py, lastLabelY + 12);
            lastLabelY = labelY;
            const di = datasets.indexOf(p.dataset);
            const colour = PALETTE[di % PALETTE.length] as string;
            const tip = `${p.dataset}, ${p.label}: ${p.meanDice.toFixed(2)}% Dice, ${p.difference >= 0 ? "+" : ""}${p.difference.toFixed(2)} pp`;
            body += `<g><title>${escapeXml(tip)}</title>${marker(di, px, py, colour)}`;
            body += `<line${attrs({ x1: px + 7, y1: py, x2: labelX - 3, y2: labelY, stroke: "#aaaaaa", "stroke-width": 0.7 })}/>`;
            body += text(labelX, labelY + 4, p.label, { "font-size": 10, fill: "#222222" });
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
