// The small ablation plans of the end-to-end tests (one radiology dataset "mri" of generated phantoms,
// one report sample per strategy) written to a file, and the CSV and JSON files a run leaves.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

/** The dataset's phantom sizes and subsets (default 4 patients, 16 slices each, maxTrain 4, maxTest 2). */
export interface PhantomDataset {
    patients?: number;
    slicesPerPatient?: number;
    maxTrain?: number;
    maxTest?: number;
}

/**
 * Writes `dir`/plan.json: the plan `name` of `strategies` on the dataset with `training`; `more` holds
 * the dataset's sizes and further top-level plan fields (embedShards, evaluation, validation, ...).
 * Returns the file.
 */
export function writePhantomPlan(
    dir: string,
    name: string,
    strategies: readonly string[],
    training: Record<string, unknown>,
    more: PhantomDataset & Record<string, unknown> = {},
): string {
    const { patients = 4, slicesPerPatient = 16, maxTrain = 4, maxTest = 2, ...fields } = more;
    const dataset = {
        name: "mri",
        kind: "radiology",
        source: { type: "phantom", patients, slicesPerPatient },
        maxTrain,
        maxTest,
        strategies,
    };
    const file = path.join(dir, "plan.json");
    writeFileSync(
        file,
        JSON.stringify({ name, datasets: [dataset], training, report: { samplesPerStrategy: 1 }, ...fields }),
    );
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
