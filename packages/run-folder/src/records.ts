/**
 * The record a finished unit leaves (`result.json`): written by the runner, read by the report and by
 * a rerun (which skips the unit). Reads are validated: a record that lacks a field or holds a value of
 * the wrong type is refused with the file named. Fields added later are kept as they are.
 */
import { quoted } from "@sam-ablate/errors";
import { RunFolderError } from "./errors.js";

/** A prompt in patch pixels: points [x, y], labels 1/0, optional box [x0, y0, x1, y1]. */
export interface RecordedPrompt {
    points: readonly (readonly [number, number])[];
    labels: readonly number[];
    box?: readonly [number, number, number, number];
}

/** One evaluated test image; null metrics mark an image excluded for an empty ground truth. */
export interface PerImageRecord {
    imageId: string;
    patient: string;
    dice: number | null;
    iou: number | null;
    /** The prompt's make-up (absent in runs written before it was recorded). */
    prompt?: { positives: number; negatives: number; box: boolean };
}

/** What a train + evaluate unit (dataset x strategy x seed [x fold]) produced. */
export interface UnitRecord {
    dataset: string;
    strategy: string;
    label: string;
    seed: number;
    /** The cross-validation fold whose patients were the test set (absent: the dataset's one split). */
    fold?: number;
    perImage: PerImageRecord[];
    excluded: number;
    meanDice: number;
    meanIou: number;
    epochLosses: number[];
    /** Seconds of this unit's run (kept in timing.json, merged in when read). */
    trainSeconds: number;
    evalSeconds: number;
    promptSummary: unknown;
    /** Test images whose predictions were kept (`predictions/<imageId>.png`) for overlay figures. */
    samples: { imageId: string; prompt: RecordedPrompt; dice: number | null }[];
    /** The validation inside the training patients (absent without validation). */
    validation?: ValidationRecord;
    /** Which weights `decoder.safetensors` holds and the test scores of both candidates (with validation). */
    selection?: SelectionRecord;
}

export interface ValidationRecord {
    fraction: number;
    patients: string[];
    images: number;
    everySteps: number;
    /** Mean validation Dice after `step` global steps (epoch = step / stepsPerEpoch); null: nothing scored. */
    curve: { step: number; epoch: number; dice: number | null }[];
    /** Seconds spent validating (decoder forward + metrics) in the process that finished the run (timing.json). */
    seconds: number;
    stoppedAtEpoch?: number;
}

export interface SelectionRecord {
    /** What the plan asked for. */
    mode: "best-val" | "last";
    /** What `decoder.safetensors` holds ("last" when no validation image could be scored). */
    selected: "best-val" | "last";
    /** The best validation point (null: nothing scored). */
    best: { step: number; epoch: number; valDice: number } | null;
    /** Test scores of the weights of the best validation Dice and of the last step (same when they coincide). */
    test: Record<"best-val" | "last", { meanDice: number; meanIou: number; dice: (number | null)[] }>;
}

type Check = (v: unknown) => boolean;
const isNum: Check = (v) => typeof v === "number" && Number.isFinite(v);
const isNumOrNull: Check = (v) => v === null || isNum(v);
const isStr: Check = (v) => typeof v === "string";
const isInt: Check = (v) => Number.isInteger(v);

function fail(file: string, what: string, v: unknown): never {
    throw new RunFolderError("ERR_SA_RUN_FOLDER", `${file}: invalid result record: ${what} (${quoted(v)})`);
}

function field(o: Record<string, unknown>, key: string, check: Check, file: string): void {
    if (!check(o[key])) fail(file, `field '${key}' missing or of the wrong type`, o[key]);
}

