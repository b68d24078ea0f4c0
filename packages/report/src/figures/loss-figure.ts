/** Training loss curves (mean loss per epoch) of every strategy of a dataset. */
import { sortByStrategy } from "../strategies.js";
import { escapeXml } from "../text-table.js";
import type { DatasetResults } from "../types.js";
import {
    attrs,
    DASHES,
    figureTitle,
    integerTicks,
    linearScale,
    n2,
    niceTicks,
    PALETTE,
    svgDocument,
    text,
    textWidth,
    yAxis,
} from "./svg.js";

/**
 * An SVG line plot of the per-epoch mean training loss of each strategy of a dataset that has a
 * loss curve (colour and dash pattern per strategy, legend on the right), or undefined when none has.
 */
export function lossFigure(
    dataset: DatasetResults,
    title = `Training loss per epoch: ${dataset.name}`,
): string | undefined {
    const curves = sortByStrategy(dataset.strategies).filter((s) => s.lossCurve?.some(Number.isFinite));
    if (curves.length === 0) return undefined;
    const left = 78;
    const top = 58;
    const plotW = 560;
    const plotH = 340;
    const legendW = 40 + Math.max(120, ...curves.map((s) => textWidth(s.label, 11)));
    const width = left + plotW + 24 + legendW;
    const height = Math.max(top + plotH + 60, top + 20 * curves.length + 20);
    const epochs = Math.max(...curves.map((s) => (s.lossCurve as number[]).length));
    const finite = curves.flatMap((s) => (s.lossCurve as number[]).filter(Number.isFinite));
    const { ticks, lo, hi } = niceTicks(Math.min(0, ...finite), Math.max(...finite), 5);
    const y = linearScale(lo, hi, top + plotH, top);
    // epochs are whole numbers: ticks at 1 and multiples of 1, 2, 5, 10, ...
    const xTicks = integerTicks(epochs, 6);
    const x = linearScale(1, Math.max(2, epochs), left, left + plotW);
    let body = figureTitle(width, title, "mean of the training loss (Dice + BCE) over the steps of each epoch");
    body += yAxis(ticks, y, left, left + plotW, "Loss");
    body += `<line${attrs({ x1: left, y1: top + plotH, x2: left + plotW, y2: top + plotH, stroke: "#333333" })}/>`;
    for (const t of xTicks) {
        body += `<line${attrs({ x1: x(t), y1: top + plotH, x2: x(t), y2: top + plotH + 5, stroke: "#333333" })}/>`;
        body += text(x(t), top + plotH + 18, String(t), { "text-anchor": "middle", fill: "#333333" });
    }
    body += text(left + plotW / 2, top + plotH + 40, "Epoch", { "text-anchor": "middle", "font-size": 13 });
    curves.forEach((s, i) => {
        const colour = PALETTE[i % PALETTE.length] as string;
        const dash = DASHES[Math.floor(i / PALETTE.length) % DASHES.length] as string;
        let d = "";
        let pen = "M";
        (s.lossCurve as number[]).forEach((v, e) => {
            if (!Number.isFinite(v)) {
                pen = "M";
                return;
            }
            d += `${pen}${n2(x(e + 1))} ${n2(y(v))}`;
            pen = "L";
        });
        body += `<g><title>${escapeXml(s.label)}</title><path${attrs({ d, fill: "none", stroke: colour, "stroke-width": 1.8, "stroke-dasharray": dash || undefined })}/></g>`;
        const ly = top + 10 + 20 * i;
        const lx = left + plotW + 24;
        body += `<line${attrs({ x1: lx, y1: ly, x2: lx + 26, y2: ly, stroke: colour, "stroke-width": 2.5, "stroke-dasharray": dash || undefined })}/>`;
        body += text(lx + 32, ly + 4, s.label, { "font-size": 11 });
    });
    return svgDocument(width, height, title, body);
}
