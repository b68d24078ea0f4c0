/**
 * The run's per-image results in long format (the run-level per-image.csv), from the unit records.
 * The report itself is built by @sam-ablate/report (buildRunResults).
 */
import path from "node:path";
import { RunFolder, writeFileAtomicSync } from "@sam-ablate/run-folder";
import { type AblationPlan as Plan, strategiesFor } from "./ablation-plan.js";
import {
    csvCell,
    PER_IMAGE_COLUMNS,
    perImageCells,
    readStrategyRecord,
    readZeroShotRecord,
    type StrategyRecord,
} from "./run-ablation.js";

/**
 * The run's per-image results in long format, one line per (dataset, strategy, decoder, seed, test
 * image): `decoder` is "fine-tuned" (with its training seed) or "zero-shot" (the pretrained decoder,
 * no seed); metrics in percent; prompt make-up per image. A cross-validated plan has a `fold` column
 * after `dataset` (empty for a dataset without folds); the folds are those with a finished unit in
 * `records`. Returns the CSV text.
 */
export function runPerImageCsv(plan: Plan, records: readonly StrategyRecord[], runDir: string): string {
    const cv = plan.datasets.some((d) => d.folds !== undefined);
    const lines = [["dataset", ...(cv ? ["fold"] : []), "strategy", "decoder", "seed", ...PER_IMAGE_COLUMNS].join(",")];
    const row = (
        dataset: string,
        fold: number | undefined,
        strategy: string,
        decoder: string,
        seed: string,
        cells: string[],
    ) =>
        lines.push(
            [dataset, ...(cv ? [fold === undefined ? "" : String(fold)] : []), strategy, decoder, seed, ...cells]
                .map(csvCell)
                .join(","),
        );
    for (const d of plan.datasets) {
        const folds = foldsOf(d, records);
        for (const fold of folds) {
            for (const s of strategiesFor(plan, d)) {
                const zs = readZeroShotRecord(runDir, d.name, s.id, fold);
                if (zs) for (const p of zs.perImage) row(d.name, fold, s.id, "zero-shot", "", perImageCells(p));
                for (const r of records) {
                    if (r.dataset !== d.name || r.strategy !== s.id || r.fold !== fold) continue;
                    for (const p of r.perImage) row(d.name, fold, s.id, "fine-tuned", String(r.seed), perImageCells(p));
                }
            }
        }
    }
    return `${lines.join("\n")}\n`;
}

/**
 * The folds of a dataset that `items` hold, ascending (every fold on disk of a cross-validated
 * dataset); `[undefined]` for a dataset with one split.
 */
function foldsOf(
    d: { name: string; folds?: unknown },
    items: readonly { dataset: string; fold?: number }[],
): (number | undefined)[] {
    if (d.folds === undefined) return [undefined];
    const found = items.filter((r) => r.dataset === d.name && r.fold !== undefined).map((r) => r.fold as number);
    return [...new Set(found)].sort((a, b) => a - b);
}

/**
 * Every finished unit record of a run folder, in plan order: dataset, fold (every fold on disk of a
 * cross-validated dataset: the folds of earlier calls count too), strategy, seed.
 */
export function finishedRecords(plan: Plan, runDir: string): StrategyRecord[] {
    const folder = new RunFolder(runDir);
    const onDisk = folder.listUnits();
    const out: StrategyRecord[] = [];
    for (const d of plan.datasets) {
        const folds = foldsOf(
            d,
            onDisk.map((u) => u.id),
        );
        for (const fold of folds) {
            for (const s of strategiesFor(plan, d)) {
                for (const seed of plan.training.seeds) {
                    const r = readStrategyRecord(runDir, d.name, s.id, seed, fold);
                    if (r) out.push(r);
                }
            }
        }
    }
    return out;
}

/** Writes {@link runPerImageCsv} to `<runDir>/per-image.csv` (atomically); returns the path. */
export function writeRunPerImage(plan: Plan, records: readonly StrategyRecord[], runDir: string): string {
    const file = path.join(runDir, "per-image.csv");
    writeFileAtomicSync(file, runPerImageCsv(plan, records, runDir));
    return file;
}