function checkPerImage(o: Record<string, unknown>, file: string): void {
    if (!Array.isArray(o.perImage)) fail(file, "'perImage' is not a list", o.perImage);
    o.perImage.forEach((p, i) => {
        const r = p as Record<string, unknown>;
        if (
            !r ||
            typeof r !== "object" ||
            !isStr(r.imageId) ||
            !isStr(r.patient) ||
            !isNumOrNull(r.dice) ||
            !isNumOrNull(r.iou)
        ) {
            fail(file, `perImage[${i}] is not {imageId, patient, dice, iou}`, p);
        }
    });
}

function checkFold(o: Record<string, unknown>, file: string): void {
    if (o.fold !== undefined && !(isInt(o.fold) && (o.fold as number) >= 0))
        fail(file, "'fold' is not an integer >= 0", o.fold);
}

function asObject(v: unknown, file: string): Record<string, unknown> {
    if (!v || typeof v !== "object" || Array.isArray(v)) fail(file, "not an object", v);
    return v as Record<string, unknown>;
}

/** Checks a parsed result.json of a training unit; returns it typed or throws ERR_SA_RUN_FOLDER naming the file. */
export function validateUnitRecord(v: unknown, file: string): UnitRecord {
    const o = asObject(v, file);
    field(o, "dataset", isStr, file);
    field(o, "strategy", isStr, file);
    field(o, "label", isStr, file);
    field(o, "seed", isInt, file);
    checkFold(o, file);
    field(o, "excluded", isInt, file);
    field(o, "meanDice", isNum, file);
    field(o, "meanIou", isNum, file);
    field(o, "trainSeconds", isNum, file);
    field(o, "evalSeconds", isNum, file);
    checkPerImage(o, file);
    if (!Array.isArray(o.epochLosses) || !o.epochLosses.every((x) => typeof x === "number")) {
        fail(file, "'epochLosses' is not a list of numbers", o.epochLosses);
    }
    if (!Array.isArray(o.samples)) fail(file, "'samples' is not a list", o.samples);
    o.samples.forEach((s, i) => {
        const r = s as Record<string, unknown>;
        const pr = r?.prompt as Record<string, unknown> | undefined;
        if (
            !r ||
            !isStr(r.imageId) ||
            !isNumOrNull(r.dice) ||
            !pr ||
            !Array.isArray(pr.points) ||
            !Array.isArray(pr.labels)
        ) {
            fail(file, `samples[${i}] is not {imageId, prompt, dice}`, s);
        }
    });
    for (const key of ["validation", "selection"]) {
        const x = o[key];
        if (x !== undefined && (x === null || typeof x !== "object" || Array.isArray(x)))
            fail(file, `'${key}' is not an object`, x);
    }
    const sel = o.selection as Record<string, unknown> | undefined;
    if (sel && (!sel.test || typeof sel.test !== "object")) fail(file, "'selection.test' is missing", sel.test);
    const val = o.validation as Record<string, unknown> | undefined;
    if (val && !Array.isArray(val.curve)) fail(file, "'validation.curve' is not a list", val.curve);
    return o as unknown as UnitRecord;
}

/** What the zero-shot baseline of a strategy (the pretrained decoder, the same prompts) recorded. */
export interface ZeroShotRecord {
    dataset: string;
    strategy: string;
    label: string;
    /** The cross-validation fold (absent: the dataset's one split). */
    fold?: number;
    perImage: PerImageRecord[];
    excluded: number;
    meanDice: number;
    meanIou: number;
    evalSeconds: number;
    promptSummary: unknown;
}

/** Checks a parsed result.json of a zero-shot unit. */
export function validateZeroShotRecord(v: unknown, file: string): ZeroShotRecord {
    const o = asObject(v, file);
    field(o, "dataset", isStr, file);
    field(o, "strategy", isStr, file);
    field(o, "label", isStr, file);
    checkFold(o, file);
    field(o, "excluded", isInt, file);
    field(o, "meanDice", isNum, file);
    field(o, "meanIou", isNum, file);
    field(o, "evalSeconds", isNum, file);
    checkPerImage(o, file);
    return o as unknown as ZeroShotRecord;
}
