// The wrapped TrainableEncoder (LoRA in the image encoder) on the sam-tiny fixture: PEFT names, the
// adapted encoder's embedding, a training step that changes only the adapters and the decoder and
// lowers the loss, Adam state for resume, argument checks with codes, dispose.
import { loadAddon, type NativePrompts, type NativeWeights } from "@sam-ablate/native";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { maxDiff } from "../helpers/fixtures.js";
import { weightBytes as bytesOf, goldenData as g, pickWeights, samTinyWeights } from "../helpers/sam-tiny.js";

const addon = loadAddon();
let weights: NativeWeights = {};
const pick = (prefixes: string[]) => pickWeights(weights, prefixes);
const decoderOptions = { imgSize: 256, embedSize: 16 };
const prompts = (): NativePrompts => ({
    batch: 1,
    nPoints: g("case/points10_box/points_input").length / 2,
    points: g("case/points10_box/points_input"),
    labels: g("case/points10_box/labels"),
    boxes: g("case/points10_box/boxes_input"),
});

async function rejectsWith(p: Promise<unknown>, code: string, what: string): Promise<void> {
    try {
        await p;
    } catch (e) {
        assert.is((e as { code?: string }).code, code, `${what}: ${(e as Error).message}`);
        return;
    }
    assert.unreachable(`${what}: resolved`);
}

function throwsCode(fn: () => unknown, code: string, what: string): void {
    try {
        fn();
    } catch (e) {
        assert.is((e as { code?: string }).code, code, `${what}: ${(e as Error).message}`);
        return;
    }
    assert.unreachable(`${what}: no error`);
}

test.before(async () => {
    weights = await samTinyWeights();
});

test("PEFT adapter names, info and reported memory", () => {
    using enc = new addon.TrainableEncoder(pick(["image_encoder."]), { lora: { rank: 4 } });
    const names = enc.loraNames();
    assert.ok(names.includes("blocks.0.attn.qkv.lora_A.weight"), names.join(" "));
    assert.ok(names.includes("blocks.0.attn.qkv.lora_B.weight"));
    assert.ok(
        names.every((n) => /^blocks\.\d+\.attn\.qkv\.lora_[AB]\.weight$/.test(n)),
        "q, v: qkv adapters only",
    );
    assert.equal(enc.paramShape("blocks.0.attn.qkv.lora_A.weight"), [4, 64]);
    assert.equal(enc.paramShape("blocks.0.attn.qkv.lora_B.weight"), [192, 4]);
    assert.is(enc.info.rank, 4);
    assert.is(enc.info.alpha, 4);
    assert.is(enc.info.loraScale, 1);
    assert.equal(enc.info.targets, ["q", "v"]);
    const adapters = names.reduce((a, n) => a + enc.getParam(n).length, 0);
    assert.is(enc.nativeBytes, bytesOf(pick(["image_encoder."])) + 4 * 4 * adapters);
    using all = new addon.TrainableEncoder(pick(["image_encoder."]), {
        lora: { rank: 2, alpha: 8, targets: ["qkv", "proj", "mlp"] },
    });
    assert.is(all.info.loraScale, 4);
    for (const m of ["attn.qkv", "attn.proj", "mlp.lin1", "mlp.lin2"])
        assert.ok(all.loraNames().includes(`blocks.1.${m}.lora_B.weight`), m);
});

test("the fresh adapters leave the pretrained embedding (B = 0)", async () => {
    using enc = new addon.TrainableEncoder(pick(["image_encoder."]), { lora: { rank: 4, seed: 1 } });
    const { embedding } = await enc.encode(g("image/preprocessed"), 1);
    const d = maxDiff(embedding, g("image_embedding"));
    assert.ok(d.maxAbs <= 1e-4 + 1e-3 * d.refMax, `max abs error ${d.maxAbs}`);
});

