import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { DataError } from "./errors.js";
import {
    type DatasetFormat,
    type DatasetManifest,
    type JsonValue,
    MANIFEST_FILE,
    MANIFEST_FORMAT,
    MANIFEST_VERSION,
    type PatchEntry,
    type SourceEntry,
    type SplitRecord,
    serialiseManifest,
} from "./manifest.js";
import { stageOutputDir } from "./output-dir.js";
import { PatchWriter } from "./patch-writer.js";
import { applyFixedSplit, type PatientSplit, readSplitFile, splitPatients } from "./split.js";

/** Progress of a preparation: one event after each source (case or region). */
export interface PrepareProgress {
    done: number;
    total: number;
    /** Id of the source just finished. */
    source: string;
}

/** Options shared by prepareBrats and prepareBcss. */
export interface PrepareCommonOptions {
    /** Folder to create with images/, masks/ and manifest.json. */
    outDir: string;
    /** Seed of the patient split (default 0). */
    seed?: number;
    /** Fraction of patients for training (default 0.8). */
    trainFraction?: number;
    /** A fixed split instead of the seeded one: {"train": [...], "test": [...]} or a manifest. */
    splitFile?: string;
    /** Replace an existing prepared dataset in outDir (default false). */
    overwrite?: boolean;
    onProgress?: (event: PrepareProgress) => void;
    /** Called for each warning (they are also returned in the result). */
    onWarning?: (message: string) => void;
}

/** What a preparation returns. */
export interface PrepareResult {
    outDir: string;
    manifest: DatasetManifest;
    warnings: string[];
}

/** A patch before the split is known. */
export type UnsplitPatch = Omit<PatchEntry, "split">;

/** What a dataset-specific preparation hands back to runPreparation. */
export interface PreparedContent {
    settings: Record<string, JsonValue>;
    orientation: string;
    foreground: string;
    sources: SourceEntry[];
    patches: UnsplitPatch[];
}

/** What one source (case or region) contributes: its manifest entry and the patches cut from it. */
export interface PreparedSource {
    source: SourceEntry;
    patches: UnsplitPatch[];
}

/** Context passed to the dataset-specific preparation. */
export interface PrepareContext {
    writer: PatchWriter;
    warn(message: string): void;
    progress(done: number, total: number, source: string): void;
}

const DATASET_ENTRIES = new Set([MANIFEST_FILE, "images", "masks"]);

/**
 * Runs a preparation into a staging folder, splits the patients, writes manifest.json and moves the
 * folder into place; on any failure the staging folder is removed and outDir is left untouched.
 */
export async function runPreparation(
    kind: DatasetFormat,
    patchSize: number,
    common: PrepareCommonOptions,
    body: (ctx: PrepareContext) => Promise<PreparedContent>,
): Promise<PrepareResult> {
    const seed = common.seed ?? 0;
    const trainFraction = common.trainFraction ?? 0.8;
    if (!Number.isSafeInteger(seed)) throw new DataError("ERR_SA_DATA", `seed must be an integer, got ${seed}`);
    if (!(trainFraction > 0 && trainFraction <= 1))
        throw new DataError("ERR_SA_DATA", `trainFraction must be in (0, 1], got ${trainFraction}`);
    const fixed = common.splitFile ? await readSplitFile(common.splitFile) : undefined;
    const warnings: string[] = [];
    const warn = (message: string) => {
        warnings.push(message);
        common.onWarning?.(message);
    };
    const stage = await stageOutputDir(
        common.outDir,
        common.overwrite ?? false,
        (entries) => entries.every((e) => DATASET_ENTRIES.has(e)),
        "prepared dataset",
    );
    const writer = new PatchWriter(stage.staging, patchSize);
    try {
        await writer.init();
        const content = await body({
            writer,
            warn,
            progress: (done, total, source) => common.onProgress?.({ done, total, source }),
        });
        await writer.finish();
        if (content.patches.length === 0) {
            throw new DataError(
                "ERR_SA_DATA",
                `no patch met the selection thresholds in ${content.sources.length} source(s); nothing to write`,
            );
        }
        const patients = [...new Set(content.patches.map((p) => p.patient))].sort();
        let split: SplitRecord;
        let sides: PatientSplit;
        if (fixed && common.splitFile) {
            sides = applyFixedSplit(patients, fixed, common.splitFile);
            split = {
                method: "file",
                seed: null,
                trainFraction: null,
                file: path.basename(common.splitFile),
                ...sides,
            };
        } else {
            sides = splitPatients(patients, { seed, trainFraction });
            split = { method: "seeded-shuffle", seed, trainFraction, file: null, ...sides };
        }
        if (sides.test.length === 0) warn(`the split has no test patients (${patients.length} patient(s) in total)`);
        if (sides.train.length === 0)
            warn(`the split has no training patients (${patients.length} patient(s) in total)`);
        const testSet = new Set(sides.test);
        const patches: PatchEntry[] = content.patches.map((p) => ({
            id: p.id,
            patient: p.patient,
            source: p.source,
            split: testSet.has(p.patient) ? "test" : "train",
            position: p.position,
            tumourPixels: p.tumourPixels,
            sha256: p.sha256,
        }));
        const manifest: DatasetManifest = {
            format: MANIFEST_FORMAT,
            version: MANIFEST_VERSION,
            kind,
            patchSize,
            image: { channels: 3, encoding: "png-rgb8" },
            mask: { encoding: "png-grey-0-255", foreground: content.foreground },
            orientation: content.orientation,
            settings: content.settings,
            sources: content.sources,
            patients,
            split,
            patches,
        };
        await writeFile(path.join(stage.staging, MANIFEST_FILE), serialiseManifest(manifest));
        await stage.commit();
        return { outDir: path.resolve(common.outDir), manifest, warnings };
    } catch (err) {
        // Patches still being encoded would write into the staging folder while it is removed.
        await writer.settle();
        await stage.abort();
        throw err;
    }
}

