/**
 * Datasets of a plan, ready for training: phantoms are generated in the real on-disk layouts and go
 * through the real BraTS/BCSS preparation; raw datasets are prepared into the run folder; prepared
 * folders are used as they are. Masks are held in memory (they are small); images are read when
 * they are encoded or drawn in the report.
 */

import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import path from "node:path";
import {
    foldEntries,
    generatePhantoms,
    loadDataset,
    type PreparedDataset,
    prepareBcss,
    prepareBrats,
    writeFolds,
} from "@sam-ablate/data";
import { SamFrame } from "@sam-ablate/model";
import { rngFor } from "@sam-ablate/samplers";
import type { AblationPlan, DatasetPlan } from "./ablation-plan.js";

/** One split of a prepared dataset. */
export interface PreparedSplit {
    ids: string[];
    patients: string[];
    /** Ground truth 0/1 at the patch resolution. */
    mask(i: number): Uint8Array;
    /** RGB patch (height x width x 3). */
    image(i: number): Promise<Uint8Array>;
    /** Training target at the low-res logits' resolution (side `lowRes`), for a model input side `imgSize`. */
    target(i: number, lowRes: number, imgSize: number): Float32Array;
}

export interface PreparedData {
    name: string;
    kind: "radiology" | "pathology";
    dir: string;
    height: number;
    width: number;
    /** Identifies the selected patches (the cache key includes it). */
    fingerprint: string;
    /** The cross-validation fold whose patients form `test` (absent: the manifest's split). */
    fold?: number;
    /** With folds: the number of folds K of the manifest. */
    foldCount?: number;
    /**
     * With folds: every patch of the dataset, so that one embedding cache serves all folds (the
     * patches of any fold are among these).
     */
    all?: { ids: string[]; fingerprint: string; image(i: number): Promise<Uint8Array> };
    train: PreparedSplit;
    /** Validation patches (patients held out of the training split); empty under `validation: none`. */
    val: PreparedSplit;
    /** The validation patients (sorted); empty under `validation: none`. */
    valPatients: string[];
    test: PreparedSplit;
}

/**
 * Holds out a seeded share of the training patients for validation: the unique patients are sorted
 * and shuffled (Fisher-Yates from `rngFor(seed, "validation", 0, "validation-split")`), and the first
 * round(n * fraction) (at least 1, at most n - 1) are validation patients. Needs two or more patients.
 */
export function splitValidationPatients(
    patients: readonly string[],
    fraction: number,
    seed: number,
    dataset: string,
): { train: string[]; val: string[] } {
    const unique = [...new Set(patients)].sort();
    const n = unique.length;
    if (n < 2) {
        throw Object.assign(
            new Error(
                `dataset '${dataset}': a validation split needs at least 2 training patients, found ${n} (use validation: none)`,
            ),
            {
                code: "ERR_SA_DATASET",
            },
        );
    }
    const nVal = Math.min(Math.max(Math.round(n * fraction), 1), n - 1);
    const order = rngFor(seed, "validation", 0, "validation-split").shuffle(unique.slice());
    return { val: order.slice(0, nVal).sort(), train: order.slice(nVal).sort() };
}

/** Evenly spaced subset of n items (keeps patient diversity), all when max <= 0 or >= n. */
function subset<T>(items: readonly T[], max: number | undefined): T[] {
    if (!max || max >= items.length) return [...items];
    const out: T[] = [];
    for (let k = 0; k < max; k++) out.push(items[Math.floor((k * items.length) / max)] as T);
    return out;
}

async function split(ds: PreparedDataset, entries: readonly { id: string; patient: string }[]): Promise<PreparedSplit> {
    const masks: Uint8Array[] = [];
    for (const e of entries) masks.push((await ds.read(e.id)).mask);
    const size = ds.manifest.patchSize;
    return {
        ids: entries.map((e) => e.id),
        patients: entries.map((e) => e.patient),
        mask: (i) => masks[i] as Uint8Array,
        image: async (i) => (await ds.read(entries[i]?.id as string)).image,
        target: (i, lowRes, imgSize) => new SamFrame(size, size, imgSize).lowResTarget(masks[i] as Uint8Array, lowRes),
    };
}

/** The imaging domain of a prepared dataset's manifest kind (BraTS layout: radiology; BCSS: pathology). */
export function kindOfManifest(kind: "brats" | "bcss"): DatasetPlan["kind"] {
    return kind === "brats" ? "radiology" : "pathology";
}

