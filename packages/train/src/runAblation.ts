/**
 * Runs an ablation plan end to end into a run folder: prepares the datasets, caches the image
 * embeddings once per (dataset, model), fine-tunes a fresh copy of the pretrained mask decoder for
 * each (dataset, strategy, seed), evaluates it, and writes per-strategy results atomically. A rerun
 * with the same folder skips finished work and resumes an interrupted training at its last epoch.
 *
 * Run folder:
 *   config.json                   the resolved plan
 *   data/<dataset>/               prepared patches + manifest (phantoms and raw datasets)
 *   cache/                        embedding caches
 *   results/<dataset>/<strategy>/seed<k>/{result.json, per-image.csv, decoder.safetensors, state/}
 *   results.json                  everything the report needs (RunResults)
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { type SamModel, loadModel } from "@sam-ablate/model";
import { type Prompt, type StrategyDefinition, MaskIndex, rngFor, samplePrompt, summarizePromptReports, type PromptReport } from "@sam-ablate/samplers";
import { writeFileAtomicSync, writeJsonAtomic } from "./atomic.js";
import { canonicalJson } from "./EmbeddingCache.js";
import { type PreparedData, prepareDataset } from "./datasets.js";
import { ensureEmbeddings } from "./embed.js";
import { evaluateDecoder } from "./evaluate.js";
import { type AblationPlan, type DatasetPlan, strategiesFor } from "./plan.js";
import { saveDecoderWeights } from "./checkpointing.js";
import { trainDecoder } from "./trainDecoder.js";
import { createHash } from "node:crypto";

/** Progress events for CLIs and logs. */
export type AblationEvent =
    | { type: "stage"; message: string }
    | { type: "progress"; task: string; done: number; total: number; detail?: string }
    | { type: "strategy-done"; dataset: string; strategy: string; seed: number; dice: number; iou: number; seconds: number; resumed: boolean; skipped: boolean };

export interface RunOptions {
    runDir: string;
    onEvent?: (e: AblationEvent) => void;
    signal?: AbortSignal;
    /** Embedding cache folder (default <runDir>/cache). */
    cacheDir?: string;
}

export interface StrategyRecord {
    dataset: string;
    strategy: string;
    label: string;
    seed: number;
    perImage: { imageId: string; patient: string; dice: number | null; iou: number | null }[];
    excluded: number;
    meanDice: number;
    meanIou: number;
    epochLosses: number[];
    trainSeconds: number;
    evalSeconds: number;
    promptSummary: unknown;
    samples: { imageId: string; prompt: Prompt; dice: number | null }[];
}

/** Error for a run folder that belongs to another plan. */
export class RunFolderError extends Error {
    readonly code = "ERR_SA_RUN_FOLDER";
    constructor(message: string) {
        super(message);
        this.name = "RunFolderError";
    }
}

/** Hash of the parts of a plan that change results (for resume safety). */
export function planFingerprint(plan: AblationPlan): string {
    const { name: _n, report: _r, threads: _t, backend: _b, ...rest } = plan;
    return createHash("sha256").update(canonicalJson(rest)).digest("hex").slice(0, 16);
}

function strategyDir(runDir: string, dataset: string, strategy: string, seed: number): string {
    return path.join(runDir, "results", dataset, strategy, `seed${seed}`);
}

/** Reads a finished strategy record, or undefined. */
export function readStrategyRecord(runDir: string, dataset: string, strategy: string, seed: number): StrategyRecord | undefined {
    const f = path.join(strategyDir(runDir, dataset, strategy, seed), "result.json");
    if (!existsSync(f)) return undefined;
    try {
        return JSON.parse(readFileSync(f, "utf8")) as StrategyRecord;
    } catch {
        return undefined;
    }
}

function perImageCsv(rec: StrategyRecord): string {
    const lines = ["image_id,patient,dice,iou"];
    for (const p of rec.perImage) lines.push(`${p.imageId},${p.patient},${p.dice ?? ""},${p.iou ?? ""}`);
    return `${lines.join("\n")}\n`;
}

