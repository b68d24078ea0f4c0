// Every figure type of the report measured in headless Chromium: no SVG text runs out of its figure
// and no two texts overlap (box plots with the paper's 16 long strategy names, Figure 10, loss
// curves of 16 strategies over 4 epochs, overlays with a 20-pixel tumour and with every prompt
// type); the report page at 1280 px has no summary table wider than its column. Screenshots of the
// page and of each figure are kept in the output folder for a look. Skips without Chromium.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { type RunResults, renderReport, type Sample, type StrategyResult } from "@sam-ablate/report";
import { PAPER_STRATEGY_IDS, parseStrategy } from "@sam-ablate/samplers";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
    findChromium,
    headless,
    MEASURE_SCRIPT,
    type MeasuredFigure,
    runBinary,
    textProblems,
} from "../helpers/browser.js";
import { discSample, drawnSample, type Pixel, strategy } from "../helpers/report-fixture.js";

/** The paper's strategies but pos50_neg50 (16: box at 8, pos50_neg50_box at 12). */
const PAPER_IDS = PAPER_STRATEGY_IDS.filter((id) => id !== "pos50_neg50");

/** A 256 x 256 MRI-like sample with a 20-pixel tumour, prompted by a box only. */
function smallTumour(): Sample {
    const pixel: Pixel = (x, y) => {
        const v = (x - 128) ** 2 + (y - 128) ** 2 < 100 ** 2 ? 90 + ((x * 7 + y * 3) % 40) : 0;
        return { rgb: [v, v, v], gt: (x - 170) ** 2 + (y - 96) ** 2 <= 6, pred: (x - 171) ** 2 + (y - 96) ** 2 <= 6 };
    };
    const prompts = { points: [], labels: [], box: [167, 93, 173, 99] as [number, number, number, number] };
    return drawnSample("BraTS20_Training_101_slice_077", 256, 256, pixel, prompts);
}

function stressRun(): RunResults {
    const make = (offset: number): StrategyResult[] =>
        PAPER_IDS.map((id, k) => {
            const s = strategy(id, parseStrategy(id).label, 0.55 + 0.02 * (k % 9), 40, k + offset, 1);
            s.lossCurve = [0.9, 0.5, 0.42, 0.4].map((v) => v + 0.01 * k);
            s.zeroShot = {
                excluded: 1,
                perImage: s.perImage.map((p) =>
                    p.dice === null ? p : { ...p, dice: (p.dice as number) * 0.8, iou: (p.iou as number) * 0.8 },
                ),
            };
            return s;
        });
    const brats = make(0);
    (brats[8] as StrategyResult).samples = [smallTumour()];
    (brats[12] as StrategyResult).samples = [discSample("BraTS20_Training_012_slice_060", 128, 128, true)];
    return {
        title: "Figures that fit",
        createdBy: "sam-ablate test",
        config: {},
        datasets: [
            {
                name: "BraTS 2020",
                kind: "radiology",
                paperName: "BraTS 2020",
                nTrain: 300,
                nTest: 41,
                strategies: brats,
            },
            { name: "BCSS", kind: "pathology", paperName: "BCSS", nTrain: 300, nTest: 41, strategies: make(50) },
        ],
    };
}

const chromium = findChromium();
if (!chromium) console.log("figures-fit: no chromium or chromium-browser on PATH; skipping");

(chromium ? test : test.skip)("every figure's text stays inside it and apart; the summary fits 1280 px", async () => {
    const bin = chromium as string;
    const out = mkdtempSync(path.join(os.tmpdir(), "sa-figures-fit-"));
    const profile = mkdtempSync(path.join(os.tmpdir(), "sa-chromium-profile-"));
    try {
        const files = await renderReport(stressRun(), out, { generatedAt: new Date("2024-01-02T03:04:05Z") });
        const svgs = files.figures.filter((f) => f.endsWith(".svg"));
        const kinds = new Set(svgs.map((f) => path.basename(f, ".svg").split("-")[0]));
        assert.ok(
            ["dice", "effort", "loss", "overlay"].every((k) => kinds.has(k)),
            `figure types: ${[...kinds]}`,
        );
        // one page with every figure, each tagged, measured by a script in the page
        const page = svgs
            .map((f) => readFileSync(path.join(out, f), "utf8").replace("<svg ", `<svg data-figure="${f}" `))
            .join("\n");
        const html = path.join(out, "measure.html");
        writeFileSync(
            html,
            `<!DOCTYPE html><html><body style="margin:0">${page}<script>${MEASURE_SCRIPT}</script></body></html>`,
        );
        /** The DOM of `file` after its scripts ran, in a 1280 px window. */
        const dumpDom = async (file: string) => {
            const window = ["--window-size=1280,1000", "--dump-dom", pathToFileURL(file).href];
            return (await runBinary(bin, [...headless(profile), ...window])).stdout;
        };
        const m = /<pre id="measured">([^<]*)<\/pre>/.exec(await dumpDom(html));
        assert.ok(m, "the measuring script ran");
        const measured = JSON.parse(
            String(m?.[1])
                .replace(/&quot;/g, '"')
                .replace(/&amp;/g, "&")
                .replace(/&lt;/g, "<")
                .replace(/&gt;/g, ">"),
        ) as MeasuredFigure[];
        assert.is(measured.length, svgs.length);
        const problems = measured.flatMap((f) => textProblems(f));
        assert.equal(problems, [], problems.join("\n"));
        for (const f of measured)
            assert.ok(f.width <= 1240, `${f.id} is ${f.width} px wide, wider than the report column`);

        // the report page at 1280 px: no horizontal scrolling of the page or of a summary table
        const report = pathToFileURL(path.join(out, files.html)).href;
        const fit = path.join(out, "fit.html");
        writeFileSync(
            fit,
            readFileSync(path.join(out, files.html), "utf8").replace(
                "</body>",
                `<script>const r={page:document.documentElement.scrollWidth,inner:window.innerWidth,summary:[...document.querySelectorAll("#summary .scroll")].map(e=>[e.scrollWidth,e.clientWidth])};const p=document.createElement("pre");p.id="fit";p.textContent=JSON.stringify(r);document.body.appendChild(p);</script></body>`,
            ),
        );
        const fm = /<pre id="fit">([^<]*)<\/pre>/.exec(await dumpDom(fit));
        const r = JSON.parse(String(fm?.[1]).replace(/&quot;/g, '"')) as {
            page: number;
            inner: number;
            summary: [number, number][];
        };
        assert.ok(r.page <= r.inner, `the page is ${r.page} px wide in a ${r.inner} px window`);
        for (const [sw, cw] of r.summary) assert.ok(sw <= cw, `a summary table needs ${sw} px in a ${cw} px column`);

        await runBinary(bin, [
            ...headless(profile),
            `--screenshot=${path.join(out, "report.png")}`,
            "--window-size=1280,2400",
            report,
        ]);
        console.log(`figures-fit: report, figures (PNG) and report.png in ${out}`);
    } finally {
        rmSync(profile, { recursive: true, force: true });
    }
});

test.run();
