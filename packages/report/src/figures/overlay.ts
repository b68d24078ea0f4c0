/**
 * Sample overlays like the paper's Figures 2-6: the image, the ground truth filled and outlined in
 * red, the prediction outlined in dashed cyan, positive points green circles, negative points red
 * diamonds, the box yellow. Vector graphics over the embedded PNG image.
 */
import { ReportError } from "../errors.js";
import type { Sample } from "../types.js";
import { maskOutlinePath } from "./contour.js";
import { attrs, n2, svgDocument, text, textLines, textWidth, wrapText } from "./svg.js";

/** Colours of the overlay layers. */
export const OVERLAY_COLOURS = {
    groundTruth: "#FF2020",
    prediction: "#00E5FF",
    positive: "#00C853",
    negative: "#FF1744",
    box: "#FFD600",
} as const;

/** Checks that a sample's arrays match its size; throws ERR_SA_REPORT_INPUT naming the sample otherwise. */
export function checkSample(sample: Sample, where: string): void {
    const { width: w, height: h } = sample;
    const fail = (problem: string) => {
        throw new ReportError("ERR_SA_REPORT_INPUT", `${where}: sample ${sample.imageId}: ${problem}`);
    };
    if (!Number.isInteger(w) || !Number.isInteger(h) || w <= 0 || h <= 0) fail(`invalid size ${w}x${h}`);
    if (sample.image.length !== w * h * 3)
        fail(`image has ${sample.image.length} bytes, expected ${w * h * 3} (RGB ${w}x${h})`);
    if (sample.gt.length !== w * h) fail(`gt has ${sample.gt.length} values, expected ${w * h}`);
    if (sample.pred.length !== w * h) fail(`pred has ${sample.pred.length} values, expected ${w * h}`);
    if (sample.labels.length !== sample.points.length)
        fail(`${sample.points.length} points but ${sample.labels.length} labels`);
}

/** Options of {@link overlayFigure}. */
export interface OverlayOptions {
    /** Title line above the image. */
    title: string;
    /** Displayed length of the image's longer side in pixels (default 360). */
    displaySize?: number;
}

/** A long title on several lines: its first " | " part wrapped, the other parts together when they fit. */
function titleParts(title: string, maxWidth: number): string[] {
    const [head = "", ...rest] = title.split(" | ");
    const tail = rest.join(" | ");
    const tailLines =
        textWidth(tail, 13, true) <= maxWidth ? [tail] : rest.flatMap((p) => wrapText(p, 13, maxWidth, true));
    return [...wrapText(head, 13, maxWidth, true), ...(tail ? tailLines : [])];
}

/** The drawn layers of a sample in image units; `px` is one screen pixel in image units. */
function layers(sample: Sample, uri: string, px: number): string {
    const { width: w, height: h } = sample;
    const c = OVERLAY_COLOURS;
    let g = `<image${attrs({ x: 0, y: 0, width: w, height: h, href: uri, preserveAspectRatio: "none", style: "image-rendering:pixelated" })}/>`;
    const gtPath = maskOutlinePath(sample.gt, w, h);
    if (gtPath) {
        g += `<path${attrs({ d: gtPath, fill: c.groundTruth, "fill-opacity": 0.28, "fill-rule": "evenodd", stroke: c.groundTruth, "stroke-width": 1.6 * px, "stroke-linejoin": "round" })}/>`;
    }
    const predPath = maskOutlinePath(sample.pred, w, h);
    if (predPath) {
        g += `<path${attrs({ d: predPath, fill: "none", stroke: c.prediction, "stroke-width": 1.6 * px, "stroke-dasharray": `${n2(4 * px)} ${n2(2.5 * px)}`, "stroke-linejoin": "round" })}/>`;
    }
    if (sample.box) {
        const [x0, y0, x1, y1] = sample.box;
        g += `<rect${attrs({ x: Math.min(x0, x1) + 0.5, y: Math.min(y0, y1) + 0.5, width: Math.abs(x1 - x0), height: Math.abs(y1 - y0), fill: "none", stroke: c.box, "stroke-width": 2 * px })}/>`;
    }
    const r = Math.max(1.2 * Math.min(1, px * 4), 3.2 * px);
    sample.points.forEach(([x, y], i) => {
        const cx = x + 0.5;
        const cy = y + 0.5;
        if (sample.labels[i] === 1) {
            g += `<circle${attrs({ cx, cy, r, fill: c.positive, stroke: "#000000", "stroke-width": 0.8 * px })}/>`;
        } else {
            const q = r * 1.25;
            g += `<path${attrs({ d: `M${n2(cx)} ${n2(cy - q)}L${n2(cx + q)} ${n2(cy)}L${n2(cx)} ${n2(cy + q)}L${n2(cx - q)} ${n2(cy)}Z`, fill: c.negative, stroke: "#ffffff", "stroke-width": 0.8 * px })}/>`;
        }
    });
    return g;
}

