/**
 * Turns the strategy records of a run into the report's RunResults: seeds merged per strategy
 * (per-image scores averaged over seeds; the per-seed means and their spread noted), sample overlays
 * rebuilt from the prepared patches and the saved predictions.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { DatasetResults, RunResults, Sample, StrategyResult } from "@sam-ablate/report";
import type { PreparedData } from "./datasets.js";
import type { AblationPlan } from "./plan.js";
import type { StrategyRecord } from "./runAblation.js";

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
            notes.push(`centroid outside the mask in ${c.count} of ${c.of} test images (${((100 * c.count) / c.of).toFixed(1)}%)`);
        }
        const j = summary.jitterIoU as { mean?: number } | undefined;
        if (j && typeof j.mean === "number") notes.push(`mean IoU of the jittered box with the tight box: ${j.mean.toFixed(3)}`);
    }
    return notes;
}

/** Builds the report input from the run's records. */
export async function buildRunResults(plan: AblationPlan, records: StrategyRecord[], data: PreparedData[], runDir: string, createdBy: string): Promise<RunResults> {
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
                    const predFile = path.join(runDir, "results", d.name, id, `seed${first.seed}`, "predictions", `${s.imageId}.bin`);
                    if (i < 0 || !existsSync(predFile) || s.dice === null) continue;
                    const sample: Sample = {
                        imageId: s.imageId,
                        width: prep.width,
                        height: prep.height,
                        image: await prep.test.image(i),
                        gt: prep.test.mask(i),
                        pred: new Uint8Array(readFileSync(predFile)),
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
                seeds: rs.map((r) => r.seed),
                perImage,
                excluded: first.excluded,
                lossCurve: first.epochLosses,
                trainSeconds: rs.reduce((a, r) => a + r.trainSeconds, 0),
                notes: notesFor(rs),
                samples,
            });
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