/** Runs (or resumes) a plan. Returns every strategy record, in plan order. */
export async function runAblation(plan: AblationPlan, opts: RunOptions): Promise<{ records: StrategyRecord[]; model: SamModel; data: PreparedData[] }> {
    const { runDir } = opts;
    const emit = opts.onEvent ?? (() => {});
    mkdirSync(runDir, { recursive: true });
    const fingerprint = planFingerprint(plan);
    const configFile = path.join(runDir, "config.json");
    if (existsSync(configFile)) {
        let prev: { fingerprint?: string } = {};
        try {
            prev = JSON.parse(readFileSync(configFile, "utf8"));
        } catch {
            throw new RunFolderError(`${configFile}: unreadable; use another run folder`);
        }
        if (prev.fingerprint !== fingerprint) {
            throw new RunFolderError(
                `${runDir} holds a run of another plan (fingerprint ${prev.fingerprint}, this plan ${fingerprint}); ` +
                    "use a new --out folder to start a new run",
            );
        }
    }
    writeJsonAtomic(configFile, { fingerprint, plan });

    emit({ type: "stage", message: `loading model ${plan.model.name}` });
    const model = await loadModel({ name: plan.model.name, checkpoint: plan.model.checkpoint, backend: plan.backend });

    const prepared: PreparedData[] = [];
    for (const d of plan.datasets) {
        emit({ type: "stage", message: `preparing dataset ${d.name}` });
        prepared.push(await prepareDataset(d, plan, runDir));
    }

    const records: StrategyRecord[] = [];
    for (let di = 0; di < plan.datasets.length; di++) {
        const d = plan.datasets[di] as DatasetPlan;
        const data = prepared[di] as PreparedData;
        emit({ type: "stage", message: `embedding ${d.name} (${data.train.ids.length} train + ${data.test.ids.length} test patches)` });
        const emb = await ensureEmbeddings(model, data, opts.cacheDir ?? path.join(runDir, "cache"), (done, total) =>
            emit({ type: "progress", task: `embed ${d.name}`, done, total }),
        opts.signal);
        const strategies = strategiesFor(plan, d);
        for (const strat of strategies) {
            for (const seed of plan.training.seeds) {
                if (opts.signal?.aborted) throw opts.signal.reason ?? new Error("aborted");
                const done = readStrategyRecord(runDir, d.name, strat.id, seed);
                if (done) {
                    records.push(done);
                    emit({ type: "strategy-done", dataset: d.name, strategy: strat.id, seed, dice: done.meanDice, iou: done.meanIou, seconds: 0, resumed: false, skipped: true });
                    continue;
                }
                const rec = await runStrategy(plan, d, data, emb, model, strat, seed, fingerprint, opts);
                records.push(rec);
            }
        }
    }
    return { records, model, data: prepared };
}

