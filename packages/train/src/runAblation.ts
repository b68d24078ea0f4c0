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
 *   results/<dataset>/<strategy>/seed<k>/{result.json, per-image.csv, decoder.safetensors, state/,
 *                                         predictions/<image id>.png}
 *   results/<dataset>/<strategy>/zeroshot/{result.json, per-image.csv}   the pretrained decoder, same prompts
 *   results.json                  everything the report needs (RunResults)
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { type SamModel, loadModel } from "@sam-ablate/model";
import { encodePng } from "@sam-ablate/image-io";
import { type Prompt, type StrategyDefinition, MaskIndex, rngFor, samplePrompt, summarizePromptReports, type PromptReport } from "@sam-ablate/samplers";
import { writeFileAtomicSync, writeJsonAtomic } from "./atomic.js";
import { canonicalJson } from "./EmbeddingCache.js";
import { type PreparedData, prepareDataset } from "./datasets.js";
import { ensureEmbeddings } from "./embed.js";
import { evaluateDecoder, evaluationPrompts } from "./evaluate.js";
import { type AblationPlan, type DatasetPlan, strategiesFor } from "./plan.js";
import { decoderProvenance, saveDecoderWeights } from "./checkpointing.js";
import { trainDecoder } from "./trainDecoder.js";
import { createHash } from "node:crypto";

/** Progress events for CLIs and logs. */
export type AblationEvent =
    | { type: "stage"; message: string }
    | { type: "progress"; task: string; done: number; total: number; detail?: string }
    | { type: "strategy-done"; dataset: string; strategy: string; seed: number; dice: number; iou: number; seconds: number; resumed: boolean; skipped: boolean }
    | { type: "zero-shot-done"; dataset: string; strategy: string; dice: number; iou: number; seconds: number; skipped: boolean };

export interface RunOptions {
    runDir: string;
    onEvent?: (e: AblationEvent) => void;
    signal?: AbortSignal;
    /** Embedding cache folder (default <runDir>/cache). */
    cacheDir?: string;
}

/** One evaluated test image: metrics as fractions (null = excluded, empty ground truth) and its prompt's make-up. */
export interface ImageRecord {
    imageId: string;
    patient: string;
    dice: number | null;
    iou: number | null;
    /** Positive and negative points and whether a box was given (absent in runs written before it was recorded). */
    prompt?: PromptCounts;
}

/** What a prompt consisted of. */
export interface PromptCounts {
    positives: number;
    negatives: number;
    box: boolean;
}

/** The make-up of a prompt. */
export function promptCounts(p: Prompt): PromptCounts {
    let positives = 0;
    for (const l of p.labels) if (l === 1) positives++;
    return { positives, negatives: p.labels.length - positives, box: p.box !== undefined };
}

function imageRecords(perImage: readonly { imageId: string; patient: string; dice: number | null; iou: number | null; prompt: Prompt }[]): ImageRecord[] {
    return perImage.map(({ imageId, patient, dice, iou, prompt }) => ({ imageId, patient, dice, iou, prompt: promptCounts(prompt) }));
}

export interface StrategyRecord {
    dataset: string;
    strategy: string;
    label: string;
    seed: number;
    perImage: ImageRecord[];
    excluded: number;
    meanDice: number;
    meanIou: number;
    epochLosses: number[];
    trainSeconds: number;
    evalSeconds: number;
    promptSummary: unknown;
    samples: { imageId: string; prompt: Prompt; dice: number | null }[];
}

/**
 * The pretrained (not fine-tuned) decoder of the model evaluated with a strategy's evaluation prompts
 * on the same test images: the zero-shot baseline of that strategy. It does not depend on the
 * training seed.
 */
export interface ZeroShotRecord {
    dataset: string;
    strategy: string;
    label: string;
    perImage: ImageRecord[];
    excluded: number;
    meanDice: number;
    meanIou: number;
    evalSeconds: number;
    promptSummary: unknown;
}

/** Error for a run folder that belongs to another plan. */
export class RunFolderError extends Error {
    readonly code = "ERR_SA_RUN_FOLDER";
    constructor(message: string) {
        super(message);
        this.name = "RunFolderError";
    }
}

/**
 * Hash of the parts of a plan that change the fine-tuned results (for resume safety). Whether the
 * zero-shot baseline is evaluated changes no fine-tuned result, so a run can add it later.
 */
export function planFingerprint(plan: AblationPlan): string {
    const { name: _n, report: _r, threads: _t, backend: _b, evaluation, ...rest } = plan;
    const { zeroShot: _z, ...evalRest } = evaluation;
    return createHash("sha256").update(canonicalJson({ ...rest, evaluation: evalRest })).digest("hex").slice(0, 16);
}

function strategyDir(runDir: string, dataset: string, strategy: string, seed: number): string {
    return path.join(runDir, "results", dataset, strategy, `seed${seed}`);
}

function zeroShotDir(runDir: string, dataset: string, strategy: string): string {
    return path.join(runDir, "results", dataset, strategy, "zeroshot");
}

