// The architecture arms on the CPU addon: AutoSAM (the mask decoder with no prompt at all, official
// semantics: no sparse token, no padding point, the no-mask dense embedding) and the prompt-free CNN /
// linear heads (HeadTrainer): forward, training through the shared loop, disposal and coded errors.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { readCheckpoint, readSafetensorsFile, stateDictToFloat32Record } from "@sam-ablate/checkpoint";
import { SamFrame } from "@sam-ablate/model";
import { loadAddon, type NativeWeights } from "@sam-ablate/native";
import { parseArm } from "@sam-ablate/samplers";
import { initHeadParams, newHead, saveHeadWeights, trainDecoder, trainLoop } from "@sam-ablate/train";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { bitEqual, fixturePath, loadGolden } from "../helpers/fixtures.js";

const golden = loadGolden("sam-tiny");
const g = (k: string) => golden.get(k) as { shape: number[]; data: Float32Array };
const addon = loadAddon();
let weights: NativeWeights = {};

test.before(async () => {
    const ckpt = await readCheckpoint(fixturePath("sam-tiny", "sam_tiny.safetensors"));
    const all = stateDictToFloat32Record(ckpt.tensors) as NativeWeights;
    weights = Object.fromEntries(
        Object.entries(all).filter(([k]) => k.startsWith("prompt_encoder.") || k.startsWith("mask_decoder.")),
    );
});

const newDecoder = (w: NativeWeights = weights) =>
    new addon.SamDecoder(w, { imgSize: 256, embedSize: 16, backend: "cpu" });

test("AutoSAM: no prompt is no sparse token and the no-mask dense embedding (official PromptEncoder)", () => {
    using dec = newDecoder();
    const { nSparse, dense } = dec.encodePrompts(SamFrame.noPrompt(1));
    assert.is(nSparse, 0);
    const noMask = weights["prompt_encoder.no_mask_embed.weight"]?.data as Float32Array;
    const HW = 16 * 16;
    for (let c = 0; c < 256; c++) {
        for (const p of [0, 77, HW - 1]) assert.is(dense[c * HW + p], noMask[c]);
    }
    // points without a box get the padding point; no points get none
    assert.is(
        dec.encodePrompts({ batch: 1, nPoints: 1, points: new Float32Array([10, 20]), labels: new Float32Array([1]) })
            .nSparse,
        2,
    );
});

test("AutoSAM: the output depends on no prompt-token weight, and on the no-mask embedding", async () => {
    const emb = g("image_embedding").data;
    using dec = newDecoder();
    const base = await dec.predictAll(emb, SamFrame.noPrompt(1));
    assert.ok(base.lowRes.every(Number.isFinite));
    // every point / box / padding embedding changed: no token of theirs exists, so nothing moves
    const changed: NativeWeights = { ...weights };
    for (const k of Object.keys(weights)) {
        if (k.startsWith("prompt_encoder.point_embeddings.") || k.startsWith("prompt_encoder.not_a_point_embed.")) {
            const w = weights[k] as { shape: number[]; data: Float32Array };
            changed[k] = { shape: w.shape, data: w.data.map((v) => v + 0.5) };
        }
    }
    using other = newDecoder(changed);
    assert.ok(
        bitEqual((await other.predictAll(emb, SamFrame.noPrompt(1))).lowRes, base.lowRes),
        "the output moved with the point embeddings",
    );
    // while a prompt with a point does see them
    const pt = { batch: 1, nPoints: 1, points: new Float32Array([100, 90]), labels: new Float32Array([1]) };
    assert.not.ok(bitEqual((await other.predictAll(emb, pt)).lowRes, (await dec.predictAll(emb, pt)).lowRes));
    // the dense no-mask embedding is part of it
    const nm = weights["prompt_encoder.no_mask_embed.weight"] as { shape: number[]; data: Float32Array };
    using shifted = newDecoder({
        ...weights,
        "prompt_encoder.no_mask_embed.weight": { shape: nm.shape, data: nm.data.map((v) => v + 0.5) },
    });
    assert.not.ok(bitEqual((await shifted.predictAll(emb, SamFrame.noPrompt(1))).lowRes, base.lowRes));
    // a batch of two prompt-free samples (per-sample embeddings) is each sample alone
    const two = new Float32Array(emb.length * 2);
    two.set(emb, 0);
    two.set(emb, emb.length);
    const batch = await dec.predictAll(two, SamFrame.noPrompt(2), { perPromptEmbeddings: true });
    const one = base.lowRes.length;
    assert.ok(
        bitEqual(batch.lowRes.subarray(0, one), base.lowRes) && bitEqual(batch.lowRes.subarray(one), base.lowRes),
    );
});

test("AutoSAM: training without prompts lowers the loss (the decoder loop, prompt 'none')", async () => {
    using dec = newDecoder();
    using trainer = new addon.DecoderTrainer(dec, { loss: "dicece", optimizer: "adam", lr: 1e-3, weightDecay: 0 });
    const emb = g("image_embedding").data;
    const tgt = g("train/target_low_res").data;
    const r = await trainDecoder(
        dec,
        trainer,
        { ids: ["a", "b"], height: 120, width: 170, embedding: () => emb, target: () => tgt },
        "none",
        {
            epochs: 3,
            stepsPerEpoch: 4,
            batch: 2,
            seed: 0,
            imgSize: 256,
            fingerprint: "autosam",
        },
    );
    assert.ok((r.epochLosses[2] as number) < (r.epochLosses[0] as number) * 0.9, `losses ${r.epochLosses.join(", ")}`);
});

