// Cross-validation in plans and in the report: `folds` on a dataset (which folds to run is not part
// of the run's fingerprint; a plan without folds hashes as before), and a report that pools the
// folds' test images and summarises the per-fold and per-seed means.
import { buildRunResults, overview, overviewCsv, overviewTextTable } from "@sam-ablate/report";
import type { UnitRecord } from "@sam-ablate/run-folder";
import { foldsToRun, parseFolds, planFingerprint, planUnits, presetPlan, resolvePlan } from "@sam-ablate/train";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { expectThrowsCode } from "../helpers/expect-code.js";

const planError = (fn: () => unknown, pattern: RegExp) => expectThrowsCode(fn, "ERR_SA_PLAN", pattern);

const phantom = { name: "mri", kind: "radiology", source: { type: "phantom", patients: 6 } };

test("parseFolds: all, a number, a list, command-line text; errors name the field", () => {
    assert.is(parseFolds("all"), "all");
    assert.equal(parseFolds(2), [2]);
    assert.equal(parseFolds("1"), [1]);
    assert.equal(parseFolds("2,0"), [0, 2]);
    assert.equal(parseFolds([1, 0]), [0, 1]);
    planError(() => parseFolds("3", "--fold", 3), /--fold: expected "all" or fold numbers in 0\.\.2/);
    planError(() => parseFolds(-1), /--fold/);
    planError(() => parseFolds("1.5"), /--fold/);
    planError(() => parseFolds([0, 0]), /repeat/);
    planError(() => parseFolds([]), /empty list/);
});

test("plans: folds and foldCount on a dataset", () => {
    const p = resolvePlan({ datasets: [{ ...phantom, folds: "all", foldCount: 3 }] });
    assert.is(p.datasets[0]?.folds, "all");
    assert.is(p.datasets[0]?.foldCount, 3);
    assert.equal(foldsToRun(p.datasets[0] as never, 3), [0, 1, 2]);
    const q = resolvePlan({ datasets: [{ ...phantom, folds: [0, 1], foldCount: 3 }] });
    assert.equal(foldsToRun(q.datasets[0] as never, 3), [0, 1]);
    // without folds: the one split
    assert.equal(foldsToRun(resolvePlan({ datasets: [phantom] }).datasets[0] as never, undefined), [undefined]);
    planError(() => resolvePlan({ datasets: [{ ...phantom, folds: [3], foldCount: 3 }] }), /datasets\[0\]\.folds/);
    planError(() => resolvePlan({ datasets: [{ ...phantom, foldCount: 3 }] }), /foldCount: needs `folds`/);
    planError(() => resolvePlan({ datasets: [{ ...phantom, folds: "some" }] }), /datasets\[0\]\.folds/);
    planError(
        () =>
            resolvePlan({
                datasets: [
                    {
                        name: "x",
                        kind: "radiology",
                        source: { type: "prepared", dir: "d" },
                        folds: "all",
                        foldCount: 3,
                    },
                ],
            }),
        /manifest gives the number of folds/,
    );
    // a fold beyond a prepared manifest's K is an error when the folds are listed
    try {
        foldsToRun({ ...(q.datasets[0] as object), folds: [4] } as never, 3);
        assert.unreachable();
    } catch (e) {
        assert.is((e as { code?: string }).code, "ERR_SA_DATASET");
        assert.match((e as Error).message, /fold 4 does not exist \(the dataset has folds 0\.\.2\)/);
    }
});

test("fingerprint: plans without folds hash as before; the folds a call runs are not hashed", () => {
    // the values of these presets before cross-validation existed: their run folders resume
    assert.is(planFingerprint(presetPlan("paper")), "fa989218d8fabd85");
    assert.is(planFingerprint(presetPlan("quick")), "2653da88d1f1a0c8");
    assert.is(planFingerprint(presetPlan("demo")), "12666ef968eaf577");
    const base = resolvePlan({ datasets: [phantom] });
    const all = resolvePlan({ datasets: [{ ...phantom, folds: "all", foldCount: 3 }] });
    const one = resolvePlan({ datasets: [{ ...phantom, folds: [1], foldCount: 3 }] });
    const five = resolvePlan({ datasets: [{ ...phantom, folds: "all", foldCount: 5 }] });
    assert.is(planFingerprint(all), planFingerprint(one));
    assert.is.not(planFingerprint(all), planFingerprint(base));
    assert.is.not(planFingerprint(all), planFingerprint(five));
});

test("units: a cross-validated dataset has train and zeroshot units per fold, the fold appended to the key", () => {
    const plan = resolvePlan({
        datasets: [{ ...phantom, folds: [0, 2], foldCount: 3, strategies: ["box"] }],
        training: { seeds: [0] },
    });
    const ids = planUnits(plan)
        .filter((u) => u.kind === "train" || u.kind === "zeroshot")
        .map((u) => [u.id, u.fold]);
    assert.equal(ids, [
        ["zeroshot/mri/box/fold0", 0],
        ["train/mri/box/seed0/fold0", 0],
        ["zeroshot/mri/box/fold2", 2],
        ["train/mri/box/seed0/fold2", 2],
    ]);
    // without folds the ids are as before
    const plain = planUnits(resolvePlan({ datasets: [{ ...phantom, strategies: ["box"] }], training: { seeds: [0] } }));
    assert.ok(plain.some((u) => u.id === "train/mri/box/seed0" && u.fold === undefined));
});