/** The imaging domain recorded in a prepared dataset folder's manifest. */
export async function preparedKind(dir: string): Promise<DatasetPlan["kind"]> {
    return kindOfManifest((await loadDataset(dir)).manifest.kind);
}

/** Default number of folds when a run prepares a cross-validated dataset itself. */
export const DEFAULT_FOLD_COUNT = 5;

/** The folds of a dataset to run: [undefined] (the manifest's one split) or fold numbers below `k`. */
export function foldsToRun(d: DatasetPlan, k: number | undefined): (number | undefined)[] {
    if (d.folds === undefined) return [undefined];
    const count = k ?? d.foldCount ?? DEFAULT_FOLD_COUNT;
    if (d.folds === "all") return Array.from({ length: count }, (_, f) => f);
    const beyond = d.folds.find((f) => f >= count);
    if (beyond !== undefined) {
        throw Object.assign(
            new Error(`dataset '${d.name}': fold ${beyond} does not exist (the dataset has folds 0..${count - 1})`),
            { code: "ERR_SA_DATASET" },
        );
    }
    return d.folds;
}

function digest(entries: readonly { id: string; sha256: string }[]): string {
    return createHash("sha256")
        .update(entries.map((e) => `${e.id}:${e.sha256}`).join("\n"))
        .digest("hex")
        .slice(0, 12);
}

/**
 * Prepares (or reuses) a plan's dataset under `<runDir>/data/<name>`. With `fold` (cross-validation:
 * the plan's dataset has `folds`), the test split is that fold's patients and every other patient
 * trains; a dataset the run prepares gets its K folds written into its manifest, a prepared folder
 * must already hold them (`prepare --folds K`).
 */
export async function prepareDataset(
    d: DatasetPlan,
    plan: AblationPlan,
    runDir: string,
    fold?: number,
): Promise<PreparedData> {
    const base = path.join(runDir, "data", d.name);
    const patches = path.join(base, "patches");
    const seed = plan.seed;
    const trainFraction = d.trainFraction ?? 0.8;
    let dir: string;
    const src = d.source;
    if (src.type === "prepared") {
        dir = src.dir;
    } else {
        dir = patches;
        if (!existsSync(path.join(patches, "manifest.json"))) {
            let input: string;
            if (src.type === "phantom") {
                input = path.join(base, "raw");
                if (!existsSync(input)) {
                    if (d.kind === "radiology") {
                        await generatePhantoms({
                            kind: "radiology",
                            outDir: input,
                            patients: src.patients,
                            ...(src.slicesPerPatient ? { slices: src.slicesPerPatient } : {}),
                            seed: src.seed ?? seed,
                        });
                    } else {
                        await generatePhantoms({
                            kind: "pathology",
                            outDir: input,
                            patients: src.patients,
                            ...(src.regionsPerPatient ? { regions: src.regionsPerPatient } : {}),
                            seed: src.seed ?? seed,
                        });
                    }
                }
            } else {
                input = src.dir;
            }
            const common = { outDir: patches, seed, trainFraction };
            if (d.kind === "radiology") {
                await prepareBrats({
                    ...common,
                    inputDir: input,
                    ...(src.type === "brats" && src.modality ? { modality: src.modality } : {}),
                    ...(src.type === "brats" && src.minTumourPixels ? { minTumourPixels: src.minTumourPixels } : {}),
                });
            } else {
                await prepareBcss({
                    ...common,
                    inputDir: input,
                    ...(src.type === "bcss" && src.tumourCode !== undefined ? { tumourCodes: [src.tumourCode] } : {}),
                });
            }
        }
    }
    let ds = await loadDataset(dir);
    if (d.folds !== undefined) {
        const has = ds.manifest.folds;
        if (src.type === "prepared") {
            if (!has) {
                throw Object.assign(
                    new Error(
                        `dataset '${d.name}' (${dir}): the plan asks for cross-validation folds, the manifest has none (prepare it with --folds K)`,
                    ),
                    {
                        code: "ERR_SA_DATASET",
                    },
                );
            }
        } else {
            const k = d.foldCount ?? DEFAULT_FOLD_COUNT;
            if (has?.k !== k) {
                await writeFolds(dir, k, seed);
                ds = await loadDataset(dir);
            }
        }
    }
    const kind = kindOfManifest(ds.manifest.kind);
    if (kind !== d.kind) {
        throw Object.assign(
            new Error(
                `dataset '${d.name}' (${dir}): the plan says ${d.kind} but the manifest says ${ds.manifest.kind} (${kind})`,
            ),
            {
                code: "ERR_SA_DATASET",
            },
        );
    }
    if (fold !== undefined && d.folds === undefined) {
        throw Object.assign(
            new Error(`dataset '${d.name}': fold ${fold} asked, but the plan's dataset has no \`folds\``),
            { code: "ERR_SA_DATASET" },
        );
    }
    let sides: { train: typeof ds.train; test: typeof ds.test };
    try {
        sides = fold === undefined ? { train: ds.train, test: ds.test } : foldEntries(ds.manifest, fold);
    } catch (e) {
        throw Object.assign(new Error(`dataset '${d.name}' (${dir}): ${(e as Error).message}`), {
            code: "ERR_SA_DATASET",
        });
    }
    let trainPool = sides.train;
    let valEntries: typeof ds.train = [];
    let valPatients: string[] = [];
    if (plan.validation !== "none") {
        const v = splitValidationPatients(
            sides.train.map((e) => e.patient),
            plan.validation.fraction,
            seed,
            d.name,
        );
        valPatients = v.val;
        const held = new Set(v.val);
        trainPool = sides.train.filter((e) => !held.has(e.patient));
        valEntries = subset(
            sides.train.filter((e) => held.has(e.patient)),
            plan.validation.maxImages,
        );
    }
    const trainEntries = subset(trainPool, d.maxTrain);
    const testEntries = subset(sides.test, d.maxTest);
    if (trainEntries.length === 0)
        throw Object.assign(new Error(`dataset '${d.name}' (${dir}): no training patches`), { code: "ERR_SA_DATASET" });
    if (testEntries.length === 0)
        throw Object.assign(new Error(`dataset '${d.name}' (${dir}): no test patches`), { code: "ERR_SA_DATASET" });
    const fingerprint = digest([...trainEntries, ...valEntries, ...testEntries]);
    const size = ds.manifest.patchSize;
    const out: PreparedData = {
        name: d.name,
        kind: d.kind,
        dir,
        height: size,
        width: size,
        fingerprint,
        train: await split(ds, trainEntries),
        val: await split(ds, valEntries),
        valPatients,
        test: await split(ds, testEntries),
    };
    if (fold !== undefined && ds.manifest.folds) {
        const all = ds.manifest.patches;
        out.fold = fold;
        out.foldCount = ds.manifest.folds.k;
        out.all = {
            ids: all.map((e) => e.id),
            fingerprint: digest(all),
            image: async (i) => (await ds.read(all[i]?.id as string)).image,
        };
    }
    return out;
}

