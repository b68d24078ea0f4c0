// LoRA adapter files and settings without the addon: PEFT names and metadata of saveLoraWeights,
// every check of readLoraFile, the merge W + s B A, and the plan's training.lora options.
import path from "node:path";
import { readSafetensorsFile, writeSafetensorsFile } from "@sam-ablate/checkpoint";
import type { NativeTrainableEncoder } from "@sam-ablate/native";
import { tensor } from "@sam-ablate/tensor";
import { loraSettings, mergeLora, readLoraFile, resolvePlan, saveLoraWeights } from "@sam-ablate/train";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { scratchDir } from "../helpers/scratch.js";

const dir = scratchDir("sa-lora-files-");
const provenance = { model: "vit_b", encoder: "vit_b", checkpointDigest: "ab".repeat(32) };

// Two adapted layers of a 2-block encoder: qkv [6, 2] and proj [2, 2], rank 1 or 2.
const factors: Record<string, { shape: number[]; data: Float32Array }> = {
    "blocks.0.attn.qkv.lora_A.weight": { shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) },
    "blocks.0.attn.qkv.lora_B.weight": { shape: [6, 2], data: new Float32Array([1, 0, 0, 1, 0, 0, 0, 0, 2, 0, 0, 2]) },
    "blocks.1.attn.qkv.lora_A.weight": { shape: [2, 2], data: new Float32Array([0.5, 0, 0, 0.5]) },
    "blocks.1.attn.qkv.lora_B.weight": { shape: [6, 2], data: new Float32Array(12).fill(0.25) },
};
// Just what saveLoraWeights reads of a trainable encoder.
const encoder = {
    info: { rank: 2, alpha: 4, targets: ["q", "v"] },
    loraNames: () => Object.keys(factors),
    paramShape: (n: string) => factors[n]?.shape,
    getParam: (n: string) => factors[n]?.data,
} as unknown as NativeTrainableEncoder;

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
    try {
        await p;
    } catch (e) {
        return (e as { code?: string }).code;
    }
    return undefined;
}

test("saveLoraWeights: PEFT names under image_encoder., provenance, rank, alpha, targets", async () => {
    const file = path.join(dir, "lora.safetensors");
    await saveLoraWeights(file, encoder, provenance);
    const { tensors, metadata } = await readSafetensorsFile(file);
    assert.equal(
        [...tensors.keys()].sort(),
        Object.keys(factors)
            .map((k) => `image_encoder.${k}`)
            .sort(),
    );
    assert.equal(tensors.get("image_encoder.blocks.0.attn.qkv.lora_B.weight")?.shape, [6, 2]);
    assert.is(metadata["sam_ablate.model"], "vit_b");
    assert.is(metadata["sam_ablate.encoder"], "vit_b");
    assert.is(metadata["sam_ablate.checkpoint_digest"], provenance.checkpointDigest);
    assert.is(metadata["sam_ablate.lora_rank"], "2");
    assert.is(metadata["sam_ablate.lora_alpha"], "4");
    assert.is(metadata["sam_ablate.lora_targets"], "q,v");
    const lora = await readLoraFile(file, provenance);
    assert.is(lora.rank, 2);
    assert.is(lora.alpha, 4);
    assert.equal(lora.targets, ["q", "v"]);
    assert.equal(lora.adapters.map((a) => [a.module, a.inFeatures, a.outFeatures]).sort(), [
        ["image_encoder.blocks.0.attn.qkv", 2, 6],
        ["image_encoder.blocks.1.attn.qkv", 2, 6],
    ]);
});

test("mergeLora: W + (alpha / rank) B A on the adapted layers only", async () => {
    const lora = await readLoraFile(path.join(dir, "lora.safetensors"));
    const W = new Float32Array(12).map((_, i) => i);
    const weights: Record<string, { shape: number[]; data: Float32Array }> = {
        "image_encoder.blocks.0.attn.qkv.weight": { shape: [6, 2], data: W },
        "image_encoder.blocks.1.attn.qkv.weight": { shape: [6, 2], data: new Float32Array(12) },
    };
    const merged = mergeLora(lora, (k) => weights[k], "ckpt");
    assert.equal([...merged.keys()].sort(), Object.keys(weights).sort());
    // block 0: B A = [[1,2],[3,4],[0,0],[0,0],[2,4],[6,8]], s = 2
    const ba = [1, 2, 3, 4, 0, 0, 0, 0, 2, 4, 6, 8];
    assert.equal(
        [...(merged.get("image_encoder.blocks.0.attn.qkv.weight")?.data ?? [])],
        ba.map((x, i) => i + 2 * x),
    );
    assert.equal(W[3], 3, "the input weights are not modified");
    // block 1: every row of B A is [0.125, 0.125], s = 2
    assert.ok(merged.get("image_encoder.blocks.1.attn.qkv.weight")?.data.every((x) => x === 0.25));
    const missing = (() => {
        try {
            mergeLora(lora, (k) => (k.includes("blocks.1") ? undefined : weights[k]), "ckpt.pth");
        } catch (e) {
            return e as { code?: string; message: string };
        }
    })();
    assert.is(missing?.code, "ERR_SA_CHECKPOINT_INCOMPLETE");
    assert.match(missing?.message ?? "", /ckpt\.pth.*blocks\.1\.attn\.qkv\.weight/);
    const misshapen = () =>
        mergeLora(lora, (k) => ({ shape: [2, 6], data: weights[k]?.data ?? new Float32Array(12) }), "ckpt");
    assert.throws(misshapen, /the adapter needs \[6, 2\]/);
});

