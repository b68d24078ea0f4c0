// The native SAM (ViT encoder, prompt encoder, mask decoder, decoder training) against the official
// PyTorch outputs in fixtures/sam-tiny, with the weights read from each of the three weight files.
import { readCheckpoint, stateDictToFloat32Record } from "@sam-ablate/checkpoint";
import { normalizeAndPad, resizeBilinearU8, resizeLongestSideShape, SamFrame } from "@sam-ablate/model";
import { loadAddon, type NativePrompts, type NativeWeights } from "@sam-ablate/native";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { expectThrowsCode } from "../helpers/expect-code.js";
import { assertClose, bitEqual, fixturePath, loadGolden, maxDiff } from "../helpers/fixtures.js";

const golden = loadGolden("sam-tiny");
const g = (k: string) => {
    const t = golden.get(k);
    if (!t) throw new Error(`golden tensor ${k} missing`);
    return t;
};
const CASES = ["points3", "box", "points10_box", "points100_box", "centroid1", "box_mask", "two_boxes"];
const ABS = 1e-4;
const REL = 1e-3;

function pick(w: NativeWeights, prefixes: string[]): NativeWeights {
    return Object.fromEntries(Object.entries(w).filter(([k]) => prefixes.some((p) => k.startsWith(p))));
}

function casePrompts(name: string): NativePrompts {
    const has = (k: string) => golden.has(`case/${name}/${k}`);
    const boxes = has("boxes_input") ? g(`case/${name}/boxes_input`) : undefined;
    const B = boxes ? boxes.data.length / 4 : 1;
    const out: NativePrompts = { batch: B, nPoints: 0 };
    if (has("points_input")) {
        const pts = g(`case/${name}/points_input`);
        out.nPoints = pts.data.length / 2 / B;
        out.points = pts.data;
        out.labels = g(`case/${name}/labels`).data;
    }
    if (boxes) out.boxes = boxes.data;
    if (has("mask_input")) out.maskInput = g(`case/${name}/mask_input`).data;
    return out;
}