/** Reads a finished zero-shot record, or undefined. */
export function readZeroShotRecord(runDir: string, dataset: string, strategy: string): ZeroShotRecord | undefined {
    const f = path.join(zeroShotDir(runDir, dataset, strategy), "result.json");
    if (!existsSync(f)) return undefined;
    try {
        return JSON.parse(readFileSync(f, "utf8")) as ZeroShotRecord;
    } catch {
        return undefined;
    }
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

const pct = (v: number | null): string => (v === null ? "" : String(v * 100));

/** The columns of a per-image table that describe one image's evaluation. */
export const PER_IMAGE_COLUMNS = ["image_id", "patient", "dice_pct", "iou_pct", "excluded", "prompt_positives", "prompt_negatives", "prompt_box"];

/** One image's cells for {@link PER_IMAGE_COLUMNS} (metrics in percent; empty = excluded or not recorded). */
export function perImageCells(p: ImageRecord): string[] {
    return [
        p.imageId,
        p.patient,
        pct(p.dice),
        pct(p.iou),
        p.dice === null ? "1" : "0",
        p.prompt ? String(p.prompt.positives) : "",
        p.prompt ? String(p.prompt.negatives) : "",
        p.prompt ? (p.prompt.box ? "1" : "0") : "",
    ];
}

/** Per-image metrics of one evaluation (one line per test image). */
function perImageCsv(rec: Pick<StrategyRecord, "perImage">): string {
    const lines = [PER_IMAGE_COLUMNS.join(",")];
    for (const p of rec.perImage) lines.push(perImageCells(p).map(csvCell).join(","));
    return `${lines.join("\n")}\n`;
}

/** A CSV cell, quoted when it holds a comma, quote or line break. */
export function csvCell(v: string): string {
    return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
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
        if (plan.evaluation.zeroShot) {
            const pretrained = model.newDecoder();
            for (const strat of strategies) {
                if (opts.signal?.aborted) throw opts.signal.reason ?? new Error("aborted");
                const done = readZeroShotRecord(runDir, d.name, strat.id);
                const rec = done ?? (await runZeroShot(plan, d, data, emb, model, pretrained, strat, runDir));
                emit({ type: "zero-shot-done", dataset: d.name, strategy: strat.id, dice: rec.meanDice, iou: rec.meanIou, seconds: done ? 0 : rec.evalSeconds, skipped: done !== undefined });
            }
        }
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

/** Evaluates the pretrained decoder with a strategy's evaluation prompts (decoder forward only). */
async function runZeroShot(
    plan: AblationPlan,
    d: DatasetPlan,
    data: PreparedData,
    emb: { test: (i: number) => Float32Array },
    model: SamModel,
    decoder: ReturnType<SamModel["newDecoder"]>,
    strat: StrategyDefinition,
    runDir: string,
): Promise<ZeroShotRecord> {
    const t0 = performance.now();
    const reports: PromptReport[] = [];
    const test = { ids: data.test.ids, patients: data.test.patients, height: data.height, width: data.width, embedding: emb.test, mask: (i: number) => data.test.mask(i) };
    const result = await evaluateDecoder(decoder, test, evaluationPrompts(test, strat.plan, plan.evaluation.seed, reports), {
        imgSize: model.imgSize,
        ignoreEmpty: plan.evaluation.ignoreEmpty,
    });
    const rec: ZeroShotRecord = {
        dataset: d.name,
        strategy: strat.id,
        label: strat.label,
        perImage: imageRecords(result.perImage),
        excluded: result.excluded,
        meanDice: result.meanDice,
        meanIou: result.meanIou,
        evalSeconds: (performance.now() - t0) / 1000,
        promptSummary: summarizePromptReports(reports),
    };
    const dir = zeroShotDir(runDir, d.name, strat.id);
    mkdirSync(dir, { recursive: true });
    writeFileAtomicSync(path.join(dir, "per-image.csv"), perImageCsv(rec));
    writeJsonAtomic(path.join(dir, "result.json"), rec);
    return rec;
}

/** How many predictions of a strategy's evaluation are saved: "all" or the first N, and at least the overlay samples. */
function predictionsToKeep(plan: AblationPlan): number {
    const save = plan.report.savePredictions;
    if (save === "all") return Number.POSITIVE_INFINITY;
    return Math.max(save ?? 0, plan.report.samplesPerStrategy);
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
    const test = { ids: data.test.ids, patients: data.test.patients, height: data.height, width: data.width, embedding: emb.test, mask: (i: number) => data.test.mask(i) };
    const result = await evaluateDecoder(decoder, test, evaluationPrompts(test, strat.plan, plan.evaluation.seed, reports), {
        imgSize: model.imgSize,
        ignoreEmpty: plan.evaluation.ignoreEmpty,
        keepPredictions: predictionsToKeep(plan),
    });
    const evalSeconds = (performance.now() - t1) / 1000;
    const rec: StrategyRecord = {
        dataset: d.name,
        strategy: strat.id,
        label: strat.label,
        seed,
        perImage: imageRecords(result.perImage),
        excluded: result.excluded,
        meanDice: result.meanDice,
        meanIou: result.meanIou,
        epochLosses: train.epochLosses,
        trainSeconds,
        evalSeconds,
        promptSummary: summarizePromptReports(reports),
        samples: result.perImage
            .filter((p) => result.predictions.has(p.imageId))
            .slice(0, plan.report.samplesPerStrategy)
            .map((p) => ({ imageId: p.imageId, prompt: p.prompt, dice: p.dice })),
    };
    // Binary masks at the patch resolution, 0 = background, 255 = predicted tumour.
    for (const [id, pred] of result.predictions) {
        const png = await encodePng({ width: data.width, height: data.height, channels: 1, data: pred.map((v) => (v ? 255 : 0)) });
        writeFileAtomicSync(path.join(dir, "predictions", `${id}.png`), png);
    }
    await saveDecoderWeights(path.join(dir, "decoder.safetensors"), decoder, decoderProvenance(model));
    writeFileAtomicSync(path.join(dir, "per-image.csv"), perImageCsv(rec));
    // result.json last: its presence marks the strategy as finished.
    writeJsonAtomic(path.join(dir, "result.json"), rec);
    emit({ type: "strategy-done", dataset: d.name, strategy: strat.id, seed, dice: rec.meanDice, iou: rec.meanIou, seconds: trainSeconds + evalSeconds, resumed: train.resumedFrom > 0, skipped: false });
    return rec;
}
