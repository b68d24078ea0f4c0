// The architecture arms in the report: the table "Architecture modifications (Table 1 IDs 9-11)"
// beside Tables 3-5, their place in Figure 10 (effort level, against the prompt strategies' average),
// and the `architectures` preset.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import {
    buildComparisonTables,
    comparisonTableCsv,
    comparisonTableMarkdown,
    effortData,
    effortOf,
    parseEffortTable,
    type RunResults,
    renderReport,
} from "@sam-ablate/report";
import { presetPlan, resolvePlan, strategiesFor } from "@sam-ablate/train";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { strategy, syntheticRun } from "../helpers/report-fixture.js";

function withArms(): RunResults {
    const run = syntheticRun();
    const brats = run.datasets[0];
    assert.ok(brats);
    brats.strategies.push(
        strategy("head:linear", "Linear head", 0.3, 40, 31, 2),
        strategy("head:cnn2", "CNN head, depth 2", 0.5, 40, 32, 2),
        strategy("head:autosam", "AutoSAM", 0.6, 40, 33, 2),
        strategy("lora4_box", "LoRA r4 + box", 0.8, 40, 34, 2),
    );
    return run;
}

test("the architecture table lists the tight box and every arm in Table 1 order, with no paper row", () => {
    const plain = buildComparisonTables(syntheticRun());
    assert.equal(
        plain.map((t) => t.id),
        ["table3", "table4", "table5"],
        "no architecture table without arms",
    );
    const tables = buildComparisonTables(withArms());
    assert.equal(
        tables.map((t) => t.id),
        ["table3", "table4", "table5", "architectures"],
    );
    const t = tables[3];
    assert.ok(t);
    assert.match(t.title, /^Architecture modifications \(Table 1 IDs 9-11\)/);
    const brats = t.rows.filter((r) => r.dataset === "BraTS 2020");
    assert.equal(
        brats.map((r) => [r.experiment, r.main?.strategyId]),
        [
            ["Baseline: decoder fine-tuned with the tight box", "box"],
            ["ID 9: AutoSAM (decoder without prompt)", "head:autosam"],
            ["ID 10: CNN head, depth 2", "head:cnn2"],
            ["ID 10: Linear head", "head:linear"],
            ["ID 11: LoRA r4 in the encoder + box", "lora4_box"],
        ],
    );
    assert.ok(
        t.rows.every((r) => r.source === "ours"),
        "the paper has no results for IDs 9-11",
    );
    // the phantom dataset ran the box only: its baseline row, no arm rows
    assert.equal(
        t.rows.filter((r) => r.dataset === "phantom pathology").map((r) => r.main?.strategyId),
        ["box"],
    );
    const cnn = brats.find((r) => r.main?.strategyId === "head:cnn2");
    assert.ok(cnn?.main?.dice !== null && Math.abs((cnn?.main?.dice as number) - 50) < 10);
    assert.is(cnn?.main?.n, 40);
    assert.is(cnn?.main?.excluded, 2);
    const md = comparisonTableMarkdown(t);
    assert.match(md, /\| ID 10: CNN head, depth 2 +\| BraTS 2020 +\| ours +\| head:cnn2 +\|/);
    assert.match(md, /without results: there is no paper row/);
    assert.not.match(md, /numbers \(same domain\) are shown for reference/);
    assert.match(
        comparisonTableCsv(t),
        /\nID 9: AutoSAM \(decoder without prompt\),BraTS 2020,BraTS 2020,head:autosam,/,
    );
    // the arms are not in Tables 3-5
    for (const other of tables.slice(0, 3))
        assert.not.ok(other.rows.some((r) => /^(head:|lora)/.test(r.main?.strategyId ?? "")));
});

test("Figure 10 places the arms by effort against the prompt strategies' average", () => {
    const run = withArms();
    const before = effortData(syntheticRun());
    const data = effortData(run);
    const at = (
        d: { points: { dataset: string; strategyId: string; average: number; effort: string }[] },
        id: string,
    ) => d.points.find((p) => p.dataset === "BraTS 2020" && p.strategyId === id);
    assert.is(at(data, "head:cnn2")?.effort, "medium");
    assert.is(at(data, "head:autosam")?.effort, "medium");
    assert.is(at(data, "head:linear")?.effort, "medium");
    assert.is(at(data, "lora4_box")?.effort, "high");
    // the arms do not move the prompt strategies' average
    assert.is(at(data, "box")?.average, at(before, "box")?.average);
    assert.is(at(data, "head:cnn2")?.average, at(before, "box")?.average);
    assert.equal(data.unplaced, []);
    // an effort table overrides the defaults
    assert.is(effortOf("head:cnn2", parseEffortTable({ "head:cnn2": "low" }, "e.json")), "low");
    assert.is(effortOf("wibble"), undefined);
});

test("the report shows the architecture table beside Tables 3-5", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "sa-report-arch-"));
    try {
        const files = await renderReport(withArms(), dir);
        assert.ok(
            files.tables.includes("tables/architectures.md") && files.tables.includes("tables/architectures.csv"),
        );
        const html = readFileSync(path.join(dir, "report.html"), "utf8");
        const at = (s: string) => html.indexOf(s);
        assert.ok(at('<section id="architectures">') > at('<section id="table5">'), "after Table 5");
        assert.ok(at('<section id="architectures">') < at('<section id="statistics">'), "before the statistics");
        assert.match(html, '<a href="#architectures">Architecture modifications (Table 1 IDs 9-11)</a>');
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
});

test("the architectures preset: both demo datasets, the tight box and the arms, demo-sized", () => {
    const plan = presetPlan("architectures");
    const demo = presetPlan("demo");
    assert.is(plan.name, "architectures");
    assert.equal(
        plan.datasets.map((d) => [d.name, d.maxTrain, d.maxTest]),
        demo.datasets.map((d) => [d.name, d.maxTrain, d.maxTest]),
    );
    for (const d of plan.datasets) {
        assert.equal(
            strategiesFor(plan, d).map((a) => a.id),
            ["box", "head:autosam", "head:cnn1", "head:cnn2", "head:cnn4", "head:linear", "lora4_box"],
        );
    }
    assert.is(plan.training.epochs, demo.training.epochs);
    assert.is(plan.training.headLr, 1e-3);
    // a plan extends it and keeps validating
    const p = resolvePlan({ extends: "architectures", training: { headLr: 5e-4 } });
    assert.is(p.training.headLr, 5e-4);
    assert.throws(
        () => resolvePlan({ extends: "architectures", training: { loss: "sam" } }),
        /'sam' needs an IoU prediction.*head:cnn1/,
    );
});

test.run();
