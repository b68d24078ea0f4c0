/**
 * Runs an ablation plan end to end into a run folder (layout, locks and atomic writes:
 * @sam-ablate/run-folder): prepares the datasets, caches the image embeddings once per (dataset,
 * model), evaluates each strategy's zero-shot baseline, fine-tunes a fresh copy of the pretrained mask
 * decoder for each unit (dataset x strategy x seed, x fold with cross-validation; one embedding
 * cache serves all folds), evaluates it, and finishes the unit atomically
 * (result.json last). The plan runs as work units (units.ts, run-units.ts): a whole run holds the
 * folder's lock (one whole run at a time) and each unit's lock; a run of single units (`unit`,
 * `shard`, `stage`: array tasks sharing one folder) takes only the locks of its units. Temporary
 * files of killed processes are removed; a rerun skips finished units and resumes an interrupted
 * training at its last kept epoch. Timings go to each unit's timing.json, so result.json,
 * per-image.csv and the decoder are the same bytes however the run is split. run.json records where and with what the run was made; run.log its events. With
 * validation a unit also keeps decoder-last.safetensors (selection best-val) or
 * decoder-best-val.safetensors (selection last).
 */
import { createHash } from "node:crypto";
import { rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { encodePng } from "@sam-ablate/image-io";
import { loadModel, preprocessImage, SamFrame, type SamModel } from "@sam-ablate/model";
import { loadAddon, type TrainerOptions } from "@sam-ablate/native";
import {
    FileLock,
    type Invocation,
    type PerImageRecord,
    RunFolder,
    RunFolderError,
    removeStaleTemps,
    type SelectionRecord,
    slurmInfo,
    type TrainUnit,
    type UnitRecord,
    type ValidationRecord,
    type ZeroShotRecord,
    type ZeroShotUnit,
} from "@sam-ablate/run-folder";
import {
    type Arm,
    armPromptPlan,
    MaskIndex,
    type Prompt,
    type PromptReport,
    rngFor,
    type StrategyDefinition,
    samplePrompt,
    summarizePromptReports,
} from "@sam-ablate/samplers";
import { type AblationPlan, type DatasetPlan, loraSettings, scheduledLr, type TrainingPlan } from "./ablation-plan.js";
import { decoderProvenance, saveDecoderWeights } from "./checkpointing.js";
import type { PreparedData } from "./datasets.js";
import { diskPlace, diskSpaceWarnings, diskUseText, estimateDiskUse } from "./disk-use.js";
import type { SplitEmbeddings } from "./embed.js";
import { canonicalJson } from "./embedding-cache.js";
import { type EvalResult, evaluateDecoder, evaluateHead, evaluationPrompts, type TestSet } from "./evaluate.js";
import { newHead, saveHeadWeights } from "./heads.js";
import { checkPlanInputs } from "./inputs.js";
import { loraTraining, saveLoraWeights } from "./lora.js";
import { runUnits, type UnitRunOptions } from "./run-units.js";
import {
    type BatchStep,
    decoderStep,
    type TrainedModel,
    type TrainerState,
    type TrainOptions,
    trainLoop,
} from "./train-decoder.js";

/** Progress events for CLIs and logs. */
export type AblationEvent =
    | { type: "stage"; message: string }
    | { type: "info"; message: string }
    | { type: "progress"; task: string; done: number; total: number; detail?: string }
    | {
          type: "strategy-done";
          dataset: string;
          strategy: string;
          seed: number;
          fold?: number;
          dice: number;
          iou: number;
          seconds: number;
          resumed: boolean;
          skipped: boolean;
      }
    | {
          type: "zero-shot-done";
          dataset: string;
          strategy: string;
          fold?: number;
          dice: number;
          iou: number;
          seconds: number;
          skipped: boolean;
      };

export interface RunOptions {
    runDir: string;
    onEvent?: (e: AblationEvent) => void;
    signal?: AbortSignal;
    /** Embedding cache folder (default <runDir>/cache). */
    cacheDir?: string;
    /**
     * Epoch states kept per unit once it is done (default 0: its state/ folder is removed then). While
     * it trains the last state is always kept (it is what a resume starts from), and up to N in all.
     */
    keepCheckpoints?: number;
    /** Wait for another process that holds the folder (true, or ms); default: fail with ERR_SA_LOCKED. */
    waitForLock?: boolean | number;
    /** What runs, for the lock and run.json (e.g. "sam-ablate ablate"), and the tool's version and commit. */
    command?: string;
    tool?: { name: string; version: string; commit?: string };
}

/** One evaluated test image: metrics as fractions (null = excluded, empty ground truth) and its prompt's make-up. */
export type ImageRecord = PerImageRecord;

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

function imageRecords(
    perImage: readonly { imageId: string; patient: string; dice: number | null; iou: number | null; prompt: Prompt }[],
): ImageRecord[] {
    return perImage.map(({ imageId, patient, dice, iou, prompt }) => ({
        imageId,
        patient,
        dice,
        iou,
        prompt: promptCounts(prompt),
    }));
}

/** A train unit's record as the runner holds it: the run folder's `UnitRecord` with the samples' prompts as drawn. */
export interface StrategyRecord extends Omit<UnitRecord, "samples"> {
    samples: { imageId: string; prompt: Prompt; dice: number | null }[];
    /** Epochs trained (fewer than planned when early stopping ended the run). */
    epochsRun?: number;
}

/** The validation and selection parts of a unit record (their format is the run folder's). */
/**
 * The pretrained (not fine-tuned) decoder of the model evaluated with a strategy's evaluation prompts
 * on the same test images: the zero-shot baseline of that strategy (the run folder's record). It does
 * not depend on the training seed.
 */
export type { SelectionRecord, ValidationRecord, ZeroShotRecord };

export { RunFolderError };

/**
 * Hash of the parts of a plan that change the fine-tuned results (for resume safety). Whether the
 * zero-shot baseline is evaluated changes no fine-tuned result, so a run can add it later; nor does
 * which cross-validation folds a call runs (the folds of one run can be run one call at a time, or
 * spread over processes): only that the dataset is cross-validated, and its K, are hashed. A dataset
 * without folds hashes as before folds existed.
 */
export function planFingerprint(plan: AblationPlan): string {
    const {
        name: _n,
        report: _r,
        threads: _t,
        backend: _b,
        embedShards: _e,
        evaluation,
        validation,
        training,
        datasets,
        ...rest
    } = plan;
    const { zeroShot: _z, ...evalRest } = evaluation;
    // The paper's protocol (no validation, constant lr) hashes as it did before these options existed,
    // so its run folders resume.
    const { schedule, ...trainRest } = training;
    const hashed = {
        ...rest,
        datasets: datasets.map((d) => (d.folds === undefined ? d : { ...d, folds: "cross-validation" })),
        training:
            (schedule as TrainingPlan["schedule"] | undefined)?.type === "constant" || !schedule ? trainRest : training,
        ...(validation === "none" || validation === undefined ? {} : { validation }),
        evaluation: evalRest,
    };
    return createHash("sha256").update(canonicalJson(hashed)).digest("hex").slice(0, 16);
}

/** Reads a finished zero-shot record, or undefined (an invalid record is an error naming the file). */
export function readZeroShotRecord(
    runDir: string,
    dataset: string,
    strategy: string,
    fold?: number,
): ZeroShotRecord | undefined {
    return new RunFolder(runDir).zeroShotUnit(dataset, strategy, fold).readResult();
}

/** Reads a finished strategy record, or undefined when the unit is not done (an invalid record is an error). */
export function readStrategyRecord(
    runDir: string,
    dataset: string,
    strategy: string,
    seed: number,
    fold?: number,
): StrategyRecord | undefined {
    return new RunFolder(runDir)
        .unit({ dataset, strategy, seed, ...(fold === undefined ? {} : { fold }) })
        .readResult() as StrategyRecord | undefined;
}

const pct = (v: number | null): string => (v === null ? "" : String(v * 100));

/** The columns of a per-image table that describe one image's evaluation. */
export const PER_IMAGE_COLUMNS = [
    "image_id",
    "patient",
    "dice_pct",
    "iou_pct",
    "excluded",
    "prompt_positives",
    "prompt_negatives",
    "prompt_box",
];

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

/**
 * Runs (or resumes) a plan, or the part of it that `opts` selects (a stage, a shard, a unit; see
 * runUnits). Returns every finished strategy record, in plan order.
 */
export async function runAblation(
    plan: AblationPlan,
    opts: UnitRunOptions,
): Promise<{ records: StrategyRecord[]; model: SamModel; data: PreparedData[] }> {
    const folder = new RunFolder(opts.runDir);
    const emit = opts.onEvent ?? (() => {});
    const say = (message: string) => {
        emit({ type: "info", message });
        folder.log(message);
    };
    const fingerprint = planFingerprint(plan);
    const command = opts.command ?? "sam-ablate";
    // A whole run owns the folder; a run of single units (array tasks) shares it through unit locks.
    const whole = !opts.unit && !opts.shard && !opts.stage;
    const takeLock = () =>
        folder.lock({
            owner: command,
            wait: opts.waitForLock ?? false,
            onWait: (h) =>
                emit({
                    type: "info",
                    message: `waiting for ${h.owner} (pid ${h.pid} on ${h.host}) to finish with ${folder.dir}`,
                }),
            onTakeover: (prev, reason) =>
                say(
                    `took over the lock of ${prev ? `${prev.owner} (pid ${prev.pid} on ${prev.host})` : "an unknown process"}: ${reason}`,
                ),
            onLost: (by) =>
                say(
                    `the lock was taken over by ${by ? `pid ${by.pid} on ${by.host}` : "another process"}; stopping after this step`,
                ),
        });
    // run.json is shared by every process of the folder: its updates go through a short lock.
    const provenance = async (fn: () => void) => {
        const guard = await FileLock.acquire(`${folder.provenanceFile}.lock`, {
            owner: command,
            wait: 60_000,
            pollMs: 50,
            what: folder.provenanceFile,
        });
        try {
            fn();
        } finally {
            guard.release();
        }
    };
    // An existing run folder: refuse another plan's, and take its lock before anything else. A new one
    // is created only once the inputs are checked and the model has loaded.
    let lock: FileLock | undefined;
    if (folder.exists()) {
        folder.claim(fingerprint, plan);
        if (whole) lock = await takeLock();
    }
    let finishInvocation: ((u: Partial<Invocation>) => void) | undefined;
    try {
        checkPlanInputs(plan);
        emit({ type: "stage", message: `loading model ${plan.model.name}` });
        const model = await loadModel({
            name: plan.model.name,
            checkpoint: plan.model.checkpoint,
            backend: plan.backend,
            ...(plan.precision ? { precision: plan.precision } : {}),
            ...(plan.decoderPrecision ? { decoderPrecision: plan.decoderPrecision } : {}),
        });
        if (whole && !lock) lock = await takeLock();
        const held = lock;
        folder.claim(fingerprint, plan);
        const cacheDir = opts.cacheDir ?? folder.defaultCacheDir;
        if (whole) {
            const removed = [
                ...folder.removeStaleTemps(),
                ...(path.resolve(cacheDir).startsWith(folder.dir + path.sep)
                    ? []
                    : removeStaleTemps(cacheDir, { recursive: false })),
            ];
            if (removed.length) {
                const names = removed.map((f) => path.relative(folder.dir, f));
                say(
                    `removed ${removed.length} temporary file(s) left by an interrupted run: ${names.slice(0, 5).join(", ")}${removed.length > 5 ? ", ..." : ""}`,
                );
            }
        }
        const sys = loadAddon().systemInfo();
        const slurm = slurmInfo();
        await provenance(() => {
            finishInvocation = folder.recordInvocation(
                {
                    command,
                    tool: opts.tool ?? { name: "sam-ablate", version: "unknown" },
                    node: process.version,
                    host: os.hostname(),
                    pid: process.pid,
                    platform: `${os.platform()} ${os.arch()}`,
                    cpu: os.cpus()[0]?.model ?? "unknown",
                    backend: model.backend,
                    threads: sys.threads,
                    simd: sys.simd,
                    ...(sys.isa ? { isa: sys.isa } : {}),
                    model: { name: model.name, variant: model.variant },
                    checkpoints: { [plan.model.checkpoint ?? `${model.name} (embedded)`]: model.weightsHash },
                    ...(whole
                        ? {}
                        : {
                              units: {
                                  ...(opts.unit ? { unit: opts.unit } : {}),
                                  ...(opts.stage ? { stage: opts.stage } : {}),
                                  ...(opts.shard ? { shard: `${opts.shard.index}/${opts.shard.count}` } : {}),
                              },
                          }),
                    ...(slurm ? { slurm } : {}),
                    startedAt: new Date().toISOString(),
                    status: "running",
                },
                fingerprint,
            );
        });
        const selection = whole
            ? ""
            : ` (${opts.unit ? `unit ${opts.unit}` : [opts.stage && `stage ${opts.stage}`, opts.shard && `shard ${opts.shard.index}/${opts.shard.count}`].filter(Boolean).join(", ")})`;
        folder.log(
            `start ${command}${selection} (plan ${plan.name}, fingerprint ${fingerprint}, backend ${model.backend}, encoder ${model.precision}, decoder ${model.decoderPrecision}, ${sys.threads} threads, SIMD ${sys.simd}${sys.isa ? `, CPU level ${sys.isa}` : ""})`,
        );
        if (whole) {
            const estimate = estimateDiskUse(plan, {
                decoderParams: decoderParamCount(model),
                embedSize: model.embedSize,
                keepCheckpoints: opts.keepCheckpoints ?? 0,
            });
            say(`expected disk use: ${diskUseText(estimate)}`);
            for (const w of diskSpaceWarnings(estimate, diskPlace(folder.dir), diskPlace(cacheDir))) {
                say(`warning: ${w}`);
            }
        }

        const { records, data } = await runUnits(
            plan,
            {
                ...opts,
                runDir: folder.dir,
                cacheDir,
                ...(held
                    ? {
                          checkStop: () => {
                              if (held.lost)
                                  throw new RunFolderError(
                                      "ERR_SA_LOCKED",
                                      `${folder.dir}: the folder's lock was taken over by another process; stopped`,
                                  );
                          },
                      }
                    : {}),
            },
            {
                model,
                // a kill between result.json and the state's removal leaves the state behind
                trainDone: (u) => {
                    if (!opts.keepCheckpoints) dropState(folder.unit(u));
                },
                train: async ({ d, data, emb, model: m, arm, seed }) => {
                    const unit = folder.unit({
                        dataset: d.name,
                        strategy: arm.id,
                        seed,
                        ...(data.fold === undefined ? {} : { fold: data.fold }),
                    });
                    const rec = await runStrategy(plan, d, data, emb, m, arm, seed, fingerprint, unit, opts);
                    folder.log(
                        `done ${unit.key}: Dice ${rec.meanDice.toFixed(4)} IoU ${rec.meanIou.toFixed(4)} (${(rec.trainSeconds + rec.evalSeconds).toFixed(1)} s)`,
                    );
                    return rec;
                },
                zeroShot: async ({ d, data, emb, model: m, strat }) => {
                    using pretrained = m.newDecoder();
                    const rec = await runZeroShot(
                        plan,
                        d,
                        data,
                        emb,
                        m,
                        pretrained,
                        strat,
                        folder.zeroShotUnit(d.name, strat.id, data.fold),
                    );
                    emit({
                        type: "zero-shot-done",
                        dataset: d.name,
                        strategy: strat.id,
                        ...(data.fold === undefined ? {} : { fold: data.fold }),
                        dice: rec.meanDice,
                        iou: rec.meanIou,
                        seconds: rec.evalSeconds,
                        skipped: false,
                    });
                },
            },
        );
        await provenance(() => finishInvocation?.({ endedAt: new Date().toISOString(), status: "finished" }));
        folder.log(`finished ${command}${selection}`);
        return { records, model, data };
    } catch (e) {
        const aborted = opts.signal?.aborted === true;
        try {
            // nothing is written into a folder the run did not get to set up
            if (finishInvocation) {
                const finish = finishInvocation;
                await provenance(() =>
                    finish({
                        endedAt: new Date().toISOString(),
                        status: aborted ? "interrupted" : "failed",
                        error: (e as Error).message?.slice(0, 500),
                    }),
                );
                folder.log(`${aborted ? "interrupted" : "failed"}: ${(e as Error).message}`);
            }
        } catch {
            /* the original error matters more */
        }
        throw e;
    } finally {
        lock?.release();
    }
}

/** Removes a finished unit's training state (weights, Adam moments, best weights so far). */
function dropState(unit: TrainUnit): void {
    rmSync(unit.stateDir, { recursive: true, force: true });
}

/** Trainable decoder values (prompt encoder + mask decoder). */
function decoderParamCount(model: SamModel): number {
    let n = 0;
    for (const w of Object.values(model.decoderWeights)) n += w.data.length;
    return n;
}

/** A dataset's test split with its cached embeddings, as the evaluation reads it. */
function testSetOf(data: PreparedData, emb: SplitEmbeddings): TestSet {
    return {
        ids: data.test.ids,
        patients: data.test.patients,
        height: data.height,
        width: data.width,
        embedding: emb.test,
        mask: (i: number) => data.test.mask(i),
    };
}

/** Evaluates the pretrained decoder with a strategy's evaluation prompts (decoder forward only). */
async function runZeroShot(
    plan: AblationPlan,
    d: DatasetPlan,
    data: PreparedData,
    emb: SplitEmbeddings,
    model: SamModel,
    decoder: ReturnType<SamModel["newDecoder"]>,
    strat: StrategyDefinition,
    unit: ZeroShotUnit,
): Promise<ZeroShotRecord> {
    const t0 = performance.now();
    const reports: PromptReport[] = [];
    const test = testSetOf(data, emb);
    const result = await evaluateDecoder(
        decoder,
        test,
        evaluationPrompts(test, strat.plan, plan.evaluation.seed, reports),
        {
            imgSize: model.imgSize,
            ignoreEmpty: plan.evaluation.ignoreEmpty,
        },
    );
    const rec: Omit<ZeroShotRecord, "evalSeconds"> = {
        dataset: d.name,
        strategy: strat.id,
        label: strat.label,
        ...(data.fold === undefined ? {} : { fold: data.fold }),
        perImage: imageRecords(result.perImage),
        excluded: result.excluded,
        meanDice: result.meanDice,
        meanIou: result.meanIou,
        promptSummary: summarizePromptReports(reports),
    };
    const evalSeconds = (performance.now() - t0) / 1000;
    unit.finish(rec, { "per-image.csv": perImageCsv(rec) }, { evalSeconds });
    return { ...rec, evalSeconds };
}

/** How many predictions of a strategy's evaluation are saved: "all" or the first N, and at least the overlay samples. */
function predictionsToKeep(plan: AblationPlan): number {
    const save = plan.report.savePredictions;
    if (save === "all") return Number.POSITIVE_INFINITY;
    return Math.max(save ?? 0, plan.report.samplesPerStrategy);
}

/** What a unit trains and evaluates: the decoder (with a strategy's prompts or none) or a prediction head. */
interface ArmModel extends Disposable {
    model: TrainedModel;
    trainer: TrainerState;
    step: BatchStep;
    evaluate(set: TestSet, prompts: ((i: number) => Prompt | null) | "none", keep: number): Promise<EvalResult>;
    save(file: string): Promise<void>;
    /** Weights file stem: "decoder" (decoder.safetensors, decoder-last..., decoder-best-val...) or "head". */
    stem: "decoder" | "head";
    /**
     * A LoRA arm's training input of sample i (its preprocessed image [3, S, S]; the adapted encoder
     * runs at every step); absent: the cached embedding.
     */
    trainInput?: (i: number, into?: Float32Array) => Float32Array;
}

function armModel(
    plan: AblationPlan,
    model: SamModel,
    arm: Arm,
    data: PreparedData,
    seed: number,
    promptFor: (sample: number, globalStep: number) => Prompt,
    rawTrain?: Uint8Array[],
): ArmModel {
    const options = {
        loss: plan.training.loss,
        optimizer: plan.training.optimizer,
        lr: plan.training.lr,
        weightDecay: plan.training.weightDecay,
        gradClipNorm: plan.training.gradClipNorm,
    };
    const evalOpts = { imgSize: model.imgSize, ignoreEmpty: plan.evaluation.ignoreEmpty };
    if (arm.kind === "head" && arm.head !== "autosam") {
        const head = newHead(model, arm, { ...options, lr: plan.training.headLr ?? plan.training.lr }, seed);
        return {
            model: head,
            trainer: head,
            step: (emb, tgt, _samples, _step, lr) => head.step(emb, tgt, lr === undefined ? undefined : { lr }),
            evaluate: (set, _prompts, keep) => evaluateHead(head, set, { ...evalOpts, keepPredictions: keep }),
            save: (file) => saveHeadWeights(file, head, arm, decoderProvenance(model)),
            stem: "head",
            [Symbol.dispose]: () => head.dispose(),
        };
    }
    if (arm.kind === "lora") return loraArmModel(plan, model, arm, data, seed, promptFor, options, rawTrain ?? []);
    const decoder = model.newDecoder();
    const trainer = model.newTrainer(decoder, options);
    const frame = new SamFrame(data.height, data.width, model.imgSize);
    return {
        model: decoder,
        trainer,
        // AutoSAM: the decoder with no prompt at all, in training and at test time
        step: decoderStep(trainer, frame, arm.kind === "head" ? "none" : promptFor),
        evaluate: (set, prompts, keep) =>
            evaluateDecoder(decoder, set, prompts, { ...evalOpts, keepPredictions: keep }),
        save: (file) =>
            saveDecoderWeights(
                file,
                decoder,
                decoderProvenance(model),
                arm.kind === "head" ? { "sam_ablate.arm": arm.id } : {},
            ),
        stem: "decoder",
        [Symbol.dispose]: () => {
            trainer.dispose();
            decoder.dispose();
        },
    };
}

/**
 * A LoRA arm: adapters in the image encoder (rank from the id, alpha and targets from the plan) trained
 * with the decoder. No embedding cache: training encodes the batch's images at every step, validation
 * and evaluation encode each image with the adapted encoder. Saves lora*.safetensors beside decoder*.safetensors.
 */
function loraArmModel(
    plan: AblationPlan,
    model: SamModel,
    arm: Extract<Arm, { kind: "lora" }>,
    data: PreparedData,
    seed: number,
    promptFor: (sample: number, globalStep: number) => Prompt,
    options: TrainerOptions,
    rawTrain: Uint8Array[],
): ArmModel {
    const S = model.imgSize;
    const input = (raw: Uint8Array, into?: Float32Array) =>
        preprocessImage(raw, data.height, data.width, S, into).input;
    const decoder = model.newDecoder();
    const trainer = model.newTrainer(decoder, { ...options, embeddingGrad: true });
    const encoder = model.newTrainableEncoder({ ...loraSettings(plan, arm.rank), seed });
    const frame = new SamFrame(data.height, data.width, S);
    const t = loraTraining(encoder, decoder, trainer, frame, promptFor);
    // validation and test images by id (ids are unique across the splits)
    const images = new Map<string, () => Promise<Uint8Array>>();
    for (const split of [data.val, data.test])
        split.ids.forEach((id, i) => {
            images.set(id, () => split.image(i));
        });
    const encoded = (set: TestSet): TestSet => ({
        ...set,
        embedding: async (i) => {
            const image = images.get(set.ids[i] as string);
            if (!image) throw new Error(`${arm.id}: no image for ${set.ids[i]}`);
            return (await encoder.encode(input(await image()), 1)).embedding;
        },
    });
    const evalOpts = { imgSize: S, ignoreEmpty: plan.evaluation.ignoreEmpty };
    return {
        ...t,
        evaluate: (set, prompts, keep) => {
            if (prompts === "none") throw new Error(`${arm.id} is evaluated with prompts`);
            return evaluateDecoder(decoder, encoded(set), prompts, { ...evalOpts, keepPredictions: keep });
        },
        save: async (file) => {
            await saveDecoderWeights(file, decoder, decoderProvenance(model));
            await saveLoraWeights(
                path.join(path.dirname(file), path.basename(file).replace(/^decoder/, "lora")),
                encoder,
                decoderProvenance(model),
            );
        },
        stem: "decoder",
        trainInput: (i, into) => input(rawTrain[i] as Uint8Array, into),
        [Symbol.dispose]: () => {
            encoder.dispose();
            trainer.dispose();
            decoder.dispose();
        },
    };
}

async function runStrategy(
    plan: AblationPlan,
    d: DatasetPlan,
    data: PreparedData,
    emb: SplitEmbeddings,
    model: SamModel,
    arm: Arm,
    seed: number,
    fingerprint: string,
    unit: TrainUnit,
    opts: RunOptions,
): Promise<StrategyRecord> {
    const emit = opts.onEvent ?? (() => {});
    const promptPlan = armPromptPlan(arm);
    const trainIdx = data.train.ids.map(
        (id, i) => new MaskIndex({ width: data.width, height: data.height, data: data.train.mask(i) }, id),
    );
    const promptFor = (i: number, step: number): Prompt => {
        if (!promptPlan) throw new Error(`${arm.id} takes no prompt`);
        return samplePrompt(
            trainIdx[i] as MaskIndex,
            promptPlan,
            rngFor(seed, data.train.ids[i] as string, step),
            data.train.ids[i],
        ).prompt;
    };
    // the unit's model and trainer are freed when it ends (`using`), not when the GC gets to them
    // a LoRA arm trains on the images (small: the raw patches, preprocessed per step)
    const rawTrain =
        arm.kind === "lora" ? await Promise.all(data.train.ids.map((_, i) => data.train.image(i))) : undefined;
    using am = armModel(plan, model, arm, data, seed, promptFor, rawTrain);
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
    // A prompt-free arm sees no prompt; the others one prompt per image from the evaluation seed.
    const promptsOf = (set: TestSet, reports?: PromptReport[]): ((i: number) => Prompt | null) | "none" => {
        if (!promptPlan) return "none";
        const draw = evaluationPrompts(set, promptPlan, plan.evaluation.seed, reports);
        const drawn = set.ids.map((_, i) => draw(i));
        return (i) => drawn[i] ?? null;
    };
    const vplan = plan.validation === "none" ? undefined : plan.validation;
    let lastValDice = Number.NaN;
    let validation: TrainOptions["validation"];
    if (vplan) {
        // The evaluation protocol on the validation patches: one fixed prompt per image from the
        // evaluation seed (drawn once), forward only, on the cached embeddings.
        const valSet: TestSet = {
            ids: data.val.ids,
            patients: data.val.patients,
            height: data.height,
            width: data.width,
            embedding: emb.val,
            mask: (i) => data.val.mask(i),
        };
        const valPrompts = promptsOf(valSet);
        validation = {
            everySteps: vplan.everySteps,
            patience: vplan.patience,
            minDelta: vplan.minDelta,
            evaluate: async () => {
                const r = await am.evaluate(valSet, valPrompts, 0);
                lastValDice = r.meanDice;
                return r.meanDice;
            },
        };
    }
    const t0 = performance.now();
    const label = `${d.name} ${arm.id}${data.fold === undefined ? "" : ` fold ${data.fold}`} seed ${seed}`;
    const total = plan.training.epochs * plan.training.stepsPerEpoch;
    const schedule = plan.training.schedule;
    // the heads' own learning rate, under the same schedule
    const armTraining =
        am.stem === "head" ? { ...plan.training, lr: plan.training.headLr ?? plan.training.lr } : plan.training;
    const train = await trainLoop(
        am.model,
        am.trainer,
        { ids: data.train.ids, height: data.height, width: data.width, embedding: am.trainInput ?? emb.train, target },
        am.step,
        {
            epochs: plan.training.epochs,
            stepsPerEpoch: plan.training.stepsPerEpoch,
            batch: plan.training.batch,
            seed,
            imgSize: model.imgSize,
            stateDir: unit.stateDir,
            keepCheckpoints: Math.max(1, opts.keepCheckpoints ?? 0),
            fingerprint: `${fingerprint}:${d.name}:${arm.id}:${seed}${data.fold === undefined ? "" : `:fold${data.fold}`}${arm.kind === "lora" ? `:lora-alpha${loraSettings(plan, arm.rank).alpha}-${loraSettings(plan, arm.rank).targets.join("+")}` : ""}`,
            onStep: (s) => {
                if (s.step === plan.training.stepsPerEpoch - 1 || s.globalStep % 5 === 0) {
                    const valText = Number.isFinite(lastValDice) ? `, val Dice ${(lastValDice * 100).toFixed(1)}` : "";
                    emit({
                        type: "progress",
                        task: `train ${label}`,
                        done: s.globalStep + 1,
                        total,
                        detail: `loss ${s.loss.toFixed(4)}${valText}`,
                    });
                }
            },
            signal: opts.signal,
            ...(schedule.type === "constant" ? {} : { lrAt: (step: number) => scheduledLr(armTraining, step) }),
            ...(validation ? { validation } : {}),
        },
    );
    const valSeconds = train.validation?.seconds ?? 0;
    const trainSeconds = (performance.now() - t0) / 1000 - valSeconds;
    const t1 = performance.now();
    const reports: PromptReport[] = [];
    const test = testSetOf(data, emb);
    // Drawn once: both candidates (with validation) are scored with the same prompts.
    const testPrompts = promptsOf(test, reports);
    const evaluate = (keep: number) => am.evaluate(test, testPrompts, keep);
    const steps = plan.training.stepsPerEpoch;
    const lastStep = train.epochsRun * steps;
    const best = train.validation?.best;
    const selectBest = vplan?.selection === "best-val" && best !== undefined;
    // The model holds the last weights; the best validation weights are evaluated (and saved) too
    // when they differ from them.
    const distinct = best !== undefined && best.step !== lastStep && train.validation?.bestParams !== undefined;
    const keep = predictionsToKeep(plan);
    const lastResult = await evaluate(selectBest && distinct ? 0 : keep);
    let bestResult: EvalResult = lastResult;
    if (distinct) {
        const lastParams = am.model.paramNames().map((name) => [name, am.model.getParam(name).slice()] as const);
        if (selectBest) await am.save(unit.file(`${am.stem}-last.safetensors`));
        for (const [name, value] of train.validation?.bestParams ?? []) am.model.setParam(name, value);
        bestResult = await evaluate(selectBest ? keep : 0);
        if (!selectBest) {
            await am.save(unit.file(`${am.stem}-best-val.safetensors`));
            for (const [name, value] of lastParams) am.model.setParam(name, value);
        }
    }
    const result = selectBest ? bestResult : lastResult;
    const evalSeconds = (performance.now() - t1) / 1000;
    const rec: Omit<StrategyRecord, "trainSeconds" | "evalSeconds"> = {
        dataset: d.name,
        strategy: arm.id,
        label: arm.label,
        seed,
        ...(data.fold === undefined ? {} : { fold: data.fold }),
        perImage: imageRecords(result.perImage),
        excluded: result.excluded,
        meanDice: result.meanDice,
        meanIou: result.meanIou,
        epochLosses: train.epochLosses,
        promptSummary: summarizePromptReports(reports),
        samples: result.perImage
            .filter((p) => result.predictions.has(p.imageId))
            .slice(0, plan.report.samplesPerStrategy)
            .map((p) => ({ imageId: p.imageId, prompt: p.prompt, dice: p.dice })),
    };
    if (vplan && train.validation) {
        const v = train.validation;
        rec.epochsRun = train.epochsRun;
        rec.validation = {
            fraction: vplan.fraction,
            patients: data.valPatients,
            images: data.val.ids.length,
            everySteps: vplan.everySteps,
            curve: v.points.map((p) => ({
                step: p.step,
                epoch: p.step / steps,
                dice: Number.isFinite(p.dice) ? p.dice : null,
            })),
            ...(v.stoppedAtEpoch !== undefined ? { stoppedAtEpoch: v.stoppedAtEpoch } : {}),
        } as ValidationRecord; // seconds: in timing.json
        const scores = (r: EvalResult) => ({
            meanDice: r.meanDice,
            meanIou: r.meanIou,
            dice: r.perImage.map((p) => p.dice),
        });
        rec.selection = {
            mode: vplan.selection,
            selected: selectBest ? "best-val" : "last",
            best: best ? { step: best.step, epoch: best.step / steps, valDice: best.dice } : null,
            test: { "best-val": scores(bestResult), last: scores(lastResult) },
        };
    }
    // Binary masks at the patch resolution, 0 = background, 255 = predicted tumour.
    for (const [id, pred] of result.predictions) {
        const png = await encodePng({
            width: data.width,
            height: data.height,
            channels: 1,
            data: pred.map((v) => (v ? 255 : 0)),
        });
        unit.writeFileSync(path.relative(unit.dir, unit.predictionFile(id, "png")), png);
    }
    // The model holds the selected weights here.
    await am.save(am.stem === "decoder" ? unit.decoderFile : unit.file("head.safetensors"));
    // result.json last: its presence marks the unit as finished.
    // Timings in timing.json: result.json is the same bytes however and wherever the run was split.
    unit.finish(
        rec,
        { "per-image.csv": perImageCsv(rec) },
        { trainSeconds, evalSeconds, ...(rec.validation ? { valSeconds } : {}) },
    );
    // a finished unit is never resumed: its training state goes, unless states were asked for
    if (!opts.keepCheckpoints) dropState(unit);
    emit({
        type: "strategy-done",
        dataset: d.name,
        strategy: arm.id,
        seed,
        ...(data.fold === undefined ? {} : { fold: data.fold }),
        dice: rec.meanDice,
        iou: rec.meanIou,
        seconds: trainSeconds + evalSeconds,
        resumed: train.resumedFrom > 0,
        skipped: false,
    });
    return {
        ...rec,
        trainSeconds,
        evalSeconds,
        ...(rec.validation ? { validation: { ...rec.validation, seconds: valSeconds } } : {}),
    };
}