/**
 * The region worth a zoomed inset: the bounding square of the ground truth, the prediction and the
 * box (not the points, which may cover the whole image), with a margin, when it covers less than `maxFraction` of the image's longer
 * side; undefined otherwise (the objects are big enough to see).
 */
export function zoomRegion(sample: Sample, maxFraction = 0.15): { x: number; y: number; size: number } | undefined {
    const { width: w, height: h } = sample;
    let x0 = Number.POSITIVE_INFINITY;
    let y0 = Number.POSITIVE_INFINITY;
    let x1 = Number.NEGATIVE_INFINITY;
    let y1 = Number.NEGATIVE_INFINITY;
    const add = (x: number, y: number) => {
        x0 = Math.min(x0, x);
        y0 = Math.min(y0, y);
        x1 = Math.max(x1, x + 1);
        y1 = Math.max(y1, y + 1);
    };
    for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) if (sample.gt[y * w + x] || sample.pred[y * w + x]) add(x, y);
    // points are left out: negative points spread over the whole image by design
    if (sample.box) {
        add(sample.box[0], sample.box[1]);
        add(sample.box[2], sample.box[3]);
    }
    if (!Number.isFinite(x0)) return undefined;
    const side = Math.max(x1 - x0, y1 - y0);
    const longer = Math.max(w, h);
    if (side > maxFraction * longer) return undefined;
    const size = Math.min(longer, Math.max(16, Math.ceil(side * 1.8)));
    const cx = (x0 + x1) / 2;
    const cy = (y0 + y1) / 2;
    return {
        x: Math.min(Math.max(0, Math.round(cx - size / 2)), Math.max(0, w - size)),
        y: Math.min(Math.max(0, Math.round(cy - size / 2)), Math.max(0, h - size)),
        size,
    };
}

/**
 * An SVG overlay of one sample. `imagePng` is the sample's image encoded as PNG; it is embedded
 * as a data URI so the SVG is self-contained. Points and the box are drawn at pixel centres
 * (x + 0.5, y + 0.5), where SAM places them. The title wraps to the figure's width; the legend lists
 * the layers the sample has; a small tumour (see {@link zoomRegion}) gets a magnified inset in the
 * corner farthest from it, its region outlined on the image.
 */
