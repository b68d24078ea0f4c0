/**
 * Sample overlays like the paper's Figures 2-6: the image, the ground truth filled and outlined in
 * red, the prediction outlined in dashed cyan, positive points green circles, negative points red
 * diamonds, the box yellow. Vector graphics over the embedded PNG image.
 */
import { ReportError } from "../errors.js";
import type { Sample } from "../types.js";
import { maskOutlinePath } from "./contour.js";
import { attrs, n2, svgDocument, text } from "./svg.js";

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

/**
 * An SVG overlay of one sample. `imagePng` is the sample's image encoded as PNG; it is embedded
 * as a data URI so the SVG is self-contained. Points and the box are drawn at pixel centres
 * (x + 0.5, y + 0.5), where SAM places them.
 */
export function overlayFigure(sample: Sample, imagePng: Uint8Array, options: OverlayOptions): string {
    checkSample(sample, "overlayFigure");
    const { width: w, height: h } = sample;
    const scale = (options.displaySize ?? 360) / Math.max(w, h);
    const top = 30;
    const legendH = 40;
    const width = Math.max(w * scale, 300);
    const height = top + h * scale + legendH;
    const px = 1 / scale; // one screen pixel in image units
    const uri = `data:image/png;base64,${Buffer.from(imagePng.buffer, imagePng.byteOffset, imagePng.byteLength).toString("base64")}`;
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
    const r = Math.max(1.2, 3.2 * px);
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
    const ox = (width - w * scale) / 2;
    let body = text(width / 2, 19, options.title, { "text-anchor": "middle", "font-size": 13, "font-weight": "bold" });
    body += `<g${attrs({ transform: `translate(${n2(ox)} ${top}) scale(${n2(scale)})` })}>${g}</g>`;
    const ly = top + h * scale + 16;
    const items: [string, string][] = [
        [
            `<rect${attrs({ x: 0, y: -9, width: 14, height: 10, fill: c.groundTruth, "fill-opacity": 0.4, stroke: c.groundTruth })}/>`,
            "ground truth",
        ],
        [
            `<line${attrs({ x1: 0, y1: -4, x2: 16, y2: -4, stroke: c.prediction, "stroke-width": 2.5, "stroke-dasharray": "4 2" })}/>`,
            "prediction",
        ],
        [`<circle${attrs({ cx: 6, cy: -4, r: 4, fill: c.positive, stroke: "#000000" })}/>`, "positive"],
        [
            `<path${attrs({ d: "M6 -10L12 -4L6 2L0 -4Z", fill: c.negative, stroke: "#000000", "stroke-width": 0.5 })}/>`,
            "negative",
        ],
        [
            `<rect${attrs({ x: 0, y: -9, width: 14, height: 10, fill: "none", stroke: "#B8A000", "stroke-width": 2 })}/>`,
            "box",
        ],
    ];
    let lx = 6;
    let row = 0;
    for (const [symbol, label] of items) {
        const itemW = 24 + label.length * 6.6 + 12;
        if (lx + itemW > width && lx > 6) {
            lx = 6;
            row++;
        }
        const yy = ly + row * 18;
        body += `<g${attrs({ transform: `translate(${n2(lx)} ${n2(yy)})` })}>${symbol}${text(20, 0, label, { "font-size": 11 })}</g>`;
        lx += itemW;
    }
    return svgDocument(width, height + row * 18, options.title, body);
}

/** Title of a sample overlay: strategy, image and its Dice. */
export function overlayTitle(strategyLabel: string, sample: Sample): string {
    return `${strategyLabel} | ${sample.imageId} | Dice ${(sample.dice * 100).toFixed(1)}%`;
}
