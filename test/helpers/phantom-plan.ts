// The small ablation plans of the end-to-end tests (one radiology dataset "mri" of generated phantoms,
// one report sample per strategy) written to a file, and the CSV and JSON files a run leaves.
import { readFileSync, writeFileSync } from "node:fs";

export interface PhantomPlan {
    name: string;
    strategies: readonly string[];
    training: Record<string, unknown>;
    /** Phantom patients and slices per patient (default 4 and 16). */
    patients?: number;
    slicesPerPatient?: number;
    /** The dataset's maxTrain and maxTest (default 4 and 2). */
    maxTrain?: number;
    maxTest?: number;
    /** Further top-level plan fields (embedShards, evaluation, validation, ...). */
    more?: Record<string, unknown>;
}

/** Writes the plan as JSON to `file` and returns `file`. */
export function writePhantomPlan(file: string, p: PhantomPlan): string {
    const dataset = {
        name: "mri",
        kind: "radiology",
        source: { type: "phantom", patients: p.patients ?? 4, slicesPerPatient: p.slicesPerPatient ?? 16 },
        maxTrain: p.maxTrain ?? 4,
        maxTest: p.maxTest ?? 2,
        strategies: p.strategies,
    };
    const plan = {
        name: p.name,
        datasets: [dataset],
        training: p.training,
        report: { samplesPerStrategy: 1 },
        ...p.more,
    };
    writeFileSync(file, JSON.stringify(plan));
    return file;
}

/** A CSV without quoted fields, as objects keyed by the header. */
export function readCsv(file: string): Record<string, string>[] {
    const [head, ...lines] = readFileSync(file, "utf8").trim().split("\n");
    const cols = (head as string).split(",");
    return lines.map((l) => Object.fromEntries(l.split(",").map((v, i) => [cols[i] as string, v])));
}

/** A JSON file, parsed (untyped: the tests read whatever the run wrote). */
export const readJson = (file: string) => JSON.parse(readFileSync(file, "utf8"));
