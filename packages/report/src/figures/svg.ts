/** Shared pieces of the hand-written SVG figures: document frame, text, axes ticks and the palette. */
import { escapeXml } from "../text-table.js";

/**
 * Okabe-Ito colour-blind-safe palette, ordered so that the first colours contrast well on white
 * (the yellow, weakest on white, comes last).
 */
export const PALETTE: readonly string[] = [
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#000000",
    "#F0E442",
];

/** Dash patterns combined with the palette when a figure has more series than colours. */
export const DASHES: readonly string[] = ["", "6 3", "2 2", "8 3 2 3"];

/** Font stack used in every figure (DejaVu Sans is what librsvg finds on a bare Linux). */
export const FONT = "DejaVu Sans, Helvetica, Arial, sans-serif";

/** A coordinate or length rounded to 2 decimals, without trailing zeros. */
export function n2(v: number): string {
    return String(Math.round(v * 100) / 100);
}

/** Attributes rendered as ` key="value"` (values escaped; undefined skipped). */
export function attrs(a: Record<string, string | number | undefined>): string {
    let out = "";
    for (const [k, v] of Object.entries(a)) {
        if (v === undefined) continue;
        out += ` ${k}="${escapeXml(typeof v === "number" ? n2(v) : v)}"`;
    }
    return out;
}

/** A <text> element with escaped content. */
export function text(
    x: number,
    y: number,
    content: string,
    a: Record<string, string | number | undefined> = {},
): string {
    return `<text${attrs({ x, y, ...a })}>${escapeXml(content)}</text>`;
}

/**
 * A standalone SVG document: white background, a <title> for accessibility and the common font.
 * Width and height are in CSS pixels.
 */
export function svgDocument(width: number, height: number, title: string, body: string): string {
    return (
        `<svg xmlns="http://www.w3.org/2000/svg"` +
        `${attrs({ width, height, viewBox: `0 0 ${n2(width)} ${n2(height)}`, "font-family": FONT, "font-size": 12 })}>` +
        `<title>${escapeXml(title)}</title>` +
        `<rect width="100%" height="100%" fill="#ffffff"/>` +
        `${body}</svg>\n`
    );
}

/**
 * About `count` round tick values covering [min, max] (steps of 1, 2, 2.5 or 5 times a power of ten).
 * Returns the ticks and the extended [lo, hi] they span.
 */