/**
 * The prepared data of every fold of a dataset to run (one entry, fold undefined, without
 * cross-validation). `which` "all" gives every fold of the manifest (a report covers the folds of
 * earlier calls too); "plan" the plan's own selection.
 */
export async function prepareFolds(
    d: DatasetPlan,
    plan: AblationPlan,
    runDir: string,
    which: "plan" | "all" = "plan",
): Promise<PreparedData[]> {
    if (d.folds === undefined) return [await prepareDataset(d, plan, runDir)];
    const first = await prepareDataset(d, plan, runDir, 0);
    const folds = foldsToRun(which === "all" ? { ...d, folds: "all" } : d, first.foldCount);
    const out: PreparedData[] = [];
    for (const f of folds) out.push(f === 0 ? first : await prepareDataset(d, plan, runDir, f));
    return out;
}

/**
 * Re-opens the prepared datasets of a finished or interrupted run (for `report`). With cross-validation
 * every fold of the manifest that has a finished unit in `records` (all folds when not given).
 */
export async function loadPreparedForReport(
    plan: AblationPlan,
    runDir: string,
    records?: readonly { dataset: string; fold?: number }[],
): Promise<PreparedData[]> {
    const out: PreparedData[] = [];
    for (const d of plan.datasets) {
        const dir = d.source.type === "prepared" ? d.source.dir : path.join(runDir, "data", d.name, "patches");
        if (!existsSync(path.join(dir, "manifest.json"))) continue;
        if (d.folds === undefined || !records) {
            out.push(...(await prepareFolds(d, plan, runDir, "all")));
            continue;
        }
        const folds = [
            ...new Set(
                records.filter((r) => r.dataset === d.name && r.fold !== undefined).map((r) => r.fold as number),
            ),
        ].sort((a, b) => a - b);
        for (const f of folds) out.push(await prepareDataset(d, plan, runDir, f));
    }
    return out;
}
