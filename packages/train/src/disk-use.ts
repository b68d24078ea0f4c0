/**
 * The disk a plan will take, before it runs: embedding caches (fp16, one per dataset), and per unit
 * the fine-tuned decoder, the kept training states (weights + two Adam moments each), the kept
 * predictions and the records. Counts come from the prepared datasets when known, otherwise from the
 * plan's maxTrain/maxTest (a dataset without either is left out and named).
 */

import { statfsSync, statSync } from "node:fs";
import path from "node:path";
import { type AblationPlan, strategiesFor } from "./ablation-plan.js";
import type { PreparedData } from "./datasets.js";

export interface DiskUseFacts {
    /** Values in the decoder's state dict (prompt encoder + mask decoder). */
    decoderParams: number;
    /** Embedding grid side (64 for SAM). */
    embedSize: number;
    /** Epoch states kept per unit once it is done (while a unit trains, at least one is on disk). */
    keepCheckpoints: number;
    /** Prepared datasets (for patch counts and sizes), when known. */
    data?: readonly PreparedData[];
}

export interface DiskUseEstimate {
    /** Bytes in all. */
    total: number;
    units: number;
    /** Bytes a finished unit keeps (decoders, kept states, predictions, records). */
    perUnit: number;
    /** Bytes of embedding caches. */
    cache: number;
    /** Bytes held only while a unit trains (its resumable state). */
    training: number;
    /** Datasets whose size is unknown before preparation. */
    unknown: string[];
}

const SAFETENSORS_OVERHEAD = 64 * 1024;

/** Estimates the bytes a plan writes (the prepared data itself is not counted). */
export function estimateDiskUse(plan: AblationPlan, facts: DiskUseFacts): DiskUseEstimate {
    const decoderBytes = facts.decoderParams * 4 + SAFETENSORS_OVERHEAD;
    const stateBytes = 3 * facts.decoderParams * 4 + SAFETENSORS_OVERHEAD;
    const perEmbedding = 256 * facts.embedSize * facts.embedSize * 2;
    let cache = 0;
    let total = 0;
    let units = 0;
    let perUnitMax = 0;
    let transient = 0;
    const unknown: string[] = [];
    for (const d of plan.datasets) {
        const prep = facts.data?.find((p) => p.name === d.name);
        const nTrain = prep?.train.ids.length ?? d.maxTrain ?? 0;
        const nTest = prep?.test.ids.length ?? d.maxTest ?? 0;
        if (!prep && !(nTrain > 0 && nTest > 0)) unknown.push(d.name);
        const pixels = prep ? prep.height * prep.width : 256 * 256;
        // validation patches are encoded too (known once the dataset is prepared)
        const nVal = prep?.val.ids.length ?? 0;
        const c = (nTrain + nVal + nTest) * perEmbedding + 4096;
        cache += c;
        // cross-validation: one unit per fold run (the one cache holds every patch, about train + test)
        const folds = facts.data?.filter((p) => p.name === d.name && p.fold !== undefined).length || 1;
        const n = strategiesFor(plan, d).length * plan.training.seeds.length * folds;
        const records = nTest * 160 + 16 * 1024;
        // with validation the unit also keeps the other candidate's decoder
        const validating = plan.validation !== "none";
        const unit =
            decoderBytes * (validating ? 2 : 1) +
            facts.keepCheckpoints * stateBytes +
            plan.report.samplesPerStrategy * pixels +
            records;
        // the unit that trains holds its state (and the best weights so far) until it is done
        transient = Math.max(
            transient,
            Math.max(1, facts.keepCheckpoints) * stateBytes + (validating ? facts.decoderParams * 4 : 0),
        );
        perUnitMax = Math.max(perUnitMax, unit);
        units += n;
        total += c + n * unit;
    }
    return { total: total + transient, units, perUnit: perUnitMax, cache, unknown, training: transient };
}

/** Bytes as "12.3 MB" (decimal units). */
export function formatBytes(n: number): string {
    if (n < 1000) return `${n} B`;
    const units = ["kB", "MB", "GB", "TB"];
    let v = n / 1000;
    let k = 0;
    while (v >= 1000 && k < units.length - 1) {
        v /= 1000;
        k++;
    }
    return `${v.toFixed(v < 10 ? 2 : 1)} ${units[k]}`;
}

/** One line for humans. */
export function diskUseText(e: DiskUseEstimate): string {
    const unknown = e.unknown.length
        ? `; not counted: the caches of ${e.unknown.join(", ")} (size known after preparation)`
        : "";
    return `about ${formatBytes(e.total)} (${e.units} units x ${formatBytes(e.perUnit)} + embedding caches ${formatBytes(e.cache)} + ${formatBytes(e.training)} while a unit trains)${unknown}`;
}

/** A folder a run writes to, with its file system's identity and free space (null: unknown). */
export interface DiskPlace {
    dir: string;
    /** Device id of the file system (stat's dev), to tell whether two folders share a disk. */
    device: number | null;
    /** Bytes this user may still write there (statfs: available blocks x block size). */
    free: number | null;
}

/** The disk of `dir`, read from its nearest existing ancestor (the folder may not exist yet). */
export function diskPlace(dir: string): DiskPlace {
    let d = path.resolve(dir);
    for (;;) {
        try {
            const device = statSync(d).dev;
            const fs = statfsSync(d);
            return { dir, device, free: fs.bavail * fs.bsize };
        } catch {
            const up = path.dirname(d);
            if (up === d) return { dir, device: null, free: null };
            d = up;
        }
    }
}

/**
 * Warnings for disks with less free space than the plan expects to write there: the run folder
 * holds the units (and the caches when `cache` shares its disk), the cache folder the embedding
 * caches. The estimate is for the whole plan, so on a resumed run what is already written counts in it.
 */
export function diskSpaceWarnings(e: DiskUseEstimate, run: DiskPlace, cache: DiskPlace): string[] {
    const shared = run.device !== null && run.device === cache.device;
    const needs: [DiskPlace, number][] = shared
        ? [[run, e.total]]
        : [
              [run, e.total - e.cache],
              [cache, e.cache],
          ];
    const out: string[] = [];
    for (const [place, need] of needs) {
        if (place.free === null || need <= 0 || place.free >= need) continue;
        out.push(
            `only ${formatBytes(place.free)} free on the disk of ${place.dir}, where this plan expects to write about ${formatBytes(need)} (what an earlier run already wrote counts in it); if the disk fills, the unit writing fails, finished units are kept, and the same command resumes once space is freed`,
        );
    }
    return out;
}
