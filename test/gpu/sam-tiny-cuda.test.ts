// The CUDA backend against the official outputs (fixtures/sam-tiny): image embedding, every decoder
// case, and the decoder's training losses. Skips itself when this build or machine has no CUDA device.
import { readCheckpoint, stateDictToFloat32Record } from "@sam-ablate/checkpoint";
import { loadAddon, type NativeWeights } from "@sam-ablate/native";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { assertClose, fixturePath, loadGolden } from "../helpers/fixtures.js";

const addon = loadAddon();
const cuda = addon.backends().cuda;

if (!cuda.available) {
    test.skip(`CUDA backend (skipped: ${cuda.reason ?? "no CUDA device"})`, () => {});
} else {
    test(`sam-tiny on ${cuda.device?.name}: embedding, decoder cases, training losses`, async () => {
        const golden = loadGolden("sam-tiny");
        const g = (k: string) => golden.get(k)?.data as Float32Array;
        const w: NativeWeights = stateDictToFloat32Record(
            (await readCheckpoint(fixturePath("sam-tiny", "sam_tiny.safetensors"))).tensors,
        );
        const part = (p: string[]) =>
            Object.fromEntries(Object.entries(w).filter(([k]) => p.some((x) => k.startsWith(x))));
        const enc = new addon.ImageEncoder(part(["image_encoder."]), { arch: "vit", backend: "cuda" });
        const { embedding } = await enc.encode(g("image/preprocessed"), 1);
        assertClose("image_embedding", embedding, g("image_embedding"), 1e-4, 1e-3);
        const dec = new addon.SamDecoder(part(["prompt_encoder.", "mask_decoder."]), {
            imgSize: 256,
            embedSize: 16,
            backend: "cuda",
        });
        const p = {
            batch: 1,
            nPoints: 10,
            points: g("case/points10_box/points_input"),
            labels: g("case/points10_box/labels"),
            boxes: g("case/points10_box/boxes_input"),
        };
        const { lowRes } = await dec.predictAll(g("image_embedding"), p);
        assertClose(
            "points10_box single",
            lowRes.subarray(0, 64 * 64),
            g("case/points10_box/single/low_res_logits"),
            1e-4,
            1e-3,
        );
        const tr = new addon.DecoderTrainer(dec, {});
        const losses: number[] = [];
        for (let s = 0; s < 3; s++) losses.push(await tr.step(g("image_embedding"), p, g("train/target_low_res")));
        assertClose("adam losses", losses, g("train/adam/losses"), 1e-4, 1e-4);
        assert.ok(true);
    });
}

test.run();
