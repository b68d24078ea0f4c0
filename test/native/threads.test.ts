// setThreads (what --threads calls) while encodes run on the worker pool: the CPU backend's thread
// pool is replaced under running work without a crash, and every encode gives the bits of an
// undisturbed one. gemmPeak runs on the same thread count.
import { readCheckpoint, stateDictToFloat32Record } from "@sam-ablate/checkpoint";
import { loadAddon, type NativeWeights } from "@sam-ablate/native";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { fixturePath, loadGolden } from "../helpers/fixtures.js";

const addon = loadAddon();
const golden = loadGolden("sam-tiny");
let encoderWeights: NativeWeights = {};

test.before(async () => {
    const all = stateDictToFloat32Record(
        (await readCheckpoint(fixturePath("sam-tiny", "sam_tiny.safetensors"))).tensors,
    );
    encoderWeights = Object.fromEntries(Object.entries(all).filter(([k]) => k.startsWith("image_encoder.")));
});

test("thread count changed while encodes run: same embeddings, no crash", async () => {
    const image = golden.get("image/preprocessed")?.data as Float32Array;
    assert.ok(image, "golden image/preprocessed missing");
    const before = addon.systemInfo().threads;
    using enc = new addon.ImageEncoder(encoderWeights, { arch: "vit" });
    addon.setThreads(2);
    const want = Array.from((await enc.encode(image, 1)).embedding);
    let changes = 0;
    let running = true;
    const flip = (): void => {
        if (!running) return;
        addon.setThreads(1 + (changes++ % 4));
        setTimeout(flip, 1);
    };
    try {
        flip();
        const runs = 6;
        for (let r = 0; r < runs; r++) {
            const got = await enc.encode(image, 1);
            assert.equal(Array.from(got.embedding), want, `encode ${r} differs from the undisturbed one`);
        }
        assert.ok(changes >= runs, `only ${changes} thread-count changes during ${runs} encodes`);
    } finally {
        running = false;
        addon.setThreads(before);
    }
    assert.is(addon.systemInfo().threads, before);
});

test("gemmPeak measures the micro-kernel on setThreads' threads, off the JS thread; bad seconds are refused", async () => {
    const before = addon.systemInfo().threads;
    try {
        addon.setThreads(1);
        const p = addon.gemmPeak(0.05);
        assert.ok(p instanceof Promise, "gemmPeak returns a promise");
        const one = await p;
        assert.is(one.threads, 1);
        assert.is(one.isa, addon.systemInfo().isa);
        assert.ok(Number.isFinite(one.gflops) && one.gflops > 0.1, `gflops ${one.gflops}`);
    } finally {
        addon.setThreads(before);
    }
    assert.is((await addon.gemmPeak(0.05)).threads, before);
    for (const bad of [0, -1, 11, Number.NaN]) {
        try {
            await addon.gemmPeak(bad);
            assert.unreachable(`seconds ${bad} accepted`);
        } catch (e) {
            assert.is((e as { code?: string }).code, "ERR_SA_INVALID_ARG", `seconds ${bad}`);
        }
    }
});

test("gemmPeak('bf16') times the bf16 products kernel where the CPU level has one and is refused below it", async () => {
    const isa = addon.systemInfo().isa;
    if (isa === "avx512bf16" || isa === "amx") {
        const r = await addon.gemmPeak(0.05, "bf16");
        assert.is(r.isa, isa);
        assert.ok(Number.isFinite(r.gflops) && r.gflops > 0.1, `bf16 gflops ${r.gflops}`);
    } else {
        try {
            await addon.gemmPeak(0.05, "bf16");
            assert.unreachable(`bf16 peak measured at level ${isa}`);
        } catch (e) {
            assert.is((e as { code?: string }).code, "ERR_SA_UNSUPPORTED", String(e));
            assert.match(String((e as Error).message), /avx512bf16/);
        }
    }
    const fp32 = await addon.gemmPeak(0.05, "fp32");
    assert.ok(fp32.gflops > 0.1, `fp32 gflops ${fp32.gflops}`);
    for (const bad of ["fp16", "", 16] as unknown[]) {
        try {
            await addon.gemmPeak(0.05, bad as "fp32");
            assert.unreachable(`precision ${String(bad)} accepted`);
        } catch (e) {
            assert.ok(e instanceof TypeError || e instanceof RangeError, `precision ${String(bad)}: ${String(e)}`);
            assert.is((e as { code?: string }).code, "ERR_SA_INVALID_ARG", `precision ${String(bad)}`);
            assert.match(String((e as Error).message), /precision/);
        }
    }
});

test.run();
