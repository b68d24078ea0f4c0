// A fine-tuned decoder goes back to PyTorch: exported as a .pth state dict (official key names) and as
// safetensors, read back identically by our readers; a NaN during training stops with ERR_SA_NUMERIC
// and leaves the weights as they were.
import { mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { readCheckpoint, stateDictToFloat32Record } from "@sam-ablate/checkpoint";
import { loadAddon, type NativeWeights } from "@sam-ablate/native";
import { exportDecoderPth, saveDecoderWeights } from "@sam-ablate/train";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { fixturePath, loadGolden } from "../helpers/fixtures.js";

const addon = loadAddon();
const golden = loadGolden("sam-tiny");
const g = (k: string) => golden.get(k)?.data as Float32Array;
const dir = mkdtempSync(path.join(os.tmpdir(), "sa-export-"));

async function decoderWeights(): Promise<NativeWeights> {
    const all = stateDictToFloat32Record((await readCheckpoint(fixturePath("sam-tiny", "sam_tiny.safetensors"))).tensors);
    return Object.fromEntries(Object.entries(all).filter(([k]) => k.startsWith("prompt_encoder.") || k.startsWith("mask_decoder.")));
}

const prompts = () => ({ batch: 1, nPoints: 10, points: g("case/points10_box/points_input"), labels: g("case/points10_box/labels"), boxes: g("case/points10_box/boxes_input") });

test("export after training: .pth and safetensors read back identically, official names", async () => {
    const dec = new addon.SamDecoder(await decoderWeights(), { imgSize: 256, embedSize: 16 });
    const tr = new addon.DecoderTrainer(dec, {});
    await tr.step(g("image_embedding"), prompts(), g("train/target_low_res"));
    const pth = path.join(dir, "decoder.pth");
    const st = path.join(dir, "decoder.safetensors");
    await exportDecoderPth(pth, dec);
    await saveDecoderWeights(st, dec);
    for (const file of [pth, st]) {
        const back = await readCheckpoint(file);
        const names = dec.paramNames();
        assert.equal([...back.tensors.keys()].sort(), [...names].sort());
        for (const name of names) {
            const t = back.tensors.get(name);
            assert.equal(t?.shape, dec.paramShape(name), name);
            assert.ok(Buffer.from((t?.data as Float32Array).buffer).equals(Buffer.from(dec.getParam(name).buffer)), `${file}: ${name} differs`);
        }
    }
    // only the globals torch.load(weights_only=True) allows
    const bytes = readFileSync(pth).toString("latin1");
    for (const allowed of ["collections\nOrderedDict", "torch._utils\n_rebuild_tensor_v2", "torch\nFloatStorage"]) assert.ok(bytes.includes(allowed), allowed);
    assert.not.match(bytes, /builtins\n(eval|exec|getattr)|os\nsystem/);
});

test("NaN in a training step: ERR_SA_NUMERIC, weights untouched", async () => {
    const dec = new addon.SamDecoder(await decoderWeights(), { imgSize: 256, embedSize: 16 });
    const tr = new addon.DecoderTrainer(dec, {});
    const before = dec.getParam("mask_decoder.output_upscaling.0.weight");
    const emb = g("image_embedding").slice();
    emb[123] = Number.NaN;
    try {
        await tr.step(emb, prompts(), g("train/target_low_res"));
        assert.unreachable("a NaN step must fail");
    } catch (e) {
        assert.is((e as { code?: string }).code, "ERR_SA_NUMERIC");
    }
    assert.ok(Buffer.from(dec.getParam("mask_decoder.output_upscaling.0.weight").buffer).equals(Buffer.from(before.buffer)));
    assert.is(tr.stepCount, 0);
});

test.run();
