// Headless Chromium for the report tests: find the binary, run it, and measure the text of SVG
// figures in the page (every <text> as its transformed quadrilateral in the figure's own units).
import { execFile } from "node:child_process";
import { accessSync, constants } from "node:fs";
import path from "node:path";

/** The chromium or chromium-browser on PATH, or undefined. */
export function findChromium(): string | undefined {
    for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
        for (const name of ["chromium", "chromium-browser"]) {
            const p = path.join(dir, name);
            try {
                accessSync(p, constants.X_OK);
                return p;
            } catch {
                // not here
            }
        }
    }
    return undefined;
}

/** Runs a binary; rejects with its stderr when it fails. */
export function runBinary(bin: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
        execFile(bin, args, { timeout: 180_000, maxBuffer: 256 << 20 }, (err, stdout, stderr) => {
            if (err) reject(new Error(`${bin} ${args.join(" ")} failed: ${err.message}\n${stderr}`));
            else resolve({ stdout, stderr });
        });
    });
}

/** Flags for a headless, sandbox-free, first-run-free Chromium with its own profile folder. */
export function headless(profile: string): string[] {
    return [
        "--headless",
        "--disable-gpu",
        "--no-sandbox",
        "--no-first-run",
        `--user-data-dir=${profile}`,
        "--hide-scrollbars",
    ];
}

/** One measured <text>: its content and its corners in the figure's viewBox units. */
export interface MeasuredText {
    text: string;
    quad: [number, number][];
}

/** One measured figure: its id, viewBox size and texts. */
export interface MeasuredFigure {
    id: string;
    width: number;
    height: number;
    texts: MeasuredText[];
}

/**
 * A script for the page: for every <svg data-figure="id">, every <text> element's bounding box
 * (getBBox, the glyph extents) mapped through its transform to the root SVG's user units
 * (getCTM), written as JSON into <pre id="measured">.
 */
export const MEASURE_SCRIPT = `
const out = [];
for (const svg of document.querySelectorAll("svg[data-figure]")) {
    const vb = svg.viewBox.baseVal;
    const texts = [];
    for (const t of svg.querySelectorAll("text")) {
        const b = t.getBBox();
        const m = t.getCTM();
        const sm = svg.getCTM();
        const inv = sm.inverse();
        const toRoot = inv.multiply(m);
        const corner = (x, y) => { const p = new DOMPoint(x, y).matrixTransform(toRoot); return [p.x, p.y]; };
        texts.push({ text: t.textContent, quad: [corner(b.x, b.y), corner(b.x + b.width, b.y), corner(b.x + b.width, b.y + b.height), corner(b.x, b.y + b.height)] });
    }
    out.push({ id: svg.getAttribute("data-figure"), width: vb.width, height: vb.height, texts });
}
const pre = document.createElement("pre");
pre.id = "measured";
pre.textContent = JSON.stringify(out);
document.body.appendChild(pre);
`;

function project(quad: [number, number][], ax: [number, number]): [number, number] {
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (const [x, y] of quad) {
        const v = x * ax[0] + y * ax[1];
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
    }
    return [lo, hi];
}

/** Overlap depth of two convex quadrilaterals (separating axes; 0 or less = apart). */
export function quadOverlap(a: [number, number][], b: [number, number][]): number {
    let depth = Number.POSITIVE_INFINITY;
    for (const q of [a, b]) {
        for (let i = 0; i < q.length; i++) {
            const [x0, y0] = q[i] as [number, number];
            const [x1, y1] = q[(i + 1) % q.length] as [number, number];
            const len = Math.hypot(x1 - x0, y1 - y0);
            if (len === 0) continue;
            const ax: [number, number] = [-(y1 - y0) / len, (x1 - x0) / len];
            const [alo, ahi] = project(a, ax);
            const [blo, bhi] = project(b, ax);
            depth = Math.min(depth, Math.min(ahi, bhi) - Math.max(alo, blo));
        }
    }
    return depth;
}

/**
 * Problems of a measured figure: text outside the figure (by more than `tol` units) and texts that
 * overlap each other (deeper than `tol`).
 */
export function textProblems(f: MeasuredFigure, tol = 0.5): string[] {
    const out: string[] = [];
    const texts = f.texts.filter((t) => t.text.trim() !== "");
    for (const t of texts) {
        const xs = t.quad.map((p) => p[0]);
        const ys = t.quad.map((p) => p[1]);
        const over = [-Math.min(...xs), Math.max(...xs) - f.width, -Math.min(...ys), Math.max(...ys) - f.height];
        if (over.some((o) => o > tol)) {
            out.push(`${f.id}: "${t.text}" runs out of the figure (by ${Math.max(...over).toFixed(1)} px)`);
        }
    }
    for (let i = 0; i < texts.length; i++) {
        for (let j = i + 1; j < texts.length; j++) {
            const a = texts[i] as MeasuredText;
            const b = texts[j] as MeasuredText;
            const d = quadOverlap(a.quad, b.quad);
            if (d > tol) out.push(`${f.id}: "${a.text}" and "${b.text}" overlap (by ${d.toFixed(1)} px)`);
        }
    }
    return out;
}