/**
 * Refuses an input folder that is itself a prepared dataset (its manifest.json is one that `prepare`
 * wrote): its images/ and masks/ would otherwise pass for raw data (a BCSS tile set) and be cut into
 * patches of patches.
 */
export async function refusePreparedInput(inputDir: string): Promise<void> {
    let format: unknown;
    try {
        format = (JSON.parse(await readFile(path.join(inputDir, MANIFEST_FILE), "utf8")) as { format?: unknown })
            ?.format;
    } catch {
        return; // no manifest, or not one of ours: the layout detection decides
    }
    if (format === MANIFEST_FORMAT) {
        throw new DataError(
            "ERR_SA_DATA",
            `${inputDir}: already a prepared dataset (its ${MANIFEST_FILE} was written by prepare); prepare reads raw BraTS or BCSS folders. Use this folder as --data of embed, train and eval`,
        );
    }
}

/**
 * Prepares the sources one after the other (in order, so patch ids and manifests are reproducible),
 * reporting progress after each, and collects their manifest entries and patches. `usedIds` is
 * shared by all sources so that prepareOne can reject a patch id that another source already took.
 */
export async function prepareSources<T extends { id: string }>(
    items: readonly T[],
    ctx: PrepareContext,
    prepareOne: (item: T, usedIds: Set<string>) => Promise<PreparedSource>,
): Promise<{ sources: SourceEntry[]; patches: UnsplitPatch[] }> {
    const sources: SourceEntry[] = [];
    const patches: UnsplitPatch[] = [];
    const usedIds = new Set<string>();
    for (const [index, item] of items.entries()) {
        const done = await prepareOne(item, usedIds);
        sources.push(done.source);
        patches.push(...done.patches);
        ctx.progress(index + 1, items.length, item.id);
    }
    return { sources, patches };
}

/** The split part of a manifest's settings, as the options asked for it. */
export function splitSettings(common: PrepareCommonOptions): Record<string, JsonValue> {
    return {
        seed: common.seed ?? 0,
        trainFraction: common.trainFraction ?? 0.8,
        file: common.splitFile ? path.basename(common.splitFile) : null,
    };
}

/** Input-relative path with forward slashes (as stored in manifests). */
export function relativeSource(inputDir: string, file: string): string {
    return path.relative(inputDir, file).split(path.sep).join("/");
}

/** Makes a string safe for patch ids (anything outside [A-Za-z0-9._-] becomes '_'). */
export function safeId(text: string): string {
    const s = text.replace(/[^A-Za-z0-9._-]/g, "_");
    return s.startsWith(".") ? `_${s.slice(1)}` : s;
}

/** Throws ERR_SA_DATA unless `value` is an integer within [min, max]. */
export function checkInteger(name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
    if (!Number.isInteger(value) || value < min || value > max) {
        throw new DataError("ERR_SA_DATA", `${name} must be an integer in [${min}, ${max}], got ${value}`);
    }
    return value;
}

/** Throws ERR_SA_DATA unless `value` is a number within [min, max]. */
export function checkNumber(name: string, value: number, min: number, max: number): number {
    if (!(typeof value === "number" && value >= min && value <= max)) {
        throw new DataError("ERR_SA_DATA", `${name} must be a number in [${min}, ${max}], got ${value}`);
    }
    return value;
}
