/**
 * The training loop of the paper's method (Table 1, ID 8): the image encoder is frozen, its
 * embeddings come from the cache, and only the mask decoder is trained, epochs x steps with a batch
 * of samples per step, prompts re-sampled from the ground truth at every step (through a callback),
 * seeded and reproducible. Progress is reported through a callback; the state (weights, optimiser
 * moments, step count, loss history) is saved at every epoch end so that an interrupted run resumes
 * where it stopped and reaches the same weights.
 */

import { errorText, SamAblateError } from "@sam-ablate/errors";
import { SamFrame } from "@sam-ablate/model";
import type { NativeDecoderTrainer, NativeSamDecoder } from "@sam-ablate/native";
import { type Prompt, rngFor } from "@sam-ablate/samplers";
import {
    loadTrainState,
    saveTrainState,
    type TrainState,
    type ValidationPoint,
    type ValidationState,
} from "./checkpointing.js";

/** The training data as the loop sees it. */
export interface TrainSet {
    /** Image ids, in a stable order. */
    ids: readonly string[];
    /** Patch size in pixels (the ground-truth resolution). */
    height: number;
    width: number;
    /**
     * Embedding of sample i: [embedDim, E, E]. With `into` (as many floats) it may write there and return
     * it (the loop passes one buffer for every step); returning an array of its own works too.
     */
    embedding(i: number, into?: Float32Array): Float32Array;
    /** Target of sample i at the low-res logits' resolution [4E, 4E], values 0/1. */
    target(i: number): Float32Array;
}

export interface TrainOptions {
    epochs: number;
    stepsPerEpoch: number;
    batch: number;
    seed: number;
    /** Model input side (1024). */
    imgSize: number;
    /** Folder for the resumable state; none: no checkpoints. */
    stateDir?: string;
    /** How many epoch states to keep in `stateDir` (default 1: the last). */
    keepCheckpoints?: number;
    /** Identifies the configuration: a saved state with another fingerprint is not resumed. */
    fingerprint: string;
    /** Called after each step. */
    onStep?: (info: StepInfo) => void;
    /** Aborts between steps (the state of the last finished epoch is on disk). */
    signal?: AbortSignal;
    /** Learning-rate schedule: lr for a global step (default: constant trainer.lr). */
    lrAt?: (step: number, totalSteps: number) => number;
    /** Validation during training, best-weights tracking and early stopping (none: the paper's loop). */
    validation?: ValidationOptions;
}

export interface ValidationOptions {
    /** Validate after every this many global steps; 0 = at the end of every epoch. */
    everySteps: number;
    /** Mean validation Dice (fraction) of the decoder's current weights; decoder forward only. */
    evaluate: () => Promise<number>;
    /** Stop at an epoch end after this many validations without a gain of more than minDelta; 0 = never. */
    patience: number;
    minDelta: number;
}

/** The validation record of a training run. */
export interface ValidationResult {
    /** Every validation, in step order (dice NaN: no validation image was scored). */
    points: ValidationPoint[];
    /** The best point (highest Dice, earliest on ties) and its weights; absent when nothing was scored. */
    best?: ValidationPoint;
    bestParams?: Map<string, Float32Array>;
    /** Epochs trained when early stopping ended the run (absent: it ran all epochs). */
    stoppedAtEpoch?: number;
    /** Seconds spent validating in this process. */
    seconds: number;
}

/**
 * Early stopping's rule over a validation history: the number of validations since the last one that
 * beat the reference by more than `minDelta` (the reference moves only on such a gain) reaches `patience`.
 */
export function patienceExhausted(points: readonly ValidationPoint[], patience: number, minDelta: number): boolean {
    if (patience <= 0) return false;
    let ref = Number.NEGATIVE_INFINITY;
    let since = 0;
    for (const p of points) {
        if (p.dice > ref + minDelta) {
            ref = p.dice;
            since = 0;
        } else since++;
    }
    return since >= patience;
}

export interface StepInfo {
    epoch: number;
    step: number;
    globalStep: number;
    totalSteps: number;
    loss: number;
    resumedFrom: number;
}

export interface TrainResult {
    /** Loss of every step. */
    losses: Float32Array;
    /** Mean loss per epoch. */
    epochLosses: number[];
    /** Global step the run resumed from (0 = fresh). */
    resumedFrom: number;
    /** Epochs trained (fewer than planned when early stopping ended the run). */
    epochsRun: number;
    /** Seconds in this process, validation included. */
    seconds: number;
    /** Present when the run validated. */
    validation?: ValidationResult;
}

