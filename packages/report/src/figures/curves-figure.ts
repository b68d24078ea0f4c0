/**
 * Learning curves of a dataset as small multiples: one panel per strategy with the mean training loss
 * per epoch (left axis) and the validation Dice (right axis), the selected epoch marked. Every panel
 * shares the same scales, so panels compare at a glance.
 */
import { sortByStrategy } from "../strategies.js";
import { escapeXml } from "../text-table.js";
import type { DatasetResults, StrategyResult } from "../types.js";
import { attrs, figureTitle, linearScale, n2, niceTicks, svgDocument, text, tickLabel } from "./svg.js";

const LOSS = "#0072B2";
const VAL = "#D55E00";
const MARK = "#009E73";

function finite(v: number | null | undefined): v is number {
    return typeof v === "number" && Number.isFinite(v);
}

function pathOf(points: [number, number][]): string {
    return points.map(([x, y], i) => `${i ? "L" : "M"}${n2(x)} ${n2(y)}`).join("");
}

/**
 * The small-multiple SVG of a dataset's learning curves, or undefined when no strategy has a loss
 * curve or a validation curve.
 */
export function learningCurvesFigure(
    dataset: DatasetResults,
    title = `Learning curves: ${dataset.name}`,
): string | undefined {
    const strategies = sortByStrategy(dataset.strategies).filter(
        (s) => s.lossCurve?.some(Number.isFinite) || s.selection?.curve.some((p) => finite(p.dice)),
    );
    if (strategies.length === 0) return undefined;
    const cols = Math.min(4, strategies.length);
    const rows = Math.ceil(strategies.length / cols);
    const panelW = 250;
    const panelH = 170;
    const padL = 52;
    const padR = 46;
    const padT = 26;
    const padB = 34;
    const top = 78;
    const left = 10;
    const width = left + cols * (padL + panelW + padR) + 10;
    const height = top + rows * (padT + panelH + padB) + 10;

    const epochs = Math.max(
        2,
        ...strategies.map((s) => s.lossCurve?.length ?? 0),
        ...strategies.flatMap((s) => (s.selection?.curve ?? []).map((p) => Math.ceil(p.epoch))),
    );
    const losses = strategies.flatMap((s) => (s.lossCurve ?? []).filter(Number.isFinite));
    const lossTicks = niceTicks(0, losses.length ? Math.max(...losses) : 1, 4);
    const dices = strategies
        .flatMap((s) => (s.selection?.curve ?? []).map((p) => p.dice).filter(finite))
        .map((d) => d * 100);
    const diceTicks = niceTicks(dices.length ? Math.min(...dices) : 0, dices.length ? Math.max(...dices) : 100, 4);
    // whole epochs only: a step of 1, 2, 5, 10, 20, 25, 50, ... giving about 5 ticks
    const xStep =
        [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000].find((k) => epochs / k <= 6) ?? Math.ceil(epochs / 5);
    const xt = {
        ticks: [
            1,
            ...Array.from({ length: Math.floor(epochs / xStep) }, (_, i) => (i + 1) * xStep).filter((t) => t > 1),
        ],
    };

    let body = figureTitle(
        width,
        title,
        "per strategy: mean training loss per epoch (left axis) and validation Dice in % (right axis); the selected epoch is marked",
    );
    // legend
    const ly = 56;
    body += `<line${attrs({ x1: left + 12, y1: ly, x2: left + 40, y2: ly, stroke: LOSS, "stroke-width": 2 })}/>`;
    body += text(left + 46, ly + 4, "training loss", { "font-size": 11 });
    body += `<line${attrs({ x1: left + 150, y1: ly, x2: left + 178, y2: ly, stroke: VAL, "stroke-width": 2 })}/>`;
    body += `<circle${attrs({ cx: left + 164, cy: ly, r: 2.5, fill: VAL })}/>`;
    body += text(left + 184, ly + 4, "validation Dice (%)", { "font-size": 11 });
    body += `<line${attrs({ x1: left + 320, y1: ly - 7, x2: left + 320, y2: ly + 7, stroke: MARK, "stroke-width": 1.5, "stroke-dasharray": "4 2" })}/>`;
    body += `<circle${attrs({ cx: left + 320, cy: ly, r: 4.5, fill: "none", stroke: MARK, "stroke-width": 2 })}/>`;
    body += text(left + 330, ly + 4, "selected epoch", { "font-size": 11 });

    strategies.forEach((s, i) => {
        const c = i % cols;
        const r = Math.floor(i / cols);
        const x0 = left + c * (padL + panelW + padR) + padL;
        const y0 = top + r * (padT + panelH + padB) + padT;
        body += panel(s, x0, y0, panelW, panelH, { lossTicks, diceTicks, xt: xt.ticks, xStep, epochs });
    });
    return svgDocument(width, height, title, body);
}