export function niceTicks(min: number, max: number, count = 5): { ticks: number[]; lo: number; hi: number } {
    if (!Number.isFinite(min) || !Number.isFinite(max)) return { ticks: [0, 1], lo: 0, hi: 1 };
    if (max < min) [min, max] = [max, min];
    if (max === min) {
        const pad = Math.abs(min) > 0 ? Math.abs(min) * 0.1 : 1;
        min -= pad;
        max += pad;
    }
    const raw = (max - min) / Math.max(1, count);
    const mag = 10 ** Math.floor(Math.log10(raw));
    const step = ([1, 2, 2.5, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag;
    const lo = Math.floor(min / step + 1e-9) * step;
    const hi = Math.ceil(max / step - 1e-9) * step;
    const ticks: number[] = [];
    for (let v = lo; v <= hi + step * 1e-6; v += step) ticks.push(Math.round(v / step) * step);
    return { ticks, lo, hi };
}

/** A tick label: as few decimals as the step needs. */
export function tickLabel(v: number, step: number): string {
    const decimals = Math.max(
        0,
        Math.min(6, -Math.floor(Math.log10(step) + 1e-9) + (step / 10 ** Math.floor(Math.log10(step)) === 2.5 ? 1 : 0)),
    );
    return (Math.abs(v) < step * 1e-6 ? 0 : v).toFixed(decimals);
}

/** Linear map from a data interval onto a pixel interval. */
export function linearScale(d0: number, d1: number, p0: number, p1: number): (v: number) => number {
    const k = d1 === d0 ? 0 : (p1 - p0) / (d1 - d0);
    return (v) => p0 + (v - d0) * k;
}

/**
 * A left value axis with horizontal grid lines, tick labels and a rotated axis title.
 * `y` maps values to pixels; the grid spans [x0, x1].
 */
export function yAxis(ticks: number[], y: (v: number) => number, x0: number, x1: number, label: string): string {
    const step = ticks.length > 1 ? (ticks[1] as number) - (ticks[0] as number) : 1;
    let out = "";
    for (const t of ticks) {
        const py = y(t);
        out += `<line${attrs({ x1: x0, y1: py, x2: x1, y2: py, stroke: "#e0e0e0", "stroke-width": 1 })}/>`;
        out += text(x0 - 6, py + 4, tickLabel(t, step), { "text-anchor": "end", fill: "#333333" });
    }
    const top = y(ticks[ticks.length - 1] as number);
    const bottom = y(ticks[0] as number);
    out += `<line${attrs({ x1: x0, y1: top, x2: x0, y2: bottom, stroke: "#333333", "stroke-width": 1 })}/>`;
    const cy = (top + bottom) / 2;
    out += text(x0 - 46, cy, label, {
        transform: `rotate(-90 ${n2(x0 - 46)} ${n2(cy)})`,
        "text-anchor": "middle",
        "font-size": 13,
    });
    return out;
}

/** A figure title centred at the top. */
export function figureTitle(width: number, title: string, subtitle?: string): string {
    let out = text(width / 2, 22, title, { "text-anchor": "middle", "font-size": 15, "font-weight": "bold" });
    if (subtitle) out += text(width / 2, 40, subtitle, { "text-anchor": "middle", "font-size": 12, fill: "#444444" });
    return out;
}

/**
 * A conservative estimate of a text's rendered width in DejaVu Sans (the widest of the figure
 * fonts), for layout: wide glyphs (capitals, digits, m, w) count more than narrow ones (i, l, t).
 */
export function textWidth(s: string, fontSize: number, bold = false): number {
    let em = 0;
    for (const ch of s) {
        if ("il.,:;|!'".includes(ch)) em += 0.32;
        else if ("fjrt()[] ".includes(ch)) em += 0.42;
        else if ("mwMW%@".includes(ch)) em += 0.98;
        else if (/[A-Z0-9#&+=<>~_]/.test(ch)) em += 0.72;
        else em += 0.62;
    }
    return em * fontSize * (bold ? 1.1 : 1);
}

/** Words of `s` broken into lines of at most `maxWidth` pixels (a longer single word stays whole). */
export function wrapText(s: string, fontSize: number, maxWidth: number, bold = false): string[] {
    const lines: string[] = [];
    let line = "";
    for (const word of s.split(/\s+/).filter(Boolean)) {
        const next = line ? `${line} ${word}` : word;
        if (line && textWidth(next, fontSize, bold) > maxWidth) {
            lines.push(line);
            line = word;
        } else line = next;
    }
    if (line) lines.push(line);
    return lines.length ? lines : [""];
}

/** A multi-line <text>: one <tspan> per line, `lineHeight` apart, the first baseline at y. */
export function textLines(
    x: number,
    y: number,
    lines: readonly string[],
    lineHeight: number,
    a: Record<string, string | number | undefined> = {},
): string {
    const spans = lines
        .map((l, i) => `<tspan${attrs({ x, dy: i === 0 ? undefined : lineHeight })}>${escapeXml(l)}</tspan>`)
        .join("");
    return `<text${attrs({ x, y, ...a })}>${spans}</text>`;
}

/** Whole-number ticks from 1 to `max` (steps 1, 2, 5, 10, 20, 50, ...), about `count` of them. */
export function integerTicks(max: number, count = 6): number[] {
    const top = Math.max(1, Math.floor(max));
    const raw = (top - 1) / Math.max(1, count);
    let step = 1;
    for (let mag = 1; step < raw; mag *= 10) {
        step = [1, 2, 5].map((m) => m * mag).find((v) => v >= raw) ?? 10 * mag;
    }
    const ticks = [1];
    for (let v = step; v <= top; v += step) if (v > 1) ticks.push(v);
    return ticks;
}
