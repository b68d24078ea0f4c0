import { readFile } from "node:fs/promises";
import { Sfc32 } from "@sam-ablate/samplers";
import { DataError, errorText } from "./errors.js";

/** Patients on each side of a train/test split (each list sorted). */
export interface PatientSplit {
    train: string[];
    test: string[];
}

/** Options of the seeded patient split. */
export interface SplitOptions {
    /** Seed of the shuffle (default 0). */
    seed?: number;
    /** Fraction of patients for training, in (0, 1] (default 0.8). */
    trainFraction?: number;
}

/**
 * Splits patients into train and test: the unique ids are sorted, shuffled with a seeded
 * Fisher-Yates, and the first round(n * trainFraction) go to training (at least one patient on each
 * side when there are two or more and trainFraction < 1). A patient is never on both sides.
 */
export function splitPatients(patients: readonly string[], options: SplitOptions = {}): PatientSplit {
    const seed = options.seed ?? 0;
    const fraction = options.trainFraction ?? 0.8;
    if (!Number.isSafeInteger(seed)) throw new DataError("ERR_SA_SPLIT", `split seed must be an integer, got ${seed}`);
    if (!(fraction > 0 && fraction <= 1))
        throw new DataError("ERR_SA_SPLIT", `trainFraction must be in (0, 1], got ${fraction}`);
    const unique = [...new Set(patients)].sort();
    const n = unique.length;
    let nTrain = Math.round(n * fraction);
    if (n >= 2 && fraction < 1) nTrain = Math.min(Math.max(nTrain, 1), n - 1);
    else nTrain = Math.min(Math.max(nTrain, n === 0 ? 0 : 1), n);
    const order = Sfc32.forKeys(seed, "patient-split").shuffle(unique.slice());
    return { train: order.slice(0, nTrain).sort(), test: order.slice(nTrain).sort() };
}

/**
 * Assigns patients with a fixed split: every patient must appear in `fixed` on exactly one side.
 * Patients listed in `fixed` but absent from `patients` are dropped. `source` names the split file.
 */
export function applyFixedSplit(patients: readonly string[], fixed: PatientSplit, source: string): PatientSplit {
    const train = new Set(fixed.train);
    const test = new Set(fixed.test);
    const both = [...train].filter((p) => test.has(p));
    if (both.length > 0) {
        throw new DataError(
            "ERR_SA_SPLIT",
            `${source}: ${both.length} patient(s) on both sides of the split: ${preview(both)}`,
        );
    }
    const unique = [...new Set(patients)].sort();
    const missing = unique.filter((p) => !train.has(p) && !test.has(p));
    if (missing.length > 0) {
        throw new DataError(
            "ERR_SA_SPLIT",
            `${source}: ${missing.length} patient(s) of the dataset are in neither side of the split: ${preview(missing)}`,
        );
    }
    return { train: unique.filter((p) => train.has(p)), test: unique.filter((p) => test.has(p)) };
}

/**
 * Reads a split file: JSON `{"train": [...], "test": [...]}` or a dataset manifest (its `split`
 * is reused). Errors are DataError ERR_SA_SPLIT naming the file.
 */
export async function readSplitFile(file: string): Promise<PatientSplit> {
    let text: string;
    try {
        text = await readFile(file, "utf8");
    } catch (err) {
        throw new DataError("ERR_SA_SPLIT", `${file}: cannot read split file (${errorText(err)})`, { cause: err });
    }
    return parseSplit(text, file);
}

/** Parses split JSON text; see readSplitFile. */
export function parseSplit(text: string, source: string): PatientSplit {
    let json: unknown;
    try {
        json = JSON.parse(text);
    } catch (err) {
        throw new DataError("ERR_SA_SPLIT", `${source}: split file is not valid JSON (${errorText(err)})`, {
            cause: err,
        });
    }
    const holder = isObject(json) && isObject(json.split) ? json.split : json;
    if (!isObject(holder) || !isStringArray(holder.train) || !isStringArray(holder.test)) {
        throw new DataError(
            "ERR_SA_SPLIT",
            `${source}: expected {"train": [patient ids], "test": [patient ids]} (or a manifest with a split)`,
        );
    }
    return { train: [...holder.train], test: [...holder.test] };
}

function isObject(v: unknown): v is Record<string, unknown> {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isStringArray(v: unknown): v is string[] {
    return Array.isArray(v) && v.every((x) => typeof x === "string");
}

function preview(ids: string[]): string {
    return ids.length <= 5 ? ids.join(", ") : `${ids.slice(0, 5).join(", ")}, ...`;
}