function unit(fold: number | undefined, seed: number, dice: number[], over: Partial<UnitRecord> = {}): UnitRecord {
    const tag = fold ?? "x";
    const perImage = dice.map((d, i) => ({ imageId: `f${tag}-i${i}`, patient: `p${tag}`, dice: d, iou: d / 2 }));
    const mean = dice.reduce((a, b) => a + b, 0) / dice.length;
    return {
        dataset: "mri",
        strategy: "box",
        label: "Box",
        seed,
        ...(fold === undefined ? {} : { fold }),
        perImage,
        excluded: 0,
        meanDice: mean,
        meanIou: mean / 2,
        epochLosses: [1],
        trainSeconds: 1,
        evalSeconds: 1,
        promptSummary: {},
        samples: [],
        ...over,
    };
}

async function results(records: UnitRecord[], folds?: number, zeroShot = false) {
    return buildRunResults({
        title: "t",
        createdBy: "test",
        config: {},
        datasets: [{ name: "mri", kind: "radiology", nTrain: 4, nTest: 4, ...(folds ? { folds } : {}) }],
        records,
        predictionsDir: () => "/nonexistent",
        ...(zeroShot
            ? {
                  zeroShot: (_d: string, _s: string, fold?: number) => ({
                      perImage: [0, 1].map((i) => ({
                          imageId: `f${fold}-i${i}`,
                          patient: `p${fold}`,
                          dice: 0.1,
                          iou: 0.05,
                      })),
                      excluded: 0,
                  }),
              }
            : {}),
    });
}

test("report: folds pooled, seeds averaged within a fold, per-fold and per-seed spread", async () => {
    const r = await results(
        [unit(0, 0, [0.6, 0.8]), unit(0, 1, [0.4, 0.6]), unit(2, 0, [0.9, 0.9]), unit(2, 1, [0.7, 0.7])],
        3,
        true,
    );
    const d = r.datasets[0];
    assert.equal(d?.folds, { k: 3, evaluated: [0, 2] });
    const s = d?.strategies[0];
    assert.ok(s);
    assert.equal(s.seeds, [0, 1]);
    // fold 0: images 0.5, 0.7 (seed means per image); fold 2: 0.8, 0.8
    assert.equal(
        s.perImage.map((p) => Number((p.dice as number).toFixed(6))),
        [0.5, 0.7, 0.8, 0.8],
    );
    assert.equal(
        s.folds?.map((f) => [f.fold, f.n, Number(f.dice.toFixed(6))]),
        [
            [0, 2, 0.6],
            [2, 2, 0.8],
        ],
    );
    assert.is(s.zeroShot?.perImage.length, 4, "the baseline of every evaluated fold");
    assert.ok(s.notes?.some((n) => n.startsWith("fold 0: mean Dice per seed")));
    const ov = overview(r);
    const table = overviewTextTable(ov[0] as never);
    const fc = table.headers.indexOf("Dice across folds: mean ± std (folds)");
    const sc = table.headers.indexOf("Dice across seeds: mean ± std (seeds)");
    assert.ok(fc > 0 && sc === fc + 1);
    // folds: 60 and 80 -> 70 ± 14.142; seeds: seed 0 (70 + 90) / 2 = 80, seed 1 (50 + 70) / 2 = 60 -> 70 ± 14.142
    assert.is(table.rows[0]?.[fc], "70.000 ± 14.142 (2)");
    assert.is(table.rows[0]?.[sc], "70.000 ± 14.142 (2)");
    const [head, row] = overviewCsv(ov).trim().split("\n");
    const cells = Object.fromEntries((head as string).split(",").map((h, i) => [h, (row as string).split(",")[i]]));
    assert.is(cells.folds_evaluated, "0 2");
    assert.ok(Math.abs(Number(cells.fold_dice_mean_pct) - 70) < 1e-5);
    assert.ok(Math.abs(Number(cells.fold_dice_std_pct) - Math.SQRT2 * 10) < 1e-5);
    assert.ok(Math.abs(Number(cells.seed_dice_mean_pct) - 70) < 1e-5);
});

test("report: a run without folds has no fold level, columns or notes", async () => {
    const r = await results([unit(undefined, 0, [0.6, 0.8]), unit(undefined, 1, [0.4, 0.6])]);
    const d = r.datasets[0];
    assert.is(d?.folds, undefined);
    assert.is(d?.strategies[0]?.folds, undefined);
    assert.equal(
        d?.strategies[0]?.perImage.map((p) => Number((p.dice as number).toFixed(6))),
        [0.5, 0.7],
    );
    const ov = overview(r);
    assert.not.ok(overviewTextTable(ov[0] as never).headers.some((h) => /fold/.test(h)));
    assert.not.ok(/fold/.test(overviewCsv(ov).split("\n")[0] as string));
});

test.run();