/** Training stopped because the loss or the gradients became NaN/Inf; the weights are the last good ones. */
export class TrainingDivergedError extends SamAblateError<"ERR_SA_DIVERGED"> {
    constructor(
        readonly globalStep: number,
        cause: unknown,
    ) {
        super(
            "ERR_SA_DIVERGED",
            `training diverged at step ${globalStep} (non-finite loss or gradients); ` +
                `the model keeps the weights of the last good step. Try a lower learning rate or gradient clipping. ` +
                `(${errorText(cause)})`,
        );
    }
}

/** Deterministic sample order for an epoch: a seeded permutation of [0, n). */
export function epochOrder(n: number, seed: number, epoch: number): Uint32Array {
    const rng = rngFor(seed, "order", epoch, "epoch-order");
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    for (let i = n - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        const t = order[i] as number;
        order[i] = order[j] as number;
        order[j] = t;
    }
    return order;
}

/** What the loop trains: named parameters (saved with the state, restored on resume, snapshotted for validation). */
export interface TrainedModel {
    paramNames(): string[];
    getParam(name: string): Float32Array;
    setParam(name: string, data: Float32Array): void;
}

/** The optimiser side of the loop: its step count and moments (saved with the state). */
export interface TrainerState {
    stepCount: number;
    trainedParams(): string[];
    getState(name: string): { m: Float32Array; v: Float32Array };
    setState(name: string, m: Float32Array, v: Float32Array): void;
}

/**
 * One optimiser step on a batch: embeddings [B, C, E, E] and targets [B, 1, 4E, 4E] of the samples
 * (indices into the training set) at a global step; resolves with the loss.
 */
export type BatchStep = (
    embeddings: Float32Array,
    targets: Float32Array,
    samples: readonly number[],
    globalStep: number,
    lr: number | undefined,
) => Promise<number>;

/**
 * Trains `decoder` in place through `trainer`. `promptFor(sampleIndex, globalStep)` returns the
 * prompt of a sample at a step (patch pixels); "none": every sample is seen without a prompt (the
 * prompt-free decoder of AutoSAM: no sparse token, the no-mask dense embedding).
 */
export async function trainDecoder(
    decoder: NativeSamDecoder,
    trainer: NativeDecoderTrainer,
    data: TrainSet,
    promptFor: ((sample: number, globalStep: number) => Prompt) | "none",
    opts: TrainOptions,
): Promise<TrainResult> {
    return trainLoop(
        decoder,
        trainer,
        data,
        decoderStep(trainer, new SamFrame(data.height, data.width, opts.imgSize), promptFor),
        opts,
    );
}

/** The decoder trainer's step on a batch: each sample's prompt at the step, or none (AutoSAM). */
export function decoderStep(
    trainer: NativeDecoderTrainer,
    frame: SamFrame,
    promptFor: ((sample: number, globalStep: number) => Prompt) | "none",
): BatchStep {
    return (emb, tgt, samples, globalStep, lr) =>
        trainer.step(
            emb,
            promptFor === "none"
                ? SamFrame.noPrompt(samples.length)
                : frame.toNative(samples.map((s) => promptFor(s, globalStep))),
            tgt,
            lr === undefined ? undefined : { lr },
        );
}

/**
 * The training loop shared by every trained arm (decoder with or without prompts, prediction heads):
 * epochs x steps of seeded batches, resumable state at epoch ends, validation with best-weights
 * tracking and early stopping. `step` runs the optimiser on one batch.
 */
