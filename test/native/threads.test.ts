// setThreads (what --threads calls) while encodes run on the worker pool: the CPU backend's thread
// pool is replaced under running work without a crash, and every encode gives the bits of an
// undisturbed one.
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

test.run();
