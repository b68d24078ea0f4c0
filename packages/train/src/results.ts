/**
 * The run's per-image results in long format (the run-level per-image.csv), from the unit records.
 * The report itself is built by @sam-ablate/report (buildRunResults).
 */
import path from "node:path";
import { writeFileAtomicSync } from "@sam-ablate/run-folder";
import { type AblationPlan as Plan, strategiesFor } from "./plan.js";
import { csvCell, PER_IMAGE_COLUMNS, perImageCells, readZeroShotRecord, type StrategyRecord } from "./runAblation.js";

/**
 * The run's per-image results in long format, one line per (dataset, strategy, decoder, seed, test
 * image): `decoder` is "fine-tuned" (with its training seed) or "zero-shot" (the pretrained decoder,
 * no seed); metrics in percent; prompt make-up per image. Returns the CSV text.
 */
export function runPerImageCsv(plan: Plan, records: readonly StrategyRecord[], runDir: string): string {
    const lines = [["dataset", "strategy", "decoder", "seed", ...PER_IMAGE_COLUMNS].join(",")];
    const row = (dataset: string, strategy: string, decoder: string, seed: string, cells: string[]) =>
        lines.push([dataset, strategy, decoder, seed, ...cells].map(csvCell).join(","));
    for (const d of plan.datasets) {
        for (const s of strategiesFor(plan, d)) {
            const zs = readZeroShotRecord(runDir, d.name, s.id);
            if (zs) for (const p of zs.perImage) row(d.name, s.id, "zero-shot", "", perImageCells(p));
            for (const r of records) {
                if (r.dataset !== d.name || r.strategy !== s.id) continue;
                for (const p of r.perImage) row(d.name, s.id, "fine-tuned", String(r.seed), perImageCells(p));
            }
        }
    }
    return `${lines.join("\n")}\n`;
}

/** Writes {@link runPerImageCsv} to `<runDir>/per-image.csv` (atomically); returns the path. */
export function writeRunPerImage(plan: Plan, records: readonly StrategyRecord[], runDir: string): string {
    const file = path.join(runDir, "per-image.csv");
    writeFileAtomicSync(file, runPerImageCsv(plan, records, runDir));
    return file;
}
