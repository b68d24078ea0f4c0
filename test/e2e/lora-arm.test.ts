// A LoRA arm (`lora4_box`: rank-4 adapters in the image encoder trained with the decoder, the images
// encoded at every step) runs through `ablate` beside a prompt strategy on phantom data, here with the
// sam-tiny ViT: it writes the decoder and the adapters (PEFT names, provenance, rank / alpha /
// targets), `eval --decoder --lora` reproduces its Dice, and `export --lora --full-checkpoint` merges
// the adapters into the encoder (W + s B A).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { readCheckpoint, readSafetensorsFile, stateDictToFloat32Record } from "@sam-ablate/checkpoint";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { runCliProcess } from "../helpers/cli.js";
import { fixturePath } from "../helpers/fixtures.js";

const tmp = mkdtempSync(path.join(os.tmpdir(), "sa-lora-"));
test.after(() => rmSync(tmp, { recursive: true, force: true }));
const checkpoint = fixturePath("sam-tiny", "sam_tiny.safetensors");
const plan = path.join(tmp, "plan.json");
writeFileSync(
    plan,
    JSON.stringify({
        name: "lora",
        model: { name: "minisam", checkpoint },
        datasets: [
            {
                name: "mri",
                kind: "radiology",
                source: { type: "phantom", patients: 3, slicesPerPatient: 8 },
                maxTrain: 4,
                maxTest: 3,
                strategies: ["box", "lora4_box"],
            },
        ],
        training: { epochs: 2, stepsPerEpoch: 3, lr: 1e-3, lora: { alpha: 8 } },
        evaluation: { zeroShot: false },
        report: { samplesPerStrategy: 1 },
    }),
);
const out = path.join(tmp, "run");
const unitDir = path.join(out, "results", "mri", "lora4_box", "seed0");

const cli = async (args: string[]) => {
    const r = await runCliProcess(args);
    assert.is(r.code, 0, `sam-ablate ${args.join(" ")}: exit ${r.code}\n${r.stderr.slice(-2000)}`);
    return r;
};

test("ablate trains the LoRA arm and saves its adapters beside the decoder", async () => {
    await cli(["ablate", "--plan", plan, "--out", out, "--cache-dir", path.join(tmp, "cache"), "--threads", "2"]);
    const rec = JSON.parse(readFileSync(path.join(unitDir, "result.json"), "utf8"));
    assert.is(rec.strategy, "lora4_box");
    assert.match(rec.label, /LoRA r4/);
    assert.ok(Number.isFinite(rec.meanDice), `mean Dice ${rec.meanDice}`);
    assert.is(rec.epochLosses.length, 2);
    assert.ok(existsSync(path.join(unitDir, "decoder.safetensors")));
    const { tensors, metadata } = await readSafetensorsFile(path.join(unitDir, "lora.safetensors"));
    assert.is(metadata["sam_ablate.lora_rank"], "4");
    assert.is(metadata["sam_ablate.lora_alpha"], "8");
    assert.is(metadata["sam_ablate.lora_targets"], "q,v");
    assert.is(metadata["sam_ablate.model"], "minisam");
    assert.ok(metadata["sam_ablate.checkpoint_digest"]?.length === 64);
    const a = tensors.get("image_encoder.blocks.0.attn.qkv.lora_A.weight");
    const b = tensors.get("image_encoder.blocks.0.attn.qkv.lora_B.weight");
    assert.equal(a?.shape, [4, 64]);
    assert.equal(b?.shape, [192, 4]);
    assert.ok(
        (b as { data: Float32Array }).data.some((x) => x !== 0),
        "lora_B trained away from zero",
    );
    // the prompt arm beside it writes no adapters
    assert.not.ok(existsSync(path.join(out, "results", "mri", "box", "seed0", "lora.safetensors")));
});

test("eval --decoder --lora scores the adapted model as the run did", async () => {
    const r = await cli([
        "eval",
        "--model",
        "minisam",
        "--checkpoint",
        checkpoint,
        "--decoder",
        path.join(unitDir, "decoder.safetensors"),
        "--lora",
        path.join(unitDir, "lora.safetensors"),
        "--data",
        path.join(out, "data", "mri", "patches"),
        "--max-test",
        "3",
        "--strategy",
        "box",
        "--json",
        "--threads",
        "2",
        "--cache-dir",
        path.join(tmp, "cache"),
    ]);
    const rec = JSON.parse(readFileSync(path.join(unitDir, "result.json"), "utf8"));
    const got = JSON.parse(r.stdout.trim().split("\n").at(-1) as string).results[0].dice;
    assert.ok(Math.abs(got - rec.meanDice) < 1e-3, `eval ${got} vs run ${rec.meanDice}`);
});

test("export --lora --full-checkpoint merges W + s B A into the encoder", async () => {
    const merged = path.join(tmp, "merged.safetensors");
    await cli([
        "export",
        "--decoder",
        path.join(unitDir, "decoder.safetensors"),
        "--lora",
        path.join(unitDir, "lora.safetensors"),
        "--full-checkpoint",
        checkpoint,
        "--to",
        merged,
    ]);
    const base = stateDictToFloat32Record((await readCheckpoint(checkpoint)).tensors);
    const got = stateDictToFloat32Record((await readCheckpoint(merged)).tensors);
    const { tensors } = await readSafetensorsFile(path.join(unitDir, "lora.safetensors"));
    const A = tensors.get("image_encoder.blocks.1.attn.qkv.lora_A.weight")?.data as Float32Array;
    const B = tensors.get("image_encoder.blocks.1.attn.qkv.lora_B.weight")?.data as Float32Array;
    const W = base["image_encoder.blocks.1.attn.qkv.weight"]?.data as Float32Array;
    const M = got["image_encoder.blocks.1.attn.qkv.weight"]?.data as Float32Array;
    let worst = 0;
    for (let o = 0; o < 192; o++)
        for (let i = 0; i < 64; i++) {
            let acc = W[o * 64 + i] as number;
            for (let r = 0; r < 4; r++) acc += 2 * (B[o * 4 + r] as number) * (A[r * 64 + i] as number);
            worst = Math.max(worst, Math.abs(acc - (M[o * 64 + i] as number)));
        }
    assert.ok(worst < 1e-6, `merged weight off by ${worst}`);
    assert.ok(worst >= 0 && M.some((x, k) => x !== W[k]), "the merged weight differs from the base");
    assert.equal(
        got["image_encoder.blocks.1.attn.proj.weight"]?.data,
        base["image_encoder.blocks.1.attn.proj.weight"]?.data,
    );
    assert.not.ok("image_encoder.blocks.1.attn.qkv.lora_A.weight" in got, "no adapter tensors in a merged checkpoint");
});

test.run();