export async function trainLoop(
    model: TrainedModel,
    trainer: TrainerState,
    data: TrainSet,
    runStep: BatchStep,
    opts: TrainOptions,
): Promise<TrainResult> {
    const n = data.ids.length;
    if (n === 0) throw new RangeError("training: the training set is empty");
    if (!(opts.epochs >= 1 && opts.stepsPerEpoch >= 1 && opts.batch >= 1)) {
        throw new RangeError("training: epochs, stepsPerEpoch and batch must be >= 1");
    }
    const total = opts.epochs * opts.stepsPerEpoch;
    const losses = new Float32Array(total);
    let startEpoch = 0;
    let resumedFrom = 0;
    const val = opts.validation;
    const vstate: ValidationState = { points: [], stopped: false };
    let valSeconds = 0;
    const snapshot = () => new Map(model.paramNames().map((name) => [name, model.getParam(name).slice()]));
    const validate = async (stepsDone: number) => {
        if (!val) return;
        const tv = performance.now();
        const dice = await val.evaluate();
        valSeconds += (performance.now() - tv) / 1000;
        const point = { step: stepsDone, dice };
        vstate.points.push(point);
        if (Number.isFinite(dice) && (vstate.best === undefined || dice > vstate.best.dice)) {
            vstate.best = point;
            vstate.bestParams = snapshot();
        }
    };
    if (opts.stateDir) {
        const saved = loadTrainState(opts.stateDir, opts.fingerprint);
        if (saved) {
            for (const [name, value] of saved.params) model.setParam(name, value);
            for (const [name, mv] of saved.moments) trainer.setState(name, mv.m, mv.v);
            trainer.stepCount = saved.stepCount;
            losses.set(saved.losses.subarray(0, Math.min(saved.losses.length, total)));
            startEpoch = saved.epochsDone;
            resumedFrom = startEpoch * opts.stepsPerEpoch;
            if (val && saved.validation) {
                vstate.points = saved.validation.points;
                vstate.stopped = saved.validation.stopped;
                if (saved.validation.best && saved.validation.bestParams) {
                    vstate.best = saved.validation.best;
                    vstate.bestParams = saved.validation.bestParams;
                }
            }
        }
    }
    let epochsRun = vstate.stopped ? startEpoch : opts.epochs;
    const t0 = performance.now();
    const E4 = Math.round(Math.sqrt(data.target(0).length));
    let emb: Float32Array | undefined;
    let per = 0;
    const tgt = new Float32Array(E4 * E4 * opts.batch);
    for (let epoch = startEpoch; epoch < opts.epochs && !vstate.stopped; epoch++) {
        const order = epochOrder(n, opts.seed, epoch);
        let cursor = 0;
        for (let step = 0; step < opts.stepsPerEpoch; step++) {
            if (opts.signal?.aborted) throw opts.signal.reason ?? new Error("aborted");
            const globalStep = epoch * opts.stepsPerEpoch + step;
            const samples: number[] = [];
            for (let b = 0; b < opts.batch; b++) {
                samples.push(order[cursor % n] as number);
                cursor++;
            }
            // One input and one target buffer for every step (the step has finished with them when it
            // resolves): no 4 MB allocation per step for the garbage collector to chase.
            if (!emb) {
                const first = data.embedding(samples[0] as number);
                per = first.length;
                emb = new Float32Array(per * opts.batch);
            }
            samples.forEach((s, b) => {
                const view = (emb as Float32Array).subarray(b * per, (b + 1) * per);
                const e = data.embedding(s, view);
                if (e !== view) view.set(e);
                tgt.set(data.target(s), b * E4 * E4);
            });
            const lr = opts.lrAt ? opts.lrAt(globalStep, total) : undefined;
            let loss: number;
            try {
                loss = await runStep(emb, tgt, samples, globalStep, lr);
            } catch (e) {
                if ((e as { code?: string }).code === "ERR_SA_NUMERIC") throw new TrainingDivergedError(globalStep, e);
                throw e;
            }
            losses[globalStep] = loss;
            opts.onStep?.({ epoch, step, globalStep, totalSteps: total, loss, resumedFrom });
            if (val && val.everySteps > 0 && (globalStep + 1) % val.everySteps === 0) await validate(globalStep + 1);
        }
        if (val) {
            if (val.everySteps === 0) await validate((epoch + 1) * opts.stepsPerEpoch);
            if (epoch + 1 < opts.epochs && patienceExhausted(vstate.points, val.patience, val.minDelta)) {
                vstate.stopped = true;
                epochsRun = epoch + 1;
            }
        }
        if (opts.stateDir) {
            const state: TrainState = {
                fingerprint: opts.fingerprint,
                epochsDone: epoch + 1,
                stepCount: trainer.stepCount,
                losses: losses.slice(0, (epoch + 1) * opts.stepsPerEpoch),
                params: new Map(model.paramNames().map((name) => [name, model.getParam(name)])),
                moments: new Map(trainer.trainedParams().map((name) => [name, trainer.getState(name)])),
                ...(val ? { validation: vstate } : {}),
            };
            await saveTrainState(opts.stateDir, state, opts.keepCheckpoints ?? 1);
        }
    }
    const epochLosses: number[] = [];
    for (let e = 0; e < epochsRun; e++) {
        let s = 0;
        for (let k = 0; k < opts.stepsPerEpoch; k++) s += losses[e * opts.stepsPerEpoch + k] as number;
        epochLosses.push(s / opts.stepsPerEpoch);
    }
    const out: TrainResult = {
        losses: epochsRun < opts.epochs ? losses.slice(0, epochsRun * opts.stepsPerEpoch) : losses,
        epochLosses,
        resumedFrom,
        epochsRun,
        seconds: (performance.now() - t0) / 1000,
    };
    if (val) {
        out.validation = {
            points: vstate.points,
            seconds: valSeconds,
            ...(vstate.best ? { best: vstate.best } : {}),
            ...(vstate.bestParams ? { bestParams: vstate.bestParams } : {}),
            ...(vstate.stopped ? { stoppedAtEpoch: epochsRun } : {}),
        };
    }
    return out;
}