test("readLoraFile: provenance, pairs, shapes, names and values are checked", async () => {
    const meta = {
        "sam_ablate.model": "vit_b",
        "sam_ablate.encoder": "vit_b",
        "sam_ablate.checkpoint_digest": provenance.checkpointDigest,
        "sam_ablate.lora_rank": "2",
        "sam_ablate.lora_alpha": "2",
        "sam_ablate.lora_targets": "q,v",
    };
    const A = () => tensor("float32", [2, 2], new Float32Array(4));
    const B = () => tensor("float32", [6, 2], new Float32Array(12));
    const write = async (name: string, tensors: [string, ReturnType<typeof A>][], metadata: Record<string, string>) => {
        const file = path.join(dir, name);
        await writeSafetensorsFile(file, new Map(tensors), metadata);
        return file;
    };
    const good = await write(
        "good.safetensors",
        [
            ["image_encoder.blocks.0.attn.qkv.lora_A.weight", A()],
            ["image_encoder.blocks.0.attn.qkv.lora_B.weight", B()],
        ],
        meta,
    );
    assert.is((await readLoraFile(good)).adapters.length, 1);
    assert.is(
        await codeOf(readLoraFile(good, { ...provenance, checkpointDigest: "cd".repeat(32) })),
        "ERR_SA_CHECKPOINT_MISMATCH",
    );
    assert.is(await codeOf(readLoraFile(good, { ...provenance, model: "medsam" })), "ERR_SA_CHECKPOINT_MISMATCH");
    const noMeta = await write("nometa.safetensors", [["image_encoder.blocks.0.attn.qkv.lora_A.weight", A()]], {});
    assert.is(await codeOf(readLoraFile(noMeta)), "ERR_SA_CHECKPOINT_MISMATCH");
    const noRank = await write("norank.safetensors", [["image_encoder.blocks.0.attn.qkv.lora_A.weight", A()]], {
        ...meta,
        "sam_ablate.lora_rank": "two",
    });
    assert.is(await codeOf(readLoraFile(noRank)), "ERR_SA_CHECKPOINT_INCOMPLETE");
    const unpaired = await write(
        "unpaired.safetensors",
        [["image_encoder.blocks.0.attn.qkv.lora_A.weight", A()]],
        meta,
    );
    assert.is(await codeOf(readLoraFile(unpaired)), "ERR_SA_CHECKPOINT_INCOMPLETE");
    const foreign = await write(
        "foreign.safetensors",
        [["mask_decoder.iou_token.weight", tensor("float32", [1, 4], new Float32Array(4))]],
        meta,
    );
    assert.is(await codeOf(readLoraFile(foreign)), "ERR_SA_CHECKPOINT_INCOMPLETE");
    const wrongRank = await write(
        "wrongrank.safetensors",
        [
            ["image_encoder.blocks.0.attn.qkv.lora_A.weight", tensor("float32", [3, 2], new Float32Array(6))],
            ["image_encoder.blocks.0.attn.qkv.lora_B.weight", tensor("float32", [6, 3], new Float32Array(18))],
        ],
        meta,
    );
    assert.is(await codeOf(readLoraFile(wrongRank)), "ERR_SA_CHECKPOINT_INCOMPLETE");
    const nan = await write(
        "nan.safetensors",
        [
            ["image_encoder.blocks.0.attn.qkv.lora_A.weight", A()],
            [
                "image_encoder.blocks.0.attn.qkv.lora_B.weight",
                tensor("float32", [6, 2], new Float32Array(12).fill(Number.NaN)),
            ],
        ],
        meta,
    );
    assert.is(await codeOf(readLoraFile(nan)), "ERR_SA_CHECKPOINT_NONFINITE");
});

test("plan: training.lora (alpha, targets) and the defaults of a LoRA arm", () => {
    const plan = resolvePlan({ extends: "quick", training: { lora: { alpha: 16, targets: ["qkv", "proj", "qkv"] } } });
    assert.equal(plan.training.lora, { alpha: 16, targets: ["qkv", "proj"] });
    assert.equal(loraSettings(plan, 8), { rank: 8, alpha: 16, targets: ["qkv", "proj"] });
    assert.equal(loraSettings(resolvePlan({ extends: "quick" }), 4), { rank: 4, alpha: 4, targets: ["q", "v"] });
    assert.throws(
        () => resolvePlan({ training: { lora: { targets: ["out_proj"] } } }),
        /training\.lora\.targets: unknown target "out_proj"/,
    );
    assert.throws(() => resolvePlan({ training: { lora: { targets: [] } } }), /training\.lora\.targets/);
    assert.throws(() => resolvePlan({ training: { lora: { rank: 4 } } }), /training\.lora/);
    assert.throws(() => resolvePlan({ training: { lora: { alpha: 0 } } }), /training\.lora\.alpha/);
});

test.run();
