/**
 * Patient-level k-fold cross-validation: every patient of a prepared dataset in exactly one of k
 * folds, stratified by tumour size (patients sorted by their mean tumour pixels per patch and dealt
 * out block by block, each block of k in a seeded order), recorded in the manifest. Fold f's test
 * set is the patients of fold f; its training set is every other patient.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { writeFileAtomic } from "@sam-ablate/run-folder";
import { Sfc32 } from "@sam-ablate/samplers";
import { DataError } from "./errors.js";
import {
    type DatasetManifest,
    MANIFEST_FILE,
    type PatchEntry,
    serialiseManifest,
    validateManifest,
} from "./manifest.js";

/** The folds of a dataset as recorded in its manifest. */
export interface FoldRecord {
    k: number;
    seed: number;
    /** What the folds are balanced on. */
    stratifiedBy: "mean tumour pixels per patch of a patient";
    /** The patients of each fold (each list sorted). */
    patients: string[][];
}

/**
 * Deals patients into k folds: sorted by size (then id), cut into blocks of k, each block's
 * patients given to the folds in a seeded order (the last, partial block to the folds with the
 * fewest patients so far). Folds differ in size by at most one patient.
 */
export function assignFolds(size: ReadonlyMap<string, number>, k: number, seed = 0): string[][] {
    const n = size.size;
    if (!Number.isInteger(k) || k < 2)
        throw new DataError("ERR_SA_SPLIT", `folds: k must be an integer >= 2, got ${k}`);
    if (k > n)
        throw new DataError("ERR_SA_SPLIT", `folds: ${k} folds need at least ${k} patients, the dataset has ${n}`);
    if (!Number.isSafeInteger(seed)) throw new DataError("ERR_SA_SPLIT", `folds: seed must be an integer, got ${seed}`);
    const order = [...size.entries()]
        .sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
        .map(([p]) => p);
    const rng = Sfc32.forKeys(seed, "patient-folds");
    const folds: string[][] = Array.from({ length: k }, () => []);
    for (let start = 0; start < n; start += k) {
        const block = order.slice(start, start + k);
        // folds with the fewest patients first, ties in a seeded order
        const targets = rng
            .shuffle(Array.from({ length: k }, (_, f) => f))
            .sort((a, b) => (folds[a] as string[]).length - (folds[b] as string[]).length);
        for (const [i, p] of block.entries()) (folds[targets[i] as number] as string[]).push(p);
    }
    return folds.map((f) => f.sort());
}

/** Mean tumour pixels per patch of every patient of a manifest. */
export function patientSizes(patches: readonly Pick<PatchEntry, "patient" | "tumourPixels">[]): Map<string, number> {
    const acc = new Map<string, { sum: number; count: number }>();
    for (const p of patches) {
        const a = acc.get(p.patient) ?? { sum: 0, count: 0 };
        a.sum += p.tumourPixels;
        a.count++;
        acc.set(p.patient, a);
    }
    return new Map([...acc].map(([p, a]) => [p, a.sum / a.count]));
}

/** Checks a manifest's `folds` against its patients; throws ERR_SA_MANIFEST naming `source`. */
export function validateFolds(folds: unknown, patients: readonly string[], source: string): FoldRecord {
    const fail = (msg: string): never => {
        throw new DataError("ERR_SA_MANIFEST", `${source}: folds: ${msg}`);
    };
    if (typeof folds !== "object" || folds === null || Array.isArray(folds)) return fail("not an object");
    const f = folds as Record<string, unknown>;
    if (!Number.isInteger(f.k) || (f.k as number) < 2) fail(`k ${JSON.stringify(f.k)} is not an integer >= 2`);
    if (!Array.isArray(f.patients) || f.patients.length !== f.k) fail(`patients must list ${f.k} folds`);
    const seen = new Map<string, number>();
    (f.patients as unknown[]).forEach((list, i) => {
        if (!Array.isArray(list) || !list.every((p) => typeof p === "string"))
            fail(`fold ${i} is not a list of patient ids`);
        for (const p of list as string[]) {
            if (seen.has(p)) fail(`patient ${p} is in folds ${seen.get(p)} and ${i}`);
            seen.set(p, i);
        }
    });
    for (const p of patients) if (!seen.has(p)) fail(`patient ${p} is in no fold`);
    for (const p of seen.keys()) if (!patients.includes(p)) fail(`patient ${p} of a fold has no patches`);
    return folds as FoldRecord;
}

/** Computes k folds for a prepared dataset folder and records them in its manifest (atomically). */
export async function writeFolds(dir: string, k: number, seed = 0): Promise<FoldRecord> {
    const file = path.join(dir, MANIFEST_FILE);
    const manifest = validateManifest(JSON.parse(await readFile(file, "utf8")), file);
    const folds: FoldRecord = {
        k,
        seed,
        stratifiedBy: "mean tumour pixels per patch of a patient",
        patients: assignFolds(patientSizes(manifest.patches), k, seed),
    };
    const out: DatasetManifest = { ...manifest, folds };
    await writeFileAtomic(file, serialiseManifest(out), { mkdir: false });
    return folds;
}

/** The patches on each side of fold `fold` (test = the fold's patients), in manifest order. */
export function foldEntries(manifest: DatasetManifest, fold: number): { train: PatchEntry[]; test: PatchEntry[] } {
    const folds = manifest.folds;
    if (!folds) throw new DataError("ERR_SA_SPLIT", "the dataset has no folds (prepare it with --folds K)");
    if (!Number.isInteger(fold) || fold < 0 || fold >= folds.k) {
        throw new DataError("ERR_SA_SPLIT", `fold ${fold} does not exist (the dataset has folds 0..${folds.k - 1})`);
    }
    const test = new Set(folds.patients[fold]);
    return {
        train: manifest.patches.filter((p) => !test.has(p.patient)),
        test: manifest.patches.filter((p) => test.has(p.patient)),
    };
}
