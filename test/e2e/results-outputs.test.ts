// What a researcher takes from a run: the zero-shot baseline beside every fine-tuned strategy (same
// prompts, same images), the run-level per-image table in long format, Table 3 with ours and the
// paper's numbers in separate columns, saved predictions as PNG; and `eval` on a run's prepared
// dataset: the kind from the manifest, the run's embedding cache reused, the same numbers as the run.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { readLabelImage } from "@sam-ablate/image-io";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { expectCliError, runCliOk, runCliProcess } from "../helpers/cli.js";
import { readJson as json, readCsv, writePhantomPlan } from "../helpers/phantom-plan.js";
import { scratchDir } from "../helpers/scratch.js";

const tmp = scratchDir("sa-results-");
const run = path.join(tmp, "run");
const plan = writePhantomPlan(tmp, "outputs", ["points3", "box"], { epochs: 1, stepsPerEpoch: 3 }, { maxTest: 3 });
const patches = path.join(run, "data", "mri", "patches");

test("ablate: zero-shot records, per-image.csv in long format, tables with the zero-shot column, PNG predictions", async () => {
    await runCliOk(["ablate", "--plan", plan, "--out", run, "--threads", "2", "--save-predictions", "all"]);
    for (const s of ["points3", "box"]) {
        const zs = json(path.join(run, "results", "mri", s, "zeroshot", "result.json"));
        const ft = json(path.join(run, "results", "mri", s, "seed0", "result.json"));
        assert.equal(
            zs.perImage.map((p: { imageId: string; prompt: unknown }) => [p.imageId, p.prompt]),
            ft.perImage.map((p: { imageId: string; prompt: unknown }) => [p.imageId, p.prompt]),
            `${s}: the zero-shot baseline saw other images or prompts`,
        );
        assert.ok(zs.meanDice >= 0 && zs.meanDice <= 1);
        // --save-predictions all: one binary PNG per scored test image
        const scored = ft.perImage.filter((p: { dice: number | null }) => p.dice !== null);
        const pngs = readdirSync(path.join(run, "results", "mri", s, "seed0", "predictions"));
        assert.is(pngs.length, scored.length);
        const mask = await readLabelImage(
            path.join(run, "results", "mri", s, "seed0", "predictions", pngs[0] as string),
        );
        assert.ok(
            mask.data.every((v) => v === 0 || v === 255),
            "predictions are 0/255 masks",
        );
    }
    const rows = readCsv(path.join(run, "per-image.csv"));
    assert.equal(Object.keys(rows[0] ?? {}).slice(0, 6), [
        "dataset",
        "strategy",
        "decoder",
        "seed",
        "image_id",
        "patient",
    ]);
    assert.is(rows.length, 2 * 2 * 3, "2 strategies x (zero-shot + 1 seed) x 3 test images");
    const ftRow = rows.find((x) => x.strategy === "box" && x.decoder === "fine-tuned");
    assert.ok(ftRow && ftRow.seed === "0" && ftRow.prompt_box === "1" && ftRow.prompt_positives === "0");
    const box = json(path.join(run, "results", "mri", "box", "seed0", "result.json"));
    const first = box.perImage.find((p: { imageId: string }) => p.imageId === ftRow.image_id);
    assert.ok(
        Math.abs(Number(ftRow.dice_pct) - first.dice * 100) < 1e-9,
        "dice_pct is the percentage of the record's fraction",
    );

    const summary = readCsv(path.join(run, "report", "tables", "summary.csv"));
    for (const s of summary) {
        assert.ok(
            s.zeroshot_dice_mean_pct !== "" && s.gain_dice_mean_pp !== "",
            `${s.strategy_id}: zero-shot columns empty`,
        );
        const gain = Number(s.dice_mean_pct) - Number(s.zeroshot_dice_mean_pct);
        assert.ok(
            Math.abs(gain - Number(s.gain_dice_mean_pp)) < 1e-6,
            "gain = fine-tuned - zero-shot over the same images",
        );
    }
    const t3 = readCsv(path.join(run, "report", "tables", "table3.csv"));
    assert.ok(t3[0]?.ours_zeroshot_dice_pct !== "" && t3[0]?.paper_dice_pct !== "");
    const html = readFileSync(path.join(run, "report", "report.html"), "utf8");
    assert.match(html, /Dice zero-shot/);
    assert.match(html, /fine-tuned vs zero-shot/);
});

test("eval: kind from the manifest, the run's cache reused, the run's numbers (pretrained and fine-tuned)", async () => {
    const zs = await runCliOk(["eval", "--data", patches, "--strategy", "points3", "box", "--max-test", "3", "--json"]);
    const out = JSON.parse(zs.stdout);
    assert.is(out.kind, "radiology");
    assert.is(out.embeddings.reused, true, "the run's embedding cache was not found");
    assert.ok(String(out.embeddings.file).startsWith(path.join(run, "cache")), out.embeddings.file);
    for (const r of out.results) {
        const rec = json(path.join(run, "results", "mri", r.strategy, "zeroshot", "result.json"));
        assert.is(r.dice, rec.meanDice, `${r.strategy}: eval and the run's zero-shot baseline differ`);
    }

    const dir = path.join(tmp, "eval-box");
    const decoder = path.join(run, "results", "mri", "box", "seed0", "decoder.safetensors");
    const evalBox = ["eval", "--data", patches, "--strategy", "box", "--max-test", "3", "--decoder", decoder];
    const ft = await runCliOk([...evalBox, "--zero-shot", "--out", dir, "--json"]);
    const res = JSON.parse(ft.stdout).results[0];
    assert.is(res.dice, json(path.join(run, "results", "mri", "box", "seed0", "result.json")).meanDice);
    assert.is(res.zeroShot.dice, json(path.join(run, "results", "mri", "box", "zeroshot", "result.json")).meanDice);
    for (const f of [
        "per-image.csv",
        "result.json",
        "report/tables/table4.csv",
        "report/tables/summary.csv",
        "report/report.html",
    ]) {
        assert.ok(existsSync(path.join(dir, f)), `eval --out: missing ${f}`);
    }
    const rows = readCsv(path.join(dir, "per-image.csv"));
    assert.equal([...new Set(rows.map((x) => x.decoder))].sort(), ["fine-tuned", "pretrained"]);
});

test("eval: a --kind that contradicts the manifest is an error with a code", async () => {
    const r = await runCliProcess(["eval", "--data", patches, "--strategy", "box", "--kind", "pathology", "--json"]);
    expectCliError(r, undefined, /ERR_SA_USAGE/, /manifest describes a radiology dataset/);
});

test.run();