async function runStrategy(
    plan: AblationPlan,
    d: DatasetPlan,
    data: PreparedData,
    emb: { train: (i: number) => Float32Array; test: (i: number) => Float32Array },
    model: SamModel,
    strat: StrategyDefinition,
    seed: number,
    fingerprint: string,
    opts: RunOptions,
): Promise<StrategyRecord> {
    const emit = opts.onEvent ?? (() => {});
    const dir = strategyDir(opts.runDir, d.name, strat.id, seed);
    mkdirSync(dir, { recursive: true });
    const decoder = model.newDecoder();
    const trainer = model.newTrainer(decoder, {
        loss: plan.training.loss,
        optimizer: plan.training.optimizer,
        lr: plan.training.lr,
        weightDecay: plan.training.weightDecay,
        gradClipNorm: plan.training.gradClipNorm,
    });
    const trainIdx = data.train.ids.map((id, i) => new MaskIndex({ width: data.width, height: data.height, data: data.train.mask(i) }, id));
    const E4 = 4 * model.embedSize;
    const targets = new Map<number, Float32Array>();
    const target = (i: number): Float32Array => {
        let t = targets.get(i);
        if (!t) {
            t = data.train.target(i, E4, model.imgSize);
            targets.set(i, t);
        }
        return t;
    };
    const t0 = performance.now();
    const label = `${d.name} ${strat.id} seed ${seed}`;
    const total = plan.training.epochs * plan.training.stepsPerEpoch;
    const train = await trainDecoder(
        decoder,
        trainer,
        { ids: data.train.ids, height: data.height, width: data.width, embedding: emb.train, target },
        (i, step) => samplePrompt(trainIdx[i] as MaskIndex, strat.plan, rngFor(seed, data.train.ids[i] as string, step), data.train.ids[i]).prompt,
        {
            epochs: plan.training.epochs,
            stepsPerEpoch: plan.training.stepsPerEpoch,
            batch: plan.training.batch,
            seed,
            imgSize: model.imgSize,
            stateDir: path.join(dir, "state"),
            fingerprint: `${fingerprint}:${d.name}:${strat.id}:${seed}`,
            onStep: (s) => {
                if (s.step === plan.training.stepsPerEpoch - 1 || s.globalStep % 5 === 0) {
                    emit({ type: "progress", task: `train ${label}`, done: s.globalStep + 1, total, detail: `loss ${s.loss.toFixed(4)}` });
                }
            },
            signal: opts.signal,
        },
    );
    const trainSeconds = (performance.now() - t0) / 1000;
    const t1 = performance.now();
    const reports: PromptReport[] = [];
    const evalSeed = plan.evaluation.seed;
    const result = await evaluateDecoder(
        decoder,
        { ids: data.test.ids, patients: data.test.patients, height: data.height, width: data.width, embedding: emb.test, mask: (i) => data.test.mask(i) },
        (i) => {
            const mask = data.test.mask(i);
            if (!mask.some((v) => v !== 0)) return null;
            const s = samplePrompt({ width: data.width, height: data.height, data: mask }, strat.plan, rngFor(evalSeed, data.test.ids[i] as string, 0, "eval"), data.test.ids[i]);
            reports.push(s.report);
            return s.prompt;
        },
        { imgSize: model.imgSize, ignoreEmpty: plan.evaluation.ignoreEmpty, keepPredictions: plan.report.samplesPerStrategy },
    );
    const evalSeconds = (performance.now() - t1) / 1000;
    const rec: StrategyRecord = {
        dataset: d.name,
        strategy: strat.id,
        label: strat.label,
        seed,
        perImage: result.perImage.map(({ imageId, patient, dice, iou }) => ({ imageId, patient, dice, iou })),
        excluded: result.excluded,
        meanDice: result.meanDice,
        meanIou: result.meanIou,
        epochLosses: train.epochLosses,
        trainSeconds,
        evalSeconds,
        promptSummary: summarizePromptReports(reports),
        samples: result.perImage.filter((p) => result.predictions.has(p.imageId)).map((p) => ({ imageId: p.imageId, prompt: p.prompt, dice: p.dice })),
    };
    for (const [id, pred] of result.predictions) writeFileAtomicSync(path.join(dir, "predictions", `${id}.bin`), pred);
    await saveDecoderWeights(path.join(dir, "decoder.safetensors"), decoder);
    writeFileAtomicSync(path.join(dir, "per-image.csv"), perImageCsv(rec));
    // result.json last: its presence marks the strategy as finished.
    writeJsonAtomic(path.join(dir, "result.json"), rec);
    emit({ type: "strategy-done", dataset: d.name, strategy: strat.id, seed, dice: rec.meanDice, iou: rec.meanIou, seconds: trainSeconds + evalSeconds, resumed: train.resumedFrom > 0, skipped: false });
    return rec;
}
