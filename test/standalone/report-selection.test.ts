// The report's model selection: the best-val and last test Dice side by side with the epoch chosen
// (HTML and tables/selection.csv), and one small-multiple learning-curves figure per validated dataset
// with the selected epoch marked. A run without validation says so and draws no curves.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { learningCurvesFigure, renderReport, type SelectionResult, selectionTextTable } from "@sam-ablate/report";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { syntheticRun } from "../helpers/report-fixture.js";

function validated() {
    const run = syntheticRun();
    const brats = run.datasets[0];
    assert.ok(brats);
    brats.strategies.forEach((s, k) => {
        const curve = Array.from({ length: 12 }, (_, e) => ({ epoch: e + 1, dice: 0.7 + 0.1 * Math.sin((e + k) / 3) }));
        const best = curve.reduce((a, p) => (p.dice > a.dice ? p : a));
        const sel: SelectionResult = {
            mode: "best-val",
            bestValDice: 0.8 + k / 100,
            lastDice: 0.75,
            bestValIou: 0.7,
            lastIou: 0.65,
            epochs: [best.epoch],
            valDice: [best.dice],
            stoppedAtEpoch: [k === 2 ? 9 : null],
            curve,
            valSeconds: 3,
            valPatients: 2,
            valImages: 10,
        };
        s.selection = sel;
    });
    return run;
}

test("selection table: best-val beside last, the epoch chosen, early stop, validation share of training time", () => {
    const run = validated();
    const t = selectionTextTable(run.datasets[0] as never);
    assert.ok(t);
    assert.equal(t?.headers.slice(3, 7), ["Test Dice best-val", "Test Dice last", "best-val - last", "Epoch chosen"]);
    const boxRow = t?.rows.find((r) => r[1] === "box");
    const box = run.datasets[0]?.strategies.find((s) => s.id === "box");
    assert.ok(boxRow && box?.selection);
    assert.is(boxRow?.[3], ((box?.selection?.bestValDice ?? 0) * 100).toFixed(3));
    assert.is(boxRow?.[4], "75.000");
    assert.is(boxRow?.[6], String(box?.selection?.epochs[0]));
    assert.is(boxRow?.[10], `${((100 * 3) / (box?.trainSeconds ?? 1)).toFixed(1)}%`);
    assert.is(t?.rows.find((r) => r[1] === "points10")?.[8], "9", "stopped at epoch");
    assert.is(selectionTextTable(run.datasets[1] as never), undefined, "no validation, no table");
});

test("learning curves: one panel per strategy, the selected epoch marked on its validation point", () => {
    const run = validated();
    const svg = learningCurvesFigure(run.datasets[0] as never) as string;
    assert.ok(svg);
    const n = run.datasets[0]?.strategies.length ?? 0;
    assert.is((svg.match(/<g><title>/g) ?? []).length, n, "one panel per strategy");
    // every panel: a loss path, a validation path, and a selected-epoch marker
    assert.is((svg.match(/stroke="#0072B2" stroke-width="1.8"/g) ?? []).length, n);
    assert.is((svg.match(/stroke="#D55E00" stroke-width="1.8"/g) ?? []).length, n);
    assert.is((svg.match(/<circle[^>]*fill="none" stroke="#009E73"/g) ?? []).length, n + 1, "markers (+ the legend's)");
    assert.match(svg, "stopped at epoch 9");
    // the marker of the first panel sits on the first panel's best validation point
    const markers = [...svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)" r="4.5" fill="none"/g)].map((m) => [
        Number(m[1]),
        Number(m[2]),
    ]);
    const dots = [...svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)" r="2.2"/g)].map((m) => [
        Number(m[1]),
        Number(m[2]),
    ]);
    const first = markers[1] as number[];
    assert.ok(
        dots.some(([x, y]) => x === first[0] && y === first[1]),
        "marker on a validation point",
    );
});

test("report: selection section, selection.csv and curves figures only where validated", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "sa-report-sel-"));
    try {
        const files = await renderReport(validated(), dir);
        assert.ok(files.tables.includes("tables/selection.csv"));
        assert.ok(
            files.figures.includes("figures/curves-brats-2020.svg") &&
                files.figures.includes("figures/curves-brats-2020.png"),
        );
        assert.not.ok(files.figures.some((f) => f.startsWith("figures/curves-phantom")));
        const csv = readFileSync(path.join(dir, "tables/selection.csv"), "utf8").trim().split("\n");
        assert.is(csv.length, 1 + 8, "header + one row per validated strategy");
        assert.match(
            csv[0] as string,
            /^dataset,strategy_id,label,selection,test_dice_best_val_pct,test_dice_last_pct,/,
        );
        const html = readFileSync(path.join(dir, "report.html"), "utf8");
        assert.match(html, '<section id="selection"><h2>Model selection and learning curves</h2>');
        assert.match(html, "Test Dice last</th>");
        assert.match(html, "Learning curves: BraTS 2020");
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
    const plain = mkdtempSync(path.join(os.tmpdir(), "sa-report-nosel-"));
    try {
        const files = await renderReport(syntheticRun(), plain);
        assert.not.ok(files.tables.includes("tables/selection.csv"));
        assert.not.ok(files.figures.some((f) => f.startsWith("figures/curves-")));
        assert.match(readFileSync(path.join(plain, "report.html"), "utf8"), "No validation split (validation: none)");
    } finally {
        rmSync(plain, { recursive: true, force: true });
    }
});

test.run();
