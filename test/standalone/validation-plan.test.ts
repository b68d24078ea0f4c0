// Plans: the validation block, early stopping and learning-rate schedules; the patient-level
// validation split.
import { planFingerprint, presetPlan, resolvePlan, scheduledLr, splitValidationPatients } from "@sam-ablate/train";
import { test } from "uvu";
import * as assert from "uvu/assert";

test("presets: the paper's protocol has no validation; quick and demo validate with best-val selection", () => {
    assert.is(presetPlan("paper").validation, "none");
    assert.equal(presetPlan("paper").training.schedule, { type: "constant" });
    for (const p of ["quick", "demo"] as const) {
        const v = presetPlan(p).validation;
        assert.ok(v !== "none");
        assert.is(v.selection, "best-val");
        assert.ok(v.fraction >= 0.1 && v.fraction <= 0.2);
    }
});

test("resolvePlan: validation none, settings, schedules, errors naming the field", () => {
    assert.is(resolvePlan({ validation: "none" }).validation, "none");
    const v = resolvePlan({
        extends: "paper",
        validation: { fraction: 0.2, everySteps: 25, selection: "last", patience: 5, minDelta: 0.002 },
    }).validation;
    assert.equal(v, { fraction: 0.2, everySteps: 25, maxImages: 64, selection: "last", patience: 5, minDelta: 0.002 });
    assert.equal(resolvePlan({ training: { schedule: "cosine" } }).training.schedule, { type: "cosine", minLr: 0 });
    assert.equal(
        resolvePlan({ training: { schedule: { type: "step", everyEpochs: 10, gamma: 0.5 } } }).training.schedule,
        { type: "step", everyEpochs: 10, gamma: 0.5 },
    );
    const bad: [unknown, RegExp][] = [
        [{ validation: { fraction: 1.5 } }, /validation\.fraction/],
        [{ validation: { selection: "best" } }, /validation\.selection/],
        [{ validation: { patience: -1 } }, /validation\.patience/],
        [{ validation: { every: 3 } }, /validation\.every: unknown field/],
        [{ validation: 3 }, /validation: expected 'none'/],
        [{ training: { schedule: "linear" } }, /training\.schedule\.type/],
        [{ training: { schedule: { type: "step", gamma: 2 } } }, /training\.schedule\.gamma/],
    ];
    for (const [plan, re] of bad) {
        try {
            resolvePlan(plan);
            assert.unreachable(`accepted ${JSON.stringify(plan)}`);
        } catch (e) {
            assert.is((e as { code?: string }).code, "ERR_SA_PLAN", String(e));
            assert.match((e as Error).message, re);
        }
    }
});

test("learning-rate schedules", () => {
    const t = { ...presetPlan("paper").training, epochs: 10, stepsPerEpoch: 5, lr: 1e-3 };
    for (const s of [0, 7, 49]) assert.is(scheduledLr(t, s), 1e-3, "constant");
    const cos = { ...t, schedule: { type: "cosine" as const, minLr: 1e-5 } };
    assert.is(scheduledLr(cos, 0), 1e-3);
    assert.ok(Math.abs(scheduledLr(cos, 25) - (1e-5 + (1e-3 - 1e-5) / 2)) < 1e-12, "half way");
    assert.ok(scheduledLr(cos, 49) > 1e-5 && scheduledLr(cos, 49) < 2e-5);
    const step = { ...t, schedule: { type: "step" as const, everyEpochs: 3, gamma: 0.1 } };
    assert.is(scheduledLr(step, 14), 1e-3, "epochs 0-2");
    assert.ok(Math.abs(scheduledLr(step, 15) - 1e-4) < 1e-15, "from epoch 3");
    assert.ok(Math.abs(scheduledLr(step, 49) - 1e-6) < 1e-17, "epoch 9");
});

test("validation split: patient-level, seeded, at least one patient on each side", () => {
    const patients = ["p3", "p1", "p2", "p1", "p4", "p5", "p6", "p7", "p8", "p9", "p10"];
    const a = splitValidationPatients(patients, 0.2, 0, "d");
    assert.equal(a, splitValidationPatients(patients, 0.2, 0, "d"), "same seed, same split");
    assert.is(a.val.length, 2);
    assert.is(a.train.length + a.val.length, 10);
    assert.ok(
        a.val.every((p) => !a.train.includes(p)),
        "a patient is on one side only",
    );
    const seeds = new Set([0, 1, 2, 3, 4, 5].map((s) => splitValidationPatients(patients, 0.2, s, "d").val.join()));
    assert.ok(seeds.size > 1, "the seed changes the split");
    assert.is(splitValidationPatients(["a", "b"], 0.05, 0, "d").val.length, 1, "at least one validation patient");
    assert.is(splitValidationPatients(["a", "b"], 0.9, 0, "d").train.length, 1, "at least one training patient");
    try {
        splitValidationPatients(["a", "a"], 0.2, 0, "mri");
        assert.unreachable();
    } catch (e) {
        assert.is((e as { code?: string }).code, "ERR_SA_DATASET");
        assert.match((e as Error).message, /mri.*at least 2 training patients/);
    }
});

test("fingerprint: the paper's protocol hashes as a plan without these options (its run folders resume)", () => {
    const paper = presetPlan("paper");
    const old = structuredClone(paper) as unknown as Record<string, unknown> & { training: Record<string, unknown> };
    delete old.validation;
    delete old.training.schedule;
    assert.is(planFingerprint(paper), planFingerprint(old as never));
    assert.is.not(planFingerprint({ ...paper, validation: presetPlan("demo").validation }), planFingerprint(paper));
    const cosine = structuredClone(paper);
    cosine.training.schedule = { type: "cosine", minLr: 0 };
    assert.is.not(planFingerprint(cosine), planFingerprint(paper));
});

test.run();
