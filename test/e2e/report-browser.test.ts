// The HTML report in a real browser: render a report of synthetic results, open report.html in
// headless Chromium, check the DOM it built (tables, inline figures, overlay images), that the
// console stayed clean, and take a screenshot (kept next to the report for a look).
// Skips itself when no `chromium` or `chromium-browser` is on PATH.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { readImage } from "@sam-ablate/image-io";
import { type ReportFiles, renderReport } from "@sam-ablate/report";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { findChromium, runBinary as run } from "../helpers/browser.js";
import { syntheticRun } from "../helpers/report-fixture.js";

/**
 * Console messages and uncaught exceptions in Chromium's stderr log ("INFO:CONSOLE:1] ..."; older
 * builds write "ERROR:CONSOLE(1)"). The report has no scripts, so any console line is a fault.
 */
function consoleErrors(stderr: string): string[] {
    return stderr.split("\n").filter((l) => /Uncaught|:CONSOLE[:(]/.test(l));
}

const chromium = findChromium();
if (!chromium)
    console.log(
        "report-browser: no chromium or chromium-browser on PATH; skipping (install Debian's chromium to run it)",
    );

(chromium ? test : test.skip)("report.html renders in headless Chromium with its tables and figures", async () => {
    const bin = chromium as string;
    const out = mkdtempSync(path.join(os.tmpdir(), "sa-report-browser-"));
    const profile = mkdtempSync(path.join(os.tmpdir(), "sa-chromium-profile-"));
    const files = await renderReport(syntheticRun(), out, { generatedAt: new Date("2024-01-02T03:04:05Z") });
    try {
        await checkInBrowser(bin, out, profile, files);
    } finally {
        rmSync(profile, { recursive: true, force: true });
    }
});

async function checkInBrowser(bin: string, out: string, profile: string, files: ReportFiles): Promise<void> {
    const url = pathToFileURL(path.join(out, files.html)).href;
    const common = ["--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", `--user-data-dir=${profile}`];
    const screenshot = path.join(out, "screenshot.png");
    const shot = await run(bin, [
        ...common,
        "--enable-logging=stderr",
        "--v=0",
        `--screenshot=${screenshot}`,
        "--window-size=1280,2000",
        url,
    ]);
    console.log(`report-browser: report and screenshot in ${out}`);
    assert.equal(consoleErrors(shot.stderr), [], "no console errors while rendering");

    const image = await readImage(screenshot);
    assert.equal([image.width, image.height], [1280, 2000]);
    const colours = new Set<number>();
    for (let i = 0; i < image.data.length; i += image.channels * 97) {
        colours.add(
            ((image.data[i] as number) << 16) | ((image.data[i + 1] as number) << 8) | (image.data[i + 2] as number),
        );
    }
    assert.ok(colours.size > 20, `the screenshot is not blank (${colours.size} colours sampled)`);

    const dom = await run(bin, [...common, "--enable-logging=stderr", "--v=0", "--dump-dom", url]);
    assert.equal(consoleErrors(dom.stderr), [], "no console errors while dumping the DOM");
    const html = dom.stdout;
    for (const caption of [
        "Table 3: IoU and Dice",
        "Table 4: IoU and Dice",
        "Table 5: IoU and Dice",
        "Paired comparisons on per-image Dice",
        "All strategies on BraTS 2020",
    ]) {
        assert.match(html, `<caption>${caption}`, caption);
    }
    const table3 = readFileSync(path.join(out, "tables/table3.md"), "utf8");
    const ours = table3
        .split("\n")
        .find((l) => l.includes("| ours"))
        ?.split("|")
        .map((c) => c.trim());
    assert.match(html, `<td class="num">${ours?.[5]}</td>`, "our first Table 3 Dice is in the page");
    assert.is(
        (html.match(/<svg /g) ?? []).length,
        files.figures.length / 2,
        "every figure is an inline SVG in the page",
    );
    assert.is(
        (html.match(/<image [^>]*href="data:image\/png;base64,/g) ?? []).length,
        2,
        "overlay images are data URIs",
    );
    for (const id of [
        "summary",
        "table3",
        "table4",
        "table5",
        "statistics",
        "boxplots",
        "effort",
        "loss",
        "overlays",
        "notes",
        "config",
    ]) {
        assert.match(html, `<section id="${id}">`, id);
    }
}

test.run();
