/**
 * Turns the strategy records of a run into the report's RunResults: seeds merged per strategy
 * (per-image scores averaged over seeds; the per-seed means and their spread noted), sample overlays
 * rebuilt from the prepared patches and the saved predictions.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { readLabelImage } from "@sam-ablate/image-io";
import type { DatasetResults, RunResults, Sample, SelectionResult, StrategyResult } from "@sam-ablate/report";
import { writeFileAtomicSync } from "./atomic.js";
import type { PreparedData } from "./datasets.js";
import { type AblationPlan as Plan, strategiesFor } from "./plan.js";
import { csvCell, PER_IMAGE_COLUMNS, perImageCells, readZeroShotRecord, type StrategyRecord } from "./runAblation.js";

/** A saved prediction (PNG, 0 / 255; older runs: raw 0/1 bytes), or undefined when none was saved. */
async function readPrediction(
    dir: string,
    imageId: string,
    width: number,
    height: number,
): Promise<Uint8Array | undefined> {
    const png = path.join(dir, `${imageId}.png`);
    if (existsSync(png)) {
        const img = await readLabelImage(png);
        if (img.width !== width || img.height !== height) return undefined;
        return img.data.map((v) => (v ? 1 : 0));
    }
    const bin = path.join(dir, `${imageId}.bin`);
    if (existsSync(bin)) {
        const data = new Uint8Array(readFileSync(bin));
        return data.length === width * height ? data : undefined;
    }
    return undefined;
}

function notesFor(recs: StrategyRecord[]): string[] {
    const notes: string[] = [];
    if (recs.length > 1) {
        const means = recs.map((r) => r.meanDice * 100);
        const mu = means.reduce((a, b) => a + b, 0) / means.length;
        const sd = Math.sqrt(means.reduce((a, b) => a + (b - mu) ** 2, 0) / (means.length - 1));
        notes.push(`mean Dice per seed: ${means.map((m) => m.toFixed(2)).join(", ")} (std ${sd.toFixed(2)} points)`);
    }
    const summary = recs[0]?.promptSummary as Record<string, unknown> | undefined;
    if (summary && typeof summary === "object") {
        const c = summary.centroidOutsideMask as { count?: number; of?: number } | undefined;
        if (c && typeof c.count === "number" && typeof c.of === "number" && c.of > 0) {
            notes.push(
                `centroid outside the mask in ${c.count} of ${c.of} test images (${((100 * c.count) / c.of).toFixed(1)}%)`,
            );
        }
        const j = summary.jitterIoU as { mean?: number } | undefined;
        if (j && typeof j.mean === "number")
            notes.push(`mean IoU of the jittered box with the tight box: ${j.mean.toFixed(3)}`);
    }
    return notes;
}

/** The model-selection summary of a strategy's seeds (undefined when they were not validated). */
function selectionFor(recs: StrategyRecord[]): SelectionResult | undefined {
    const withSel = recs.filter((r) => r.selection && r.validation);
    if (withSel.length === 0 || withSel.length !== recs.length) return undefined;
    const mean = (f: (r: StrategyRecord) => number) => withSel.reduce((a, r) => a + f(r), 0) / withSel.length;
    const first = withSel[0] as StrategyRecord;
    const sel = (r: StrategyRecord) => r.selection as NonNullable<StrategyRecord["selection"]>;
    const val = (r: StrategyRecord) => r.validation as NonNullable<StrategyRecord["validation"]>;
    return {
        mode: sel(first).mode,
        bestValDice: mean((r) => sel(r).test["best-val"].meanDice),
        lastDice: mean((r) => sel(r).test.last.meanDice),
        bestValIou: mean((r) => sel(r).test["best-val"].meanIou),
        lastIou: mean((r) => sel(r).test.last.meanIou),
        epochs: withSel.map((r) => sel(r).best?.epoch ?? null),
        valDice: withSel.map((r) => sel(r).best?.valDice ?? null),
        stoppedAtEpoch: withSel.map((r) => val(r).stoppedAtEpoch ?? null),
        curve: val(first).curve.map((p) => ({ epoch: p.epoch, dice: p.dice })),
        valSeconds: withSel.reduce((a, r) => a + val(r).seconds, 0),
        valPatients: val(first).patients.length,
        valImages: val(first).images,
    };
}

/** Builds the report input from the run's records. */
export async function buildRunResults(
    plan: Plan,
    records: StrategyRecord[],
    data: PreparedData[],
    runDir: string,
    createdBy: string,
): Promise<RunResults> {
    const datasets: DatasetResults[] = [];
    for (const d of plan.datasets) {
        const prep = data.find((p) => p.name === d.name);
        const recs = records.filter((r) => r.dataset === d.name);
        const byStrategy = new Map<string, StrategyRecord[]>();
        for (const r of recs) byStrategy.set(r.strategy, [...(byStrategy.get(r.strategy) ?? []), r]);
        const strategies: StrategyResult[] = [];
        for (const [id, rs] of byStrategy) {
            const first = rs[0] as StrategyRecord;
            const perImage = first.perImage.map((p, k) => {
                if (p.dice === null) return { ...p };
                const dice = rs.reduce((a, r) => a + ((r.perImage[k]?.dice ?? 0) as number), 0) / rs.length;
                const iou = rs.reduce((a, r) => a + ((r.perImage[k]?.iou ?? 0) as number), 0) / rs.length;
                return { ...p, dice, iou };
            });
            const samples: Sample[] = [];
            if (prep) {
                for (const s of first.samples) {
                    const i = prep.test.ids.indexOf(s.imageId);
                    if (i < 0 || s.dice === null) continue;
                    const pred = await readPrediction(
                        path.join(runDir, "results", d.name, id, `seed${first.seed}`, "predictions"),
                        s.imageId,
                        prep.width,
                        prep.height,
                    );
                    if (!pred) continue;
                    const sample: Sample = {
                        imageId: s.imageId,
                        width: prep.width,
                        height: prep.height,
                        image: await prep.test.image(i),
                        gt: prep.test.mask(i),
                        pred,
                        points: s.prompt.points.map(([x, y]) => [x, y] as [number, number]),
                        labels: [...s.prompt.labels],
                        dice: s.dice,
                    };
                    if (s.prompt.box) sample.box = [...s.prompt.box] as [number, number, number, number];
                    samples.push(sample);
                }
            }
            const zs = readZeroShotRecord(runDir, d.name, id);
            strategies.push({
                id,
                label: first.label,
                ...(zs ? { zeroShot: { perImage: zs.perImage, excluded: zs.excluded } } : {}),
                seeds: rs.map((r) => r.seed),
                perImage,
                excluded: first.excluded,
                lossCurve: first.epochLosses,
                trainSeconds: rs.reduce((a, r) => a + r.trainSeconds, 0),
                notes: notesFor(rs),
                samples,
            });
            const selection = selectionFor(rs);
            if (selection) (strategies[strategies.length - 1] as StrategyResult).selection = selection;
        }
        datasets.push({
            name: d.name,
            kind: d.kind,
            nTrain: prep?.train.ids.length ?? 0,
            nTest: prep?.test.ids.length ?? 0,
            strategies,
        });
    }
    return { title: `sam-ablate: ${plan.name}`, createdBy, config: plan, datasets };
}

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