for (const file of ["sam_tiny.safetensors", "sam_tiny.pth", "sam_tiny_nested_fp16.pth"]) {
    const fp16 = file.includes("fp16");
    const test = suite(`sam-tiny from ${file}`);
    const addon = loadAddon();
    let weights: NativeWeights = {};

    test.before(async () => {
        const ckpt = await readCheckpoint(fixturePath("sam-tiny", file));
        weights = stateDictToFloat32Record(ckpt.tensors);
    });

    // fp16 weights are not the fixture's weights (they are rounded): compare only the fp32 files
    // tightly; the fp16 file must load and produce close outputs.
    const abs = fp16 ? 5e-2 : ABS;
    const rel = fp16 ? 5e-2 : REL;

    test("preprocessing: ResizeLongestSide (PIL bilinear) and normalisation", () => {
        const img = g("image/original_hwc_u8");
        const [h, w] = [img.shape[0] as number, img.shape[1] as number];
        const [nh, nw] = resizeLongestSideShape(h, w, 256);
        assert.equal([nh, nw], [181, 256]);
        const resized = resizeBilinearU8(Uint8Array.from(img.data), h, w, 3, nh, nw);
        const ref = g("image/resized_hwc_u8").data;
        let worst = 0;
        for (let i = 0; i < ref.length; i++)
            worst = Math.max(worst, Math.abs((resized[i] as number) - (ref[i] as number)));
        assert.ok(worst <= 1, `resize differs by ${worst} (allowed 1)`);
        const pre = normalizeAndPad(Uint8Array.from(ref), nh, nw, 256);
        assertClose("preprocessed", pre, g("image/preprocessed").data, 1e-5, 1e-6);
    });

    test("image encoder: patch embed, every block, image embedding", async () => {
        const enc = new addon.ImageEncoder(pick(weights, ["image_encoder."]), { arch: "vit" });
        assert.is(enc.info.imgSize, 256);
        assert.is(enc.info.embedSize, 16);
        const { embedding, taps } = await enc.encode(g("image/preprocessed").data, 1, { taps: true });
        assert.ok(taps);
        assertClose("patch_embed", taps?.patch_embed as Float32Array, g("encoder/patch_embed").data, abs, rel);
        for (let b = 0; b < 4; b++)
            assertClose(`block${b}`, taps?.[`block${b}`] as Float32Array, g(`encoder/block${b}`).data, abs, rel);
        assertClose("image_embedding", embedding, g("image_embedding").data, abs, rel);
    });

    test("prompt encoder and mask decoder: every case, single and multi", async () => {
        const dec = new addon.SamDecoder(pick(weights, ["prompt_encoder.", "mask_decoder."]), {
            imgSize: 256,
            embedSize: 16,
        });
        assertClose("dense_pe", dec.densePe(), g("dense_pe").data, abs, rel);
        const emb = g("image_embedding").data;
        for (const name of CASES) {
            const p = casePrompts(name);
            const enc = dec.encodePrompts(p);
            assertClose(`${name} sparse`, enc.sparse, g(`case/${name}/sparse`).data, abs, rel);
            if (golden.has(`case/${name}/dense`))
                assertClose(`${name} dense`, enc.dense, g(`case/${name}/dense`).data, abs, rel);
            const { lowRes, iou } = await dec.predictAll(emb, p);
            const B = p.batch;
            const m = 64;
            const sel = (first: number, M: number) => {
                const out = new Float32Array(B * M * m * m);
                const io = new Float32Array(B * M);
                for (let b = 0; b < B; b++) {
                    out.set(lowRes.subarray((b * 4 + first) * m * m, (b * 4 + first + M) * m * m), b * M * m * m);
                    io.set(iou.subarray(b * 4 + first, b * 4 + first + M), b * M);
                }
                return { out, io };
            };
            const single = sel(0, 1);
            const multi = sel(1, 3);
            // the same tokens computed alone (firstMask / maskCount): the same bits, all four IoUs
            for (const [firstMask, maskCount, want] of [
                [0, 1, single.out],
                [1, 3, multi.out],
            ] as const) {
                const alone = await dec.predictAll(emb, p, { firstMask, maskCount });
                assert.ok(bitEqual(alone.lowRes, want), `${name}: tokens ${firstMask}+${maskCount} alone differ`);
                assert.ok(bitEqual(alone.iou, iou), `${name}: IoUs with tokens ${firstMask}+${maskCount} differ`);
            }
            for (const bad of [{ firstMask: 4 }, { firstMask: -1 }, { maskCount: 0 }, { firstMask: 2, maskCount: 3 }])
                expectThrowsCode(() => dec.predictAll(emb, p, bad), "ERR_SA_INVALID_ARG", /mask tokens firstMask/);
            for (const bad of [{ firstMask: Number.NaN }, { maskCount: 1.5 }, { firstMask: Number.POSITIVE_INFINITY }])
                expectThrowsCode(() => dec.predictAll(emb, p, bad), "ERR_SA_INVALID_ARG", /expected an integer/);
            expectThrowsCode(
                () => dec.predictAll(emb, p, { maskCount: "2" as unknown as number }),
                "ERR_SA_INVALID_ARG",
                /expected a number/,
            );
            assertClose(`${name} single logits`, single.out, g(`case/${name}/single/low_res_logits`).data, abs, rel);
            assertClose(`${name} single iou`, single.io, g(`case/${name}/single/iou_pred`).data, abs, rel);
            assertClose(`${name} multi logits`, multi.out, g(`case/${name}/multi/low_res_logits`).data, abs, rel);
            assertClose(`${name} multi iou`, multi.io, g(`case/${name}/multi/iou_pred`).data, abs, rel);
            if (golden.has(`case/${name}/single/masks_original_logits`)) {
                const frame = new SamFrame(120, 170, 256);
                assert.equal([...frame.inputSize], [181, 256]);
                const orig = frame.postprocessMasks(single.out, B, m, m);
                assertClose(
                    `${name} original-size logits`,
                    orig,
                    g(`case/${name}/single/masks_original_logits`).data,
                    fp16 ? 5e-2 : 2e-4,
                    rel,
                );
            }
        }
    });

    test("point coordinates: ResizeLongestSide transform of the original-pixel prompts", () => {
        for (const name of CASES) {
            if (!golden.has(`case/${name}/points_original`)) continue;
            const got = new SamFrame(120, 170, 256).applyCoords(g(`case/${name}/points_original`).data);
            assertClose(`${name} points_input`, got, g(`case/${name}/points_input`).data, 1e-4, 1e-6);
        }
    });

    if (!fp16) {
        // The fixture's gradients are PyTorch's at the initial weights: every tensor is compared on its
        // own (max abs error <= 1e-3 of the reference's max magnitude); a reference that is zero up to
        // rounding (k_proj biases: softmax is shift invariant; parameters with no gradient path) is
        // judged by its absolute error, <= 1e-6.
        test("decoder training: loss values, per-tensor gradients, Adam and AdamW trajectories", async () => {
            const decW = pick(weights, ["prompt_encoder.", "mask_decoder."]);
            const emb = g("image_embedding").data;
            const target = g("train/target_low_res").data;
            const p = casePrompts("points10_box");
            for (const loss of ["dicece", "medsam", "sam"] as const) {
                const dec = new addon.SamDecoder(decW, { imgSize: 256, embedSize: 16 });
                const tr = new addon.DecoderTrainer(dec, { loss });
                const value = await tr.lossAndGrad(emb, p, target);
                assertClose(`${loss} loss`, [value], g(`train/${loss}/loss`).data, 1e-5, 1e-5);
                const pre = `train/${loss}/grad/`;
                let compared = 0;
                for (const k of golden.keys()) {
                    if (!k.startsWith(pre)) continue;
                    const name = `mask_decoder.${k.slice(pre.length)}`;
                    const d = maxDiff(tr.getGrad(name), g(k).data);
                    const nearZero = d.refMax <= 1e-6;
                    assert.ok(
                        nearZero ? d.maxAbs <= 1e-6 : d.maxAbs <= 1e-3 * d.refMax,
                        `${loss} ${name}: max abs error ${d.maxAbs.toExponential(3)}, ref max ${d.refMax.toExponential(3)}`,
                    );
                    compared++;
                }
                assert.ok(compared >= 8, `${loss}: ${compared} gradient tensors compared`);
            }
            for (const optimizer of ["adam", "adamw"] as const) {
                const d2 = new addon.SamDecoder(decW, { imgSize: 256, embedSize: 16 });
                const t2 = new addon.DecoderTrainer(d2, { optimizer, lr: 1e-4, weightDecay: 1e-4 });
                const losses: number[] = [];
                for (let s = 0; s < 3; s++) losses.push(await t2.step(emb, p, target));
                assertClose(`${optimizer} losses`, losses, g(`train/${optimizer}/losses`).data, 1e-5, 1e-4);
                const pre = `train/${optimizer}/after/`;
                let watched = 0;
                for (const k of golden.keys()) {
                    if (!k.startsWith(pre)) continue;
                    const name = `mask_decoder.${k.slice(pre.length)}`;
                    assertClose(`${optimizer} ${name}`, d2.getParam(name), g(k).data, 1e-6, 1e-4);
                    watched++;
                }
                assert.is(watched, 7, `${optimizer}: watched parameters compared`);
            }
        });
    }

    test.run();
}