export function overlayFigure(sample: Sample, imagePng: Uint8Array, options: OverlayOptions): string {
    checkSample(sample, "overlayFigure");
    const { width: w, height: h } = sample;
    const display = options.displaySize ?? 360;
    const scale = display / Math.max(w, h);
    const width = Math.max(w * scale, 300);
    // the title's " | "-separated parts go on lines of their own when it does not fit on one
    const titleLines =
        textWidth(options.title, 13, true) <= width - 12 ? [options.title] : titleParts(options.title, width - 12);
    const top = 10 + 16 * titleLines.length;
    const uri = `data:image/png;base64,${Buffer.from(imagePng.buffer, imagePng.byteOffset, imagePng.byteLength).toString("base64")}`;
    const c = OVERLAY_COLOURS;
    const ox = (width - w * scale) / 2;
    let body = textLines(width / 2, 19, titleLines, 16, {
        "text-anchor": "middle",
        "font-size": 13,
        "font-weight": "bold",
    });
    body += `<g${attrs({ transform: `translate(${n2(ox)} ${top}) scale(${n2(scale)})` })}>${layers(sample, uri, 1 / scale)}</g>`;
    const zoom = zoomRegion(sample);
    if (zoom) {
        const inset = Math.round(Math.min(w, h) * scale * 0.42);
        const k = inset / zoom.size;
        // the corner farthest from the region
        const right = zoom.x + zoom.size / 2 < w / 2;
        const below = zoom.y + zoom.size / 2 < h / 2;
        const ix = ox + (right ? w * scale - inset - 6 : 6);
        const iy = top + (below ? h * scale - inset - 6 : 6);
        body += `<rect${attrs({ x: ox + zoom.x * scale, y: top + zoom.y * scale, width: zoom.size * scale, height: zoom.size * scale, fill: "none", stroke: "#ffffff", "stroke-width": 1.2 })}/>`;
        body += `<svg${attrs({ x: ix, y: iy, width: inset, height: inset, viewBox: `${zoom.x} ${zoom.y} ${zoom.size} ${zoom.size}`, preserveAspectRatio: "none" })}>${layers(sample, uri, 1 / k)}</svg>`;
        body += `<rect${attrs({ x: ix, y: iy, width: inset, height: inset, fill: "none", stroke: "#ffffff", "stroke-width": 2 })}/>`;
        body += text(ix + 4, iy + inset - 5, `zoom x${(k / scale).toFixed(1)}`, {
            "font-size": 10,
            fill: "#ffffff",
            stroke: "#000000",
            "stroke-width": 0.25,
        });
    }
    const ly = top + h * scale + 16;
    const hasPositive = sample.labels.some((l) => l === 1);
    const hasNegative = sample.labels.some((l) => l !== 1);
    const items: [string, string][] = [
        [
            `<rect${attrs({ x: 0, y: -9, width: 14, height: 10, fill: c.groundTruth, "fill-opacity": 0.4, stroke: c.groundTruth })}/>`,
            "ground truth",
        ],
        [
            `<line${attrs({ x1: 0, y1: -4, x2: 16, y2: -4, stroke: c.prediction, "stroke-width": 2.5, "stroke-dasharray": "4 2" })}/>`,
            "prediction",
        ],
    ];
    if (hasPositive)
        items.push([
            `<circle${attrs({ cx: 6, cy: -4, r: 4, fill: c.positive, stroke: "#000000" })}/>`,
            "positive point",
        ]);
    if (hasNegative) {
        items.push([
            `<path${attrs({ d: "M6 -10L12 -4L6 2L0 -4Z", fill: c.negative, stroke: "#000000", "stroke-width": 0.5 })}/>`,
            "negative point",
        ]);
    }
    if (sample.box) {
        items.push([
            `<rect${attrs({ x: 0, y: -9, width: 14, height: 10, fill: "none", stroke: "#B8A000", "stroke-width": 2 })}/>`,
            "box",
        ]);
    }
    let lx = 6;
    let row = 0;
    for (const [symbol, label] of items) {
        const itemW = 22 + textWidth(label, 11) + 12;
        if (lx + itemW > width - 4 && lx > 6) {
            lx = 6;
            row++;
        }
        const yy = ly + row * 18;
        body += `<g${attrs({ transform: `translate(${n2(lx)} ${n2(yy)})` })}>${symbol}${text(20, 0, label, { "font-size": 11 })}</g>`;
        lx += itemW;
    }
    const height = ly + row * 18 + 12;
    return svgDocument(width, height, options.title, body);
}

/** Title of a sample overlay: strategy, image and its Dice. */
export function overlayTitle(strategyLabel: string, sample: Sample): string {
    return `${strategyLabel} | ${sample.imageId} | Dice ${(sample.dice * 100).toFixed(1)}%`;
}