test("a step trains the adapters and the decoder only, and the loss decreases", async () => {
    using enc = new addon.TrainableEncoder(pick(["image_encoder."]), { lora: { rank: 4, seed: 2 } });
    using dec = new addon.SamDecoder(pick(["prompt_encoder.", "mask_decoder."]), decoderOptions);
    using tr = new addon.DecoderTrainer(dec, { lr: 1e-3, embeddingGrad: true });
    const qkv0 = enc.getParam("blocks.0.attn.qkv.weight");
    const a0 = enc.getParam("blocks.0.attn.qkv.lora_A.weight");
    const dec0 = new Map(dec.paramNames().map((n) => [n, dec.getParam(n)]));
    const image = g("image/preprocessed");
    const target = g("train/target_low_res");
    const losses: number[] = [];
    for (let s = 0; s < 5; s++) losses.push(await enc.trainStep(tr, image, prompts(), target));
    assert.ok((losses.at(-1) as number) < (losses[0] as number), `losses ${losses.join(", ")}`);
    assert.equal(enc.getParam("blocks.0.attn.qkv.weight"), qkv0, "the encoder's own weight is frozen");
    assert.not.equal(enc.getParam("blocks.0.attn.qkv.lora_A.weight"), a0, "lora_A trained");
    const B = enc.getParam("blocks.0.attn.qkv.lora_B.weight");
    const sumAbs = (from: number, to: number) => B.slice(from * 4, to * 4).reduce((a, x) => a + Math.abs(x), 0);
    assert.ok(sumAbs(0, 64) > 0 && sumAbs(128, 192) > 0 && sumAbs(64, 128) === 0, "q, v rows trained; k untouched");
    const trained = new Set(tr.trainedParams());
    let changed = 0;
    for (const [n, v] of dec0) {
        const same = maxDiff(dec.getParam(n), v).maxAbs === 0;
        if (trained.has(n)) changed += same ? 0 : 1;
        else assert.ok(same, `${n} is not trained`);
    }
    assert.ok(changed > 0, "decoder trained");
    assert.is(enc.stepCount, 5);
    assert.is(tr.stepCount, 5);
    const st = enc.getState("blocks.0.attn.qkv.lora_B.weight");
    assert.is(st.m.length, 192 * 4);
    assert.ok(
        st.v.some((x) => x > 0),
        "second moments kept",
    );
    // the merged weight equals W + s B A
    const A = enc.getParam("blocks.0.attn.qkv.lora_A.weight");
    const merged = enc.mergedWeight("blocks.0.attn.qkv.weight");
    let worst = 0;
    for (let o = 0; o < 192; o++)
        for (let i = 0; i < 64; i++) {
            let acc = qkv0[o * 64 + i] as number;
            for (let r = 0; r < 4; r++) acc += (B[o * 4 + r] as number) * (A[r * 64 + i] as number);
            worst = Math.max(worst, Math.abs(acc - (merged[o * 64 + i] as number)));
        }
    assert.ok(worst < 1e-6, `merged weight off by ${worst}`);
});

test("bad arguments are coded errors", async () => {
    const encW = pick(["image_encoder."]);
    throwsCode(() => new addon.TrainableEncoder(encW, { lora: { rank: 0 } }), "ERR_SA_INVALID_ARG", "rank 0");
    throwsCode(
        () => new addon.TrainableEncoder(encW, { lora: { rank: 2, targets: ["out_proj" as "q"] } }),
        "ERR_SA_INVALID_ARG",
        "unknown target",
    );
    throwsCode(
        () => new addon.TrainableEncoder(encW, { arch: "resnet" as "vit", lora: { rank: 2 } }),
        "ERR_SA_INVALID_ARG",
        "unknown arch",
    );
    throwsCode(() => new addon.TrainableEncoder(encW, {} as never), "ERR_SA_INVALID_ARG", "no lora options");
    using enc = new addon.TrainableEncoder(encW, { lora: { rank: 2 } });
    using dec = new addon.SamDecoder(pick(["prompt_encoder.", "mask_decoder."]), decoderOptions);
    using plain = new addon.DecoderTrainer(dec, {});
    const image = g("image/preprocessed");
    const target = g("train/target_low_res");
    throwsCode(() => enc.trainStep(dec as never, image, prompts(), target), "ERR_SA_INVALID_ARG", "not a trainer");
    throwsCode(() => enc.trainStep(plain, image.subarray(1), prompts(), target), "ERR_SA_INVALID_ARG", "short images");
    throwsCode(() => enc.trainStep(plain, image, prompts(), target.subarray(1)), "ERR_SA_INVALID_ARG", "short targets");
    await rejectsWith(enc.trainStep(plain, image, prompts(), target), "ERR_SA_INVALID_ARG", "no embeddingGrad");
    throwsCode(() => enc.getParam("blocks.0.attn.nope"), "ERR_SA_INVALID_ARG", "unknown name");
    throwsCode(
        () => enc.setParam("blocks.0.attn.qkv.lora_A.weight", new Float32Array(3)),
        "ERR_SA_INVALID_ARG",
        "short data",
    );
});

test("dispose frees at once, work in flight finishes, later calls are ERR_SA_STATE", async () => {
    const enc = new addon.TrainableEncoder(pick(["image_encoder."]), { lora: { rank: 4 } });
    using dec = new addon.SamDecoder(pick(["prompt_encoder.", "mask_decoder."]), decoderOptions);
    using tr = new addon.DecoderTrainer(dec, { embeddingGrad: true });
    const pending = enc.trainStep(tr, g("image/preprocessed"), prompts(), g("train/target_low_res"));
    enc.dispose();
    enc.dispose();
    assert.is(enc.nativeBytes, 0);
    assert.ok(Number.isFinite(await pending), "the step in flight finished");
    throwsCode(() => enc.loraNames(), "ERR_SA_STATE", "loraNames");
    throwsCode(() => enc.info, "ERR_SA_STATE", "info");
    throwsCode(() => enc.encode(g("image/preprocessed"), 1), "ERR_SA_STATE", "encode");
    const enc2 = new addon.TrainableEncoder(pick(["image_encoder."]), { lora: { rank: 4 } });
    tr.dispose();
    throwsCode(
        () => enc2.trainStep(tr, g("image/preprocessed"), prompts(), g("train/target_low_res")),
        "ERR_SA_STATE",
        "disposed trainer",
    );
    enc2[Symbol.dispose]();
    assert.is(enc2.nativeBytes, 0);
});

test.run();
