/**
 * The disk a plan will take, before it runs: embedding caches (fp16, one per dataset), and per unit
 * the fine-tuned decoder, the kept training states (weights + two Adam moments each), the kept
 * predictions and the records. Counts come from the prepared datasets when known, otherwise from the
 * plan's maxTrain/maxTest (a dataset without either is left out and named).
 */

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
