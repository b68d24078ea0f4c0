// renderReport end to end on synthetic results: the files it writes, the self-contained HTML with
// the tables and figures, and the failure on an unwritable folder.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ReportError, renderReport } from "@sam-ablate/report";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { syntheticRun } from "../helpers/report-fixture.js";

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function listFiles(dir: string, prefix = ""): string[] {
    return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? listFiles(path.join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`],
    );
}

test("writes tables, figures (SVG + PNG) and report.html, and nothing else", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "sa-report-"));
    try {
        const files = await renderReport(syntheticRun(), dir, { generatedAt: new Date("2024-01-02T03:04:05Z") });
        const onDisk = listFiles(dir).sort();
        assert.equal(onDisk, [...files.tables, ...files.figures, files.html].sort(), "no temporary files left");
        for (const t of ["table3", "table4", "table5", "statistics"]) {
            assert.ok(files.tables.includes(`tables/${t}.md`) && files.tables.includes(`tables/${t}.csv`), t);
        }
        assert.ok(files.tables.includes("tables/summary.csv"));
        for (const f of [
            "figures/dice-boxplot-brats-2020",
            "figures/dice-boxplot-phantom-pathology",
            "figures/effort",
            "figures/loss-brats-2020",
            "figures/overlay-brats-2020-points3_box-img000",
            "figures/overlay-brats-2020-points3_box-img001",
        ]) {
            assert.ok(files.figures.includes(`${f}.svg`) && files.figures.includes(`${f}.png`), f);
            const png = readFileSync(path.join(dir, `${f}.png`));
            assert.equal(Array.from(png.subarray(0, 8)), PNG_SIGNATURE, `${f}.png`);
            // The PNG is rendered at twice the SVG's size.
            const svgWidth = Number(
                /^<svg[^>]* width="([\d.]+)"/.exec(readFileSync(path.join(dir, `${f}.svg`), "utf8"))?.[1],
            );
            assert.is(png.readUInt32BE(16), Math.round(svgWidth * 2), `${f}.png width`);
        }
        assert.not.ok(
            files.figures.some((f) => f.startsWith("figures/loss-phantom")),
            "no loss curves, no figure",
        );
        const html = readFileSync(path.join(dir, "report.html"), "utf8");
        assert.match(html, "<title>Synthetic ablation</title>");
        assert.match(html, "2024-01-02T03:04:05.000Z");
        for (const title of [
            "Table 3: IoU and Dice",
            "Table 4: IoU and Dice",
            "Table 5: IoU and Dice",
            "Paired comparisons on per-image Dice",
        ]) {
            assert.match(html, `<caption>${title}`);
        }
        const table3 = readFileSync(path.join(dir, "tables/table3.md"), "utf8");
        const firstOurs = table3
            .split("\n")
            .find((l) => l.includes("| ours"))
            ?.split("|")
            .map((c) => c.trim());
        assert.ok(firstOurs);
        assert.match(html, `<td class="num">${firstOurs?.[5]}</td>`, "our Table 3 Dice appears in the HTML");
        assert.is((html.match(/<svg xmlns=/g) ?? []).length, files.figures.length / 2, "every figure inline");
        assert.is((html.match(/ href="data:image\/png;base64,/g) ?? []).length, 2, "overlay images inline");
        assert.match(html, "Best strategy by mean Dice: <b>50 pos + 50 neg + box</b>");
        assert.match(html, "centroid outside mask in 12% of images");
        assert.match(
            html,
            "BraTS 2020: 2 test image(s) excluded for an empty ground truth (MONAI ignore_empty), in every strategy.",
        );
        assert.match(html, "&lt;synthetic &amp; small&gt;", "configuration escaped");
        assert.not.match(html, /<script|<link|src="http|href="http|url\(/i, "no scripts, no external resources");
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
});

test("spread option reaches the Markdown tables", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "sa-report-"));
    try {
        await renderReport(syntheticRun(), dir, { spread: "std" });
        assert.match(readFileSync(path.join(dir, "tables/table4.md"), "utf8"), / ± \d+\.\d{3}/);
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
});

test("an output path that is a file fails with ERR_SA_REPORT_WRITE naming the file", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "sa-report-"));
    try {
        const blocker = path.join(dir, "not-a-folder");
        writeFileSync(blocker, "x");
        try {
            await renderReport(syntheticRun(), blocker);
            assert.unreachable("should throw");
        } catch (err) {
            assert.instance(err, ReportError);
            assert.is((err as ReportError).code, "ERR_SA_REPORT_WRITE");
            assert.match((err as Error).message, path.join(blocker, "tables", "table3.md"));
        }
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
});

test("inconsistent results are refused before anything is written", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "sa-report-"));
    try {
        const run = syntheticRun();
        const sample = run.datasets[0]?.strategies[1]?.samples?.[0];
        assert.ok(sample);
        sample.image = new Uint8Array(5);
        await renderReport(run, dir).then(
            () => assert.unreachable("should throw"),
            (err: unknown) => {
                assert.is((err as ReportError).code, "ERR_SA_REPORT_INPUT");
                assert.match((err as Error).message, "sample img000: image has 5 bytes");
            },
        );
        assert.equal(readdirSync(dir), []);
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
});

test.run();