test("HeadTrainer: shapes, seeded initialisation, a loss that decreases, saved file with metadata", async () => {
    const arm = parseArm("head:cnn2");
    assert.ok(arm.kind === "head");
    using head = newHead({ embedSize: 16, backend: "cpu" }, arm, { loss: "dicece", lr: 1e-3, weightDecay: 0 }, 5);
    assert.equal(head.info, { depth: 2, hidden: 256, inChannels: 256, embedSize: 16, backend: "cpu" });
    assert.equal(head.paramNames(), [
        "blocks.0.conv.weight",
        "blocks.0.conv.bias",
        "blocks.0.norm.weight",
        "blocks.0.norm.bias",
        "blocks.1.conv.weight",
        "blocks.1.conv.bias",
        "blocks.1.norm.weight",
        "blocks.1.norm.bias",
        "out.weight",
        "out.bias",
    ]);
    assert.equal(head.paramShape("blocks.0.conv.weight"), [256, 256, 3, 3]);
    // the same seed, the same weights; another seed, others
    using again = newHead({ embedSize: 16, backend: "cpu" }, arm, { loss: "dicece" }, 5);
    using other = newHead({ embedSize: 16, backend: "cpu" }, arm, { loss: "dicece" }, 6);
    assert.ok(bitEqual(again.getParam("blocks.1.conv.weight"), head.getParam("blocks.1.conv.weight")));
    assert.not.ok(bitEqual(other.getParam("blocks.1.conv.weight"), head.getParam("blocks.1.conv.weight")));
    const w = head.getParam("blocks.0.conv.weight");
    const bound = 1 / Math.sqrt(256 * 9);
    assert.ok(w.every((v) => Math.abs(v) <= bound) && w.some((v) => Math.abs(v) > bound / 2));
    assert.ok(head.getParam("blocks.0.norm.weight").every((v) => v === 1));

    const emb = g("image_embedding").data;
    const low = await head.predict(emb);
    assert.is(low.length, 64 * 64);
    const tgt = g("train/target_low_res").data;
    const r = await trainLoop(
        head,
        head,
        { ids: ["a"], height: 120, width: 170, embedding: () => emb, target: () => tgt },
        (e, t, _s, _g, lr) => head.step(e, t, lr === undefined ? undefined : { lr }),
        {
            epochs: 2,
            stepsPerEpoch: 5,
            batch: 1,
            seed: 0,
            imgSize: 256,
            fingerprint: "head",
        },
    );
    assert.is(head.stepCount, 10);
    assert.ok((r.epochLosses[1] as number) < (r.epochLosses[0] as number), `losses ${r.epochLosses.join(", ")}`);

    const dir = mkdtempSync(path.join(os.tmpdir(), "sa-head-"));
    try {
        const file = path.join(dir, "head.safetensors");
        await saveHeadWeights(file, head, arm, { model: "sam-tiny", encoder: "vit", checkpointDigest: "abc" });
        const { tensors, metadata } = await readSafetensorsFile(file);
        assert.is(metadata["sam_ablate.arm"], "head:cnn2");
        assert.is(metadata["sam_ablate.head_depth"], "2");
        assert.is(metadata["sam_ablate.model"], "sam-tiny");
        assert.equal([...tensors.keys()].sort(), head.paramNames().sort());
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
});

test("HeadTrainer: the linear head, coded errors for bad input, dispose", async () => {
    const head = new addon.HeadTrainer({ depth: 0, embedSize: 16 }, { loss: "medsam" });
    initHeadParams(head, 1);
    assert.equal(head.paramNames(), ["out.weight", "out.bias"]);
    const emb = g("image_embedding").data;
    const low = await head.predict(emb);
    // linear head: a 1x1 conv then bilinear x4; a constant embedding gives a constant map
    const flat = await head.predict(new Float32Array(emb.length).fill(0.25));
    assert.ok(flat.every((v) => Math.abs(v - (flat[0] as number)) < 1e-6));
    assert.is(low.length, 64 * 64);
    const expectCode = async (p: () => unknown, code: string, re: RegExp) => {
        try {
            await p();
        } catch (e) {
            assert.is((e as { code?: string }).code, code, (e as Error).message);
            assert.match((e as Error).message, re);
            return;
        }
        assert.unreachable(`expected ${code}`);
    };
    await expectCode(
        () => head.predict(new Float32Array(10)),
        "ERR_SA_INVALID_ARG",
        /embeddings must hold batch x 256 x 16 x 16/,
    );
    await expectCode(
        () => head.step(emb, new Float32Array(5)),
        "ERR_SA_INVALID_ARG",
        /targets must hold batch x 1 x 64 x 64/,
    );
    await expectCode(
        () => head.getParam("blocks.0.conv.weight"),
        "ERR_SA_INVALID_ARG",
        /no parameter named 'blocks.0.conv.weight'/,
    );
    await expectCode(
        () => new addon.HeadTrainer({ depth: 2, embedSize: 16 }, { loss: "sam" }),
        "ERR_SA_INVALID_ARG",
        /SAM loss needs an IoU prediction/,
    );
    await expectCode(
        () => newHead({ embedSize: 16, backend: "cpu" }, parseArm("head:linear") as never, { loss: "sam" }, 0),
        "ERR_SA_PLAN",
        /head:linear.*dicece or medsam/,
    );
    assert.ok(head.nativeBytes > 0);
    const pending = head.step(emb, g("train/target_low_res").data);
    head.dispose();
    assert.ok(Number.isFinite(await pending), "work in flight finishes");
    assert.is(head.nativeBytes, 0);
    await expectCode(() => head.predict(emb), "ERR_SA_STATE", /HeadTrainer/);
});

test.run();