interface Scales {
    lossTicks: { ticks: number[]; lo: number; hi: number };
    diceTicks: { ticks: number[]; lo: number; hi: number };
    xt: number[];
    xStep: number;
    epochs: number;
}

function panel(s: StrategyResult, x0: number, y0: number, w: number, h: number, sc: Scales): string {
    const x = linearScale(1, Math.max(2, sc.epochs), x0, x0 + w);
    const yl = linearScale(sc.lossTicks.lo, sc.lossTicks.hi, y0 + h, y0);
    const yd = linearScale(sc.diceTicks.lo, sc.diceTicks.hi, y0 + h, y0);
    let out = `<g><title>${escapeXml(s.label)}</title>`;
    out += text(x0 + w / 2, y0 - 8, s.label, { "text-anchor": "middle", "font-size": 12, "font-weight": "bold" });
    out += `<rect${attrs({ x: x0, y: y0, width: w, height: h, fill: "none", stroke: "#bbbbbb" })}/>`;
    const lStep =
        sc.lossTicks.ticks.length > 1 ? (sc.lossTicks.ticks[1] as number) - (sc.lossTicks.ticks[0] as number) : 1;
    for (const t of sc.lossTicks.ticks) {
        out += `<line${attrs({ x1: x0, y1: yl(t), x2: x0 + w, y2: yl(t), stroke: "#eeeeee" })}/>`;
        out += text(x0 - 4, yl(t) + 4, tickLabel(t, lStep), { "text-anchor": "end", "font-size": 10, fill: LOSS });
    }
    const dStep =
        sc.diceTicks.ticks.length > 1 ? (sc.diceTicks.ticks[1] as number) - (sc.diceTicks.ticks[0] as number) : 1;
    for (const t of sc.diceTicks.ticks) {
        out += text(x0 + w + 4, yd(t) + 4, tickLabel(t, dStep), { "font-size": 10, fill: VAL });
    }
    for (const t of sc.xt) {
        if (t < 1 || t > sc.epochs) continue;
        out += `<line${attrs({ x1: x(t), y1: y0 + h, x2: x(t), y2: y0 + h + 4, stroke: "#333333" })}/>`;
        out += text(x(t), y0 + h + 15, tickLabel(t, sc.xStep), { "text-anchor": "middle", "font-size": 10 });
    }
    out += text(x0 + w / 2, y0 + h + 28, "epoch", { "text-anchor": "middle", "font-size": 10, fill: "#555555" });
    const loss: [number, number][] = [];
    (s.lossCurve ?? []).forEach((v, e) => {
        if (Number.isFinite(v)) loss.push([x(e + 1), yl(v)]);
    });
    if (loss.length) out += `<path${attrs({ d: pathOf(loss), fill: "none", stroke: LOSS, "stroke-width": 1.8 })}/>`;
    const sel = s.selection;
    if (sel) {
        const pts = sel.curve
            .filter((p) => finite(p.dice))
            .map((p) => [x(p.epoch), yd((p.dice as number) * 100)] as [number, number]);
        if (pts.length) out += `<path${attrs({ d: pathOf(pts), fill: "none", stroke: VAL, "stroke-width": 1.8 })}/>`;
        if (pts.length <= 40)
            for (const [px, py] of pts) out += `<circle${attrs({ cx: px, cy: py, r: 2.2, fill: VAL })}/>`;
        const e = sel.epochs[0];
        const chosen = sel.curve.find((p) => p.epoch === e && finite(p.dice));
        if (e !== null && e !== undefined && chosen) {
            out += `<line${attrs({ x1: x(e), y1: y0, x2: x(e), y2: y0 + h, stroke: MARK, "stroke-width": 1.5, "stroke-dasharray": "4 2" })}/>`;
            out += `<circle${attrs({ cx: x(e), cy: yd((chosen.dice as number) * 100), r: 4.5, fill: "none", stroke: MARK, "stroke-width": 2 })}/>`;
        }
        const stop = sel.stoppedAtEpoch[0];
        if (stop !== null && stop !== undefined) {
            out += text(x0 + w - 4, y0 + 12, `stopped at epoch ${stop}`, {
                "text-anchor": "end",
                "font-size": 10,
                fill: "#555555",
            });
        }
    }
    return `${out}</g>`;
}
