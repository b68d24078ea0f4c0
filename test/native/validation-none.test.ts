// `validation: none` is the paper's protocol exactly: every training patch of the manifest's split
// trains, the learning rate stays constant, nothing else draws from the random streams, and the
// reported decoder and scores are those of the last step. The ablation runner's results are compared
// bit for bit with the protocol written out from the library's parts.
import { existsSync, mkdtempSync, readdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { readSafetensorsFile } from "@sam-ablate/checkpoint";
import { loadDataset } from "@sam-ablate/data";
import { MaskIndex, rngFor, samplePrompt } from "@sam-ablate/samplers";
import {
    embeddingShardFiles,
    embedShardCount,
    evaluateDecoder,
    evaluationPrompts,
    openShardedEmbeddings,
    resolvePlan,
    runAblation,
    strategiesFor,
    trainDecoder,
} from "@sam-ablate/train";
import { test } from "uvu";
import * as assert from "uvu/assert";

test("validation: none reproduces the paper's protocol bit for bit", async () => {
    const runDir = mkdtempSync(path.join(os.tmpdir(), "sa-val-none-"));
    const plan = resolvePlan({
        name: "none",
        validation: "none",
        datasets: [
            {
                name: "mri",
                kind: "radiology",
                source: { type: "phantom", patients: 3, slicesPerPatient: 6 },
                strategies: ["points3_box"],
            },
        ],
        training: { epochs: 2, stepsPerEpoch: 3 },
        evaluation: { zeroShot: false },
        report: { samplesPerStrategy: 0 },
        backend: "cpu",
    });
    // the training state is kept (keepCheckpoints 1) to look into it
    const { records, model, data } = await runAblation(plan, { runDir, keepCheckpoints: 1 });
    const rec = records[0];
    const prep = data[0];
    assert.ok(rec && prep);
    const dir = path.join(runDir, "results", "mri", "points3_box", "seed0");

    // every training patch of the manifest's patient split trains; nothing is held out
    const ds = await loadDataset(path.join(runDir, "data", "mri", "patches"));
    assert.equal(
        prep.train.ids,
        ds.train.map((e) => e.id),
    );
    assert.equal(
        prep.test.ids,
        ds.test.map((e) => e.id),
    );
    assert.is(prep.val.ids.length, 0);
    assert.is(rec.validation, undefined);
    assert.is(rec.selection, undefined);
    assert.not.ok(existsSync(path.join(dir, "decoder-last.safetensors")));
    assert.not.ok(readdirSync(path.join(dir, "state")).some((f) => f.startsWith("best-step")));

    // the protocol from the parts: seeded order, prompts re-drawn per step, constant lr, last weights
    const arm = strategiesFor(plan, plan.datasets[0] as never)[0];
    assert.ok(arm?.kind === "prompt");
    const strat = arm.strategy;
    const t = plan.training;
    // the run's embedding cache (its shards; same key as without validation support)
    const shards = embeddingShardFiles(
        model,
        prep,
        path.join(runDir, "cache"),
        embedShardCount(plan, plan.datasets[0] as never),
    );
    const emb = openShardedEmbeddings(model, prep, shards);
    const decoder = model.newDecoder();
    const trainer = model.newTrainer(decoder, {
        loss: t.loss,
        optimizer: t.optimizer,
        lr: t.lr,
        weightDecay: t.weightDecay,
        gradClipNorm: t.gradClipNorm,
    });
    const idx = prep.train.ids.map(
        (id, i) => new MaskIndex({ width: prep.width, height: prep.height, data: prep.train.mask(i) }, id),
    );
    const ref = await trainDecoder(
        decoder,
        trainer,
        {
            ids: prep.train.ids,
            height: prep.height,
            width: prep.width,
            embedding: emb.train,
            target: (i) => prep.train.target(i, 4 * model.embedSize, model.imgSize),
        },
        (i, step) =>
            samplePrompt(
                idx[i] as MaskIndex,
                strat.plan,
                rngFor(0, prep.train.ids[i] as string, step),
                prep.train.ids[i],
            ).prompt,
        {
            epochs: t.epochs,
            stepsPerEpoch: t.stepsPerEpoch,
            batch: t.batch,
            seed: 0,
            imgSize: model.imgSize,
            fingerprint: "reference",
        },
    );
    assert.equal(rec.epochLosses, ref.epochLosses, "training losses");
    const saved = (await readSafetensorsFile(path.join(dir, "decoder.safetensors"))).tensors;
    for (const name of decoder.paramNames()) {
        const p = decoder.getParam(name);
        const a = Buffer.from(p.buffer, p.byteOffset, p.byteLength);
        const s = saved.get(name);
        assert.ok(s, `decoder.safetensors lacks ${name}`);
        const b = Buffer.from(
            (s.data as Float32Array).buffer,
            (s.data as Float32Array).byteOffset,
            (s.data as Float32Array).byteLength,
        );
        assert.ok(a.equals(b), `decoder.safetensors: ${name} differs from the last weights of the protocol`);
    }
    const testSet = {
        ids: prep.test.ids,
        patients: prep.test.patients,
        height: prep.height,
        width: prep.width,
        embedding: emb.test,
        mask: (i: number) => prep.test.mask(i),
    };
    const scores = await evaluateDecoder(
        decoder,
        testSet,
        evaluationPrompts(testSet, strat.plan, plan.evaluation.seed),
        { imgSize: model.imgSize, ignoreEmpty: true },
    );
    assert.equal(
        rec.perImage.map((p) => [p.imageId, p.dice, p.iou]),
        scores.perImage.map((p) => [p.imageId, p.dice, p.iou]),
        "per-image test scores",
    );
});

test.run();
