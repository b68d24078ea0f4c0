/**
 * Builds the report's input (RunResults) from the unit records of a run: seeds merged per strategy
 * (per-image scores averaged over seeds; the per-seed means and their spread noted), the zero-shot
 * baseline beside them, sample overlays rebuilt from the test patches and the saved predictions.
 * With cross-validation the seeds are merged within each fold and the folds (disjoint test patients)
 * are concatenated; each fold's means are kept for the spread across folds.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { readLabelImage } from "@sam-ablate/image-io";
import type { PerImageRecord, UnitRecord } from "@sam-ablate/run-folder";
import type {
    DatasetResults,
    FoldResult,
    PerImageResult,
    RunResults,
    Sample,
    SelectionResult,
    StrategyResult,
} from "./types.js";

/** A test patch as the overlay figures need it. */
export interface TestPatch {
    width: number;
    height: number;
    /** Interleaved RGB. */
    image: Uint8Array;
    /** 0/1 ground truth. */
    gt: Uint8Array;
}

/** One dataset of the run, as the report sees it. */
export interface RunDataset {
    name: string;
    kind: "radiology" | "pathology";
    nTrain: number;
    nTest: number;
    /** Cross-validation: the number of folds K of the dataset (its records carry their fold). */
    folds?: number;
    /** The test patch of an image id; undefined when the prepared data is not at hand. */
    testPatch?: (imageId: string) => Promise<TestPatch | undefined>;
}

export interface RunResultsInput {
    title: string;
    createdBy: string;
    /** The resolved configuration, shown in the report. */
    config: unknown;
    datasets: RunDataset[];
    /** Finished unit records, in plan order. */
    records: readonly UnitRecord[];
    /** The folder holding a unit's saved predictions (`<imageId>.png`, 0/255; older runs `.bin`, 0/1). */
    predictionsDir: (record: UnitRecord) => string;
    /** The zero-shot baseline of a strategy (of one fold with cross-validation), when it was evaluated. */
    zeroShot?: (
        dataset: string,
        strategy: string,
        fold?: number,
    ) => { perImage: PerImageRecord[]; excluded: number } | undefined;
}

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

function notesFor(recs: UnitRecord[]): string[] {
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
function selectionFor(recs: UnitRecord[]): SelectionResult | undefined {
    const withSel = recs.filter((r) => r.selection && r.validation);
    if (withSel.length === 0 || withSel.length !== recs.length) return undefined;
    const mean = (f: (r: UnitRecord) => number) => withSel.reduce((a, r) => a + f(r), 0) / withSel.length;
    const first = withSel[0] as UnitRecord;
    const sel = (r: UnitRecord) => r.selection as NonNullable<UnitRecord["selection"]>;
    const val = (r: UnitRecord) => r.validation as NonNullable<UnitRecord["validation"]>;
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
export async function buildRunResults(input: RunResultsInput): Promise<RunResults> {
    const datasets: DatasetResults[] = [];
    for (const d of input.datasets) {
        const recs = input.records.filter((r) => r.dataset === d.name);
        const byStrategy = new Map<string, UnitRecord[]>();
        for (const r of recs) byStrategy.set(r.strategy, [...(byStrategy.get(r.strategy) ?? []), r]);
        const strategies: StrategyResult[] = [];
        const foldsSeen = new Set<number>();
        for (const [id, rs] of byStrategy) {
            const first = rs[0] as UnitRecord;
            // Seeds are averaged per image within a fold; folds (disjoint test patients) are concatenated.
            const byFold = new Map<number | undefined, UnitRecord[]>();
            for (const r of rs) byFold.set(r.fold, [...(byFold.get(r.fold) ?? []), r]);
            const order = [...byFold].sort((a, b) => (a[0] ?? -1) - (b[0] ?? -1));
            const perImage: PerImageResult[] = [];
            const folds: FoldResult[] = [];
            let excluded = 0;
            const zsImages: PerImageRecord[] = [];
            let zsExcluded = 0;
            let zsComplete = true;
            for (const [fold, frs] of order) {
                const f0 = frs[0] as UnitRecord;
                const images = f0.perImage.map((p, k) => {
                    if (p.dice === null) return { ...p };
                    const dice = frs.reduce((a, r) => a + ((r.perImage[k]?.dice ?? 0) as number), 0) / frs.length;
                    const iou = frs.reduce((a, r) => a + ((r.perImage[k]?.iou ?? 0) as number), 0) / frs.length;
                    return { ...p, dice, iou };
                });
                perImage.push(...images);
                excluded += f0.excluded;
                if (fold !== undefined) {
                    foldsSeen.add(fold);
                    const scored = images.filter((p) => p.dice !== null);
                    const mean = (k: "dice" | "iou") =>
                        scored.length ? scored.reduce((a, p) => a + (p[k] as number), 0) / scored.length : Number.NaN;
                    folds.push({
                        fold,
                        n: scored.length,
                        dice: mean("dice"),
                        iou: mean("iou"),
                        perSeed: frs.map((r) => ({ seed: r.seed, dice: r.meanDice })),
                    });
                }
                const zs = input.zeroShot?.(d.name, id, fold);
                if (zs) {
                    zsImages.push(...zs.perImage);
                    zsExcluded += zs.excluded;
                } else zsComplete = false;
            }
            const samples: Sample[] = [];
            if (d.testPatch) {
                for (const s of first.samples) {
                    if (s.dice === null) continue;
                    const patch = await d.testPatch(s.imageId);
                    if (!patch) continue;
                    const pred = await readPrediction(
                        input.predictionsDir(first),
                        s.imageId,
                        patch.width,
                        patch.height,
                    );
                    if (!pred) continue;
                    const sample: Sample = {
                        imageId: s.imageId,
                        width: patch.width,
                        height: patch.height,
                        image: patch.image,
                        gt: patch.gt,
                        pred,
                        points: s.prompt.points.map(([x, y]) => [x, y] as [number, number]),
                        labels: [...s.prompt.labels],
                        dice: s.dice,
                    };
                    if (s.prompt.box) sample.box = [...s.prompt.box] as [number, number, number, number];
                    samples.push(sample);
                }
            }
            strategies.push({
                id,
                label: first.label,
                // a baseline only when every evaluated fold has one (the same images on both sides)
                ...(zsComplete && order.length ? { zeroShot: { perImage: zsImages, excluded: zsExcluded } } : {}),
                seeds: [...new Set(rs.map((r) => r.seed))],
                ...(folds.length ? { folds } : {}),
                perImage,
                excluded,
                lossCurve: first.epochLosses,
                trainSeconds: rs.reduce((a, r) => a + r.trainSeconds, 0),
                notes:
                    order.length > 1
                        ? order.flatMap(([fold, frs]) => notesFor(frs).map((n) => `fold ${fold}: ${n}`))
                        : notesFor(rs),
                samples,
            });
            const selection = selectionFor(rs);
            if (selection) (strategies[strategies.length - 1] as StrategyResult).selection = selection;
        }
        datasets.push({
            name: d.name,
            kind: d.kind,
            nTrain: d.nTrain,
            nTest: d.nTest,
            ...(foldsSeen.size
                ? { folds: { k: d.folds ?? foldsSeen.size, evaluated: [...foldsSeen].sort((a, b) => a - b) } }
                : {}),
            strategies,
        });
    }
    return { title: input.title, createdBy: input.createdBy, config: input.config, datasets };
}
