// Wrapped native objects free their memory on dispose() (or `using`), report it to V8, finish work
// already in flight, and refuse later calls with ERR_SA_STATE; a trainer keeps its decoder alive.
import { loadAddon, type NativePrompts, type NativeWeights } from "@sam-ablate/native";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { weightBytes as bytesOf, goldenData as g, pickWeights, samTinyWeights } from "../helpers/sam-tiny.js";

const addon = loadAddon();
let weights: NativeWeights = {};
const pick = (prefixes: string[]) => pickWeights(weights, prefixes);
const prompt: NativePrompts = {
    batch: 1,
    nPoints: 1,
    points: new Float32Array([100, 80]),
    labels: new Float32Array([1]),
};
const decoderOptions = { imgSize: 256, embedSize: 16 };

function throwsState(fn: () => unknown, what: string): void {
    try {
        fn();
    } catch (e) {
        assert.is((e as { code?: string }).code, "ERR_SA_STATE", what);
        assert.match((e as Error).message, /used after dispose\(\)/, what);
        return;
    }
    assert.unreachable(`${what}: no error after dispose()`);
}

test.before(async () => {
    weights = await samTinyWeights();
});

test("native bytes are reported, then released by dispose(); later calls are ERR_SA_STATE", () => {
    const enc = new addon.ImageEncoder(pick(["image_encoder."]), { arch: "vit" });
    const decW = pick(["prompt_encoder.", "mask_decoder."]);
    const dec = new addon.SamDecoder(decW, decoderOptions);
    const tr = new addon.DecoderTrainer(dec, {});
    assert.is(enc.nativeBytes, bytesOf(pick(["image_encoder."])));
    assert.is(dec.nativeBytes, bytesOf(decW));
    const trained = tr.trainedParams().reduce((a, n) => a + dec.getParam(n).length, 0);
    assert.is(tr.nativeBytes, 3 * 4 * trained);
    tr.dispose();
    tr.dispose(); // twice is harmless
    assert.is(tr.nativeBytes, 0);
    throwsState(() => tr.trainedParams(), "trainer.trainedParams");
    throwsState(() => tr.stepCount, "trainer.stepCount");
    // the decoder outlives its trainer
    assert.ok(dec.paramNames().length > 0);
    dec.dispose();
    assert.is(dec.nativeBytes, 0);
    throwsState(() => dec.paramNames(), "decoder.paramNames");
    throwsState(() => dec.info, "decoder.info");
    throwsState(() => new addon.DecoderTrainer(dec, {}), "new DecoderTrainer(disposed decoder)");
    enc.dispose();
    throwsState(() => enc.info, "encoder.info");
});

test("Symbol.dispose is dispose (`using` frees at scope end)", () => {
    const dec = new addon.SamDecoder(pick(["prompt_encoder.", "mask_decoder."]), decoderOptions);
    assert.is(typeof dec[Symbol.dispose], "function");
    dec[Symbol.dispose]();
    assert.is(dec.nativeBytes, 0);
    throwsState(() => dec.densePe(), "decoder.densePe");
});

test("work in flight finishes with the same result when its object is disposed meanwhile", async () => {
    const emb = g("image_embedding");
    const ref = new addon.SamDecoder(pick(["prompt_encoder.", "mask_decoder."]), decoderOptions);
    const want = await ref.predictAll(emb, prompt);
    const dec = new addon.SamDecoder(pick(["prompt_encoder.", "mask_decoder."]), decoderOptions);
    const pending = dec.predictAll(emb, prompt);
    dec.dispose();
    const got = await pending;
    assert.equal(Array.from(got.lowRes), Array.from(want.lowRes));

    const enc = new addon.ImageEncoder(pick(["image_encoder."]), { arch: "vit" });
    const image = g("image/preprocessed");
    const before = await enc.encode(image, 1);
    const running = enc.encode(image, 1);
    enc.dispose();
    assert.equal(Array.from((await running).embedding), Array.from(before.embedding));

    // a trainer disposed during a step: the step completes; the decoder keeps the updated weights
    const d2 = new addon.SamDecoder(pick(["prompt_encoder.", "mask_decoder."]), decoderOptions);
    const t2 = new addon.DecoderTrainer(d2, { lr: 1e-3 });
    const name = t2.trainedParams()[0] as string;
    const w0 = d2.getParam(name);
    const target = new Float32Array(64 * 64).fill(0).map((_, i) => (i % 64 < 32 ? 1 : 0));
    const step = t2.step(emb, prompt, target);
    t2.dispose();
    assert.ok(Number.isFinite(await step));
    assert.not.equal(Array.from(d2.getParam(name)), Array.from(w0), "the step did not update the decoder");
    ref.dispose();
    d2.dispose();
});

test.run();
