// Patient-level cross-validation through the CLI: `prepare --folds 3` on phantoms, two folds trained
// by separate `ablate --fold k` calls into one run folder, and a report that pools the folds' test
// images and summarises the folds (mean and spread across folds); `eval --fold` scores a fold alone.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { expectCliError, prepareFolds, runCliOk, runCliProcess } from "../helpers/cli.js";
import { readJson as json, readCsv } from "../helpers/phantom-plan.js";
import { scratchDir } from "../helpers/scratch.js";

const tmp = scratchDir("sa-cv-");
const data = path.join(tmp, "mri");
const run = path.join(tmp, "run");
const plan = path.join(tmp, "plan.json");

test("prepare --folds 3 (the folds' manifest is checked in detail by prepare-folds.test.ts)", async () => {
    await prepareFolds(data, 3);
});

test("two folds trained one call each aggregate in one report", async () => {
    writeFileSync(
        plan,
        JSON.stringify({
            name: "cv",
            datasets: [
                {
                    name: "mri",
                    kind: "radiology",
                    source: { type: "prepared", dir: data },
                    folds: "all",
                    maxTrain: 3,
                    maxTest: 2,
                    strategies: ["box"],
                },
            ],
            training: { epochs: 1, stepsPerEpoch: 2 },
            validation: "none",
            report: { samplesPerStrategy: 1 },
        }),
    );
    for (const fold of ["0", "1"]) {
        const r = await runCliOk(["ablate", "--plan", plan, "--out", run, "--fold", fold, "--threads", "2"]);
        assert.match(r.stderr, new RegExp(`mri box fold ${fold} seed 0: Dice`));
    }
    const f0 = json(path.join(run, "results", "mri", "box", "fold0", "seed0", "result.json"));
    const f1 = json(path.join(run, "results", "mri", "box", "fold1", "seed0", "result.json"));
    assert.equal([f0.fold, f1.fold], [0, 1]);
    const p0 = new Set(f0.perImage.map((p: { patient: string }) => p.patient));
    assert.ok(
        f1.perImage.every((p: { patient: string }) => !p0.has(p.patient)),
        "folds share a test patient",
    );
    assert.not.ok(existsSync(path.join(run, "results", "mri", "box", "fold2")), "fold 2 was not asked for");
    assert.ok(existsSync(path.join(run, "results", "mri", "box", "fold1", "zeroshot", "result.json")));

    const summary = readCsv(path.join(run, "report", "tables", "summary.csv"));
    const box = summary.find((s) => s.strategy_id === "box");
    assert.ok(box);
    assert.is(box.folds_evaluated, "0 1");
    const means: [number, number] = [f0.meanDice * 100, f1.meanDice * 100];
    const mu = (means[0] + means[1]) / 2;
    assert.ok(Math.abs(Number(box.fold_dice_mean_pct) - mu) < 1e-5);
    assert.ok(Math.abs(Number(box.fold_dice_std_pct) - Math.abs(means[0] - means[1]) / Math.SQRT2) < 1e-5);
    assert.is(Number(box.n), f0.perImage.length - f0.excluded + f1.perImage.length - f1.excluded, "pooled test images");
    // the report command rebuilds the same summary from the run folder
    await runCliOk(["report", run, "--json"]);
    assert.equal(readCsv(path.join(run, "report", "tables", "summary.csv")), summary);
    const rows = readCsv(path.join(run, "per-image.csv"));
    assert.equal([...new Set(rows.map((x) => x.fold))].sort(), ["0", "1"]);
    const html = readFileSync(path.join(run, "report", "report.html"), "utf8");
    assert.match(html, /cross-validation: 2 of 3 folds evaluated/);
    assert.match(html, /Dice across folds/);
});

test("eval --fold 1 scores that fold's test patients with the run's prompts", async () => {
    const evalBox = ["eval", "--data", data, "--strategy", "box", "--fold"];
    const r = await runCliOk([...evalBox, "1", "--max-test", "2", "--cache-dir", path.join(run, "cache"), "--json"]);
    const out = JSON.parse(r.stdout);
    assert.is(out.fold, 1);
    assert.is(out.embeddings.reused, true);
    assert.is(
        out.results[0].dice,
        json(path.join(run, "results", "mri", "box", "fold1", "zeroshot", "result.json")).meanDice,
    );
    const bad = await runCliProcess([...evalBox, "3", "--json"]);
    expectCliError(bad, undefined, /ERR_SA_USAGE/, /--fold: expected \\"all\\" or fold numbers in 0\.\.2/);
});

test("--fold on a run whose plan has no folds, or a dataset without folds, is a usage error", async () => {
    const noFolds = path.join(tmp, "plain.json");
    writeFileSync(
        noFolds,
        JSON.stringify({
            name: "plain",
            datasets: [{ name: "mri", kind: "radiology", source: { type: "prepared", dir: data } }],
        }),
    );
    const plain = path.join(tmp, "plain");
    const a = await runCliProcess(["ablate", "--plan", noFolds, "--out", plain, "--fold", "0", "--json"]);
    expectCliError(a, undefined, /ERR_SA_USAGE/, /no dataset of the plan is cross-validated/);
    const flat = path.join(tmp, "flat");
    await runCliOk(["prepare", "phantom-radiology", "--out", flat, "--patients", "3", "--json"]);
    const t = await runCliProcess(["train", "--data", flat, "--strategy", "box", "--fold", "0", "--json"]);
    expectCliError(t, undefined, /has no folds \(prepare it with --folds K\)/);
});

test.run();
