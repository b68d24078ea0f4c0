/**
 * Runs the units of a plan (units.ts) in a shared run folder: all of them (one process), one stage's
 * share (`--stage S --shard K/N`, a Slurm array task), every stage's share with a barrier between
 * stages (`--shard K/N` alone: Kubernetes Indexed Jobs, xargs -P), or one unit (`--unit ID`).
 *
 * The run folder's layout is @sam-ablate/run-folder's. Per unit, under `<run>/units/<id>`: `.lock`
 * (run-folder's FileLock, heartbeat every 5 s) while it runs, `.failed.json` after an error (cause, host, pid, Slurm task and log),
 * `.done.json` for units whose output is not its own marker. A unit is done when its output is
 * complete: prepare: the manifest; embed: its shard file; train and zero-shot: the unit folder's
 * `result.json` (written last); report: its marker. Finished units are skipped, locked ones left to
 * their holder, stale locks taken over. Every output is written atomically, so any number of
 * processes on one folder leave it consistent, and the same plan gives the same bits however it is cut.
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { SamModel } from "@sam-ablate/model";
import {
    FileLock,
    type LockState,
    lockState,
    RunFolder,
    removeStaleTemps,
    slurmInfo,
    type UnitId,
    writeJsonAtomicSync,
} from "@sam-ablate/run-folder";
import type { Arm, StrategyDefinition } from "@sam-ablate/samplers";
import { type AblationPlan, type DatasetPlan, strategiesFor } from "./ablation-plan.js";
import { type PreparedData, prepareDataset } from "./datasets.js";
import { embedShard, openShardedEmbeddings, type SplitEmbeddings } from "./embed.js";
import { finishedRecords } from "./results.js";
import type { RunOptions, StrategyRecord } from "./run-ablation.js";
import { assignShard, planUnits, STAGES, type Stage, type Unit, UnitError } from "./units.js";

export type UnitState = "done" | "running" | "failed" | "pending";

export interface UnitRunOptions extends RunOptions {
    /** Only this stage. */
    stage?: Stage;
    /** This share of each stage's units. */
    shard?: { index: number; count: number };
    /** Exactly this unit. */
    unit?: string;
    /** After its own share of a stage, wait for the other units of the stage (and run those nobody holds). Default: true without `stage`/`unit`. */
    wait?: boolean;
    /** The report unit's work (tables, figures, HTML), given by the caller. */
    report?: (records: StrategyRecord[], data: PreparedData[]) => Promise<void>;
    /** Poll period while waiting for other processes (ms). */
    pollMs?: number;
    /** Called before each unit; throws to stop the run (e.g. the folder's lock was taken over). */
    checkStop?: () => void;
}

/** Failure record of a unit. */
export interface UnitFailure {
    unit: string;
    code: string;
    message: string;
    host: string;
    pid: number;
    time: string;
    slurm?: { jobId?: string; arrayJobId?: string; arrayTaskId?: string };
    log?: string;
}

export function unitsDir(runDir: string): string {
    return path.join(new RunFolder(runDir).dir, "units");
}
function unitFile(runDir: string, id: string, suffix: string): string {
    return new RunFolder(runDir).unitStateFile(id, suffix);
}
/** The run-folder id of a train unit. */
function trainUnitId(u: Unit): UnitId {
    return {
        dataset: u.dataset as string,
        strategy: u.strategy as string,
        seed: u.seed as number,
        ...(u.fold === undefined ? {} : { fold: u.fold }),
    };
}

/** Heartbeat period of a unit's lock. */
const UNIT_HEARTBEAT_MS = 5000;

export function lockFile(runDir: string, id: string): string {
    return unitFile(runDir, id, ".lock");
}

function datasetPatches(runDir: string, d: DatasetPlan): string {
    return d.source.type === "prepared" ? d.source.dir : path.join(new RunFolder(runDir).dataDir(d.name), "patches");
}

/** Whether a unit's output is complete (from the run folder alone). */
export function unitDone(plan: AblationPlan, runDir: string, u: Unit): boolean {
    switch (u.kind) {
        case "prepare": {
            const d = plan.datasets.find((x) => x.name === u.dataset) as DatasetPlan;
            return existsSync(path.join(datasetPatches(runDir, d), "manifest.json"));
        }
        case "embed": {
            // The marker names the shard file, wherever the cache folder was.
            const m = readMarker(runDir, u.id);
            return !!m && typeof m.file === "string" && existsSync(m.file);
        }
        case "train":
            return new RunFolder(runDir).unit(trainUnitId(u)).isDone();
        case "zeroshot":
            return new RunFolder(runDir).zeroShotUnit(u.dataset as string, u.strategy as string, u.fold).isDone();
        case "report":
            // cross-validation: folds run by later calls make the report out of date
            return (
                !!readMarker(runDir, u.id) &&
                existsSync(path.join(new RunFolder(runDir).reportDir, "report.html")) &&
                (!plan.datasets.some((d) => d.folds !== undefined) ||
                    readMarker(runDir, u.id)?.records === collectRecords(plan, runDir).length)
            );
    }
}

function readMarker(runDir: string, id: string): Record<string, unknown> | undefined {
    try {
        return JSON.parse(readFileSync(unitFile(runDir, id, ".done.json"), "utf8"));
    } catch {
        return undefined;
    }
}

/** The failure record of a unit, if its last attempt failed. */
export function readFailure(runDir: string, id: string): UnitFailure | undefined {
    try {
        return JSON.parse(readFileSync(unitFile(runDir, id, ".failed.json"), "utf8")) as UnitFailure;
    } catch {
        return undefined;
    }
}

/** State of every unit of a plan in a run folder (done / running / failed / pending) and its lock. */
export function unitStates(
    plan: AblationPlan,
    runDir: string,
): { unit: Unit; state: UnitState; lock?: LockState; failure?: UnitFailure }[] {
    return planUnits(plan).map((unit) => {
        if (unitDone(plan, runDir, unit)) return { unit, state: "done" as const };
        const lock = lockState(lockFile(runDir, unit.id));
        if (lock && !lock.stale) return { unit, state: "running" as const, lock };
        const failure = readFailure(runDir, unit.id);
        if (failure) return { unit, state: "failed" as const, failure, ...(lock ? { lock } : {}) };
        return { unit, state: "pending" as const, ...(lock ? { lock } : {}) };
    });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs units of a plan; returns the records of the finished train units and the prepared datasets it opened. */
export async function runUnits(
    plan: AblationPlan,
    opts: UnitRunOptions,
    work: UnitWork,
): Promise<{ records: StrategyRecord[]; data: PreparedData[] }> {
    const folder = new RunFolder(opts.runDir);
    const runDir = folder.dir;
    const cacheDir = opts.cacheDir ?? folder.defaultCacheDir;
    const emit = opts.onEvent ?? (() => {});
    const all = planUnits(plan);
    const byId = new Map(all.map((u) => [u.id, u]));
    const prepared = new Map<string, PreparedData>();
    const embeddings = new Map<string, SplitEmbeddings>();
    const failures: UnitError[] = [];
    const announced = new Set<string>();

    const getModel = async () => work.model;
    const datasetPlan = (name: string) => plan.datasets.find((d) => d.name === name) as DatasetPlan;
    // With cross-validation one entry per (dataset, fold); no fold given means fold 0's data for
    // preparing and embedding (its `all` holds every patch of the dataset).
    const getData = async (name: string, fold?: number) => {
        const d = datasetPlan(name);
        const f = d.folds === undefined ? undefined : (fold ?? 0);
        const key = f === undefined ? name : `${name}#fold${f}`;
        let p = prepared.get(key);
        if (!p) {
            p = await prepareDataset(d, plan, runDir, f);
            prepared.set(key, p);
        }
        return p;
    };

    const body = async (u: Unit): Promise<void> => {
        switch (u.kind) {
            case "prepare": {
                const d = datasetPlan(u.dataset as string);
                // A preparation killed half-way leaves files without a manifest: start it afresh.
                if (d.source.type !== "prepared")
                    rmSync(d.source.type === "phantom" ? folder.dataDir(d.name) : datasetPatches(runDir, d), {
                        recursive: true,
                        force: true,
                    });
                emit({ type: "stage", message: `preparing dataset ${d.name}` });
                await getData(d.name);
                return;
            }
            case "embed": {
                const m = await getModel();
                const data = await getData(u.dataset as string);
                const { index, count } = u.shard as { index: number; count: number };
                emit({ type: "stage", message: `embedding ${u.dataset} shard ${index + 1} of ${count}` });
                const r = await embedShard(
                    m,
                    data,
                    cacheDir,
                    index,
                    count,
                    (done, total) =>
                        emit({ type: "progress", task: `embed ${u.dataset} ${index + 1}/${count}`, done, total }),
                    opts.signal,
                );
                writeJsonAtomicSync(unitFile(runDir, u.id, ".done.json"), { file: path.resolve(r.file) });
                return;
            }
            case "train":
            case "zeroshot": {
                const m = await getModel();
                const data = await getData(u.dataset as string, u.fold);
                const embKey = `${u.dataset}#${u.fold ?? ""}`;
                let emb = embeddings.get(embKey);
                if (!emb) {
                    // The shards its embed units wrote (their markers name the files).
                    const files = u.deps.map((id) => readMarker(runDir, id)?.file as string);
                    emb = openShardedEmbeddings(m, data, files);
                    embeddings.set(embKey, emb);
                }
                const d = datasetPlan(u.dataset as string);
                const arm = strategiesFor(plan, d).find((s) => s.id === u.strategy);
                if (!arm) throw new UnitError(`unit ${u.id}: unknown strategy`);
                if (u.kind === "train") await work.train({ d, data, emb, model: m, arm, seed: u.seed as number });
                else if (arm.kind === "prompt") await work.zeroShot({ d, data, emb, model: m, strat: arm.strategy });
                else
                    throw new UnitError(
                        `unit ${u.id}: ${arm.id} has no zero-shot baseline (only prompt strategies have one)`,
                    );
                return;
            }
            case "report": {
                const records = collectRecords(plan, runDir);
                const data: PreparedData[] = [];
                for (const d of plan.datasets) {
                    if (d.folds === undefined) data.push(await getData(d.name));
                    else {
                        const folds = new Set(records.filter((r) => r.dataset === d.name).map((r) => r.fold));
                        for (const f of [...folds].sort()) data.push(await getData(d.name, f));
                    }
                }
                emit({ type: "stage", message: "rendering the report" });
                await opts.report?.(records, data);
                writeJsonAtomicSync(unitFile(runDir, u.id, ".done.json"), { records: records.length });
                return;
            }
        }
    };

    const depsDone = (u: Unit) => u.deps.filter((id) => !unitDone(plan, runDir, byId.get(id) as Unit));

    /** Runs a unit unless done or held by a live process; "busy" when someone else holds it. */
    let stopped = false;
    const attempt = async (u: Unit): Promise<"done" | "ran" | "busy" | "failed"> => {
        try {
            opts.checkStop?.();
        } catch (e) {
            stopped = true;
            throw e;
        }
        if (unitDone(plan, runDir, u)) {
            if (u.kind === "train") work.trainDone?.(trainUnitId(u));
            if (u.kind === "train" || u.kind === "zeroshot") emitSkipped(u);
            return "done";
        }
        const missing = depsDone(u);
        if (missing.length) {
            const e = new UnitError(
                `unit ${u.id} needs ${missing.length} unfinished unit(s): ${missing.slice(0, 5).join(", ")}${missing.length > 5 ? ", ..." : ""}`,
                "ERR_SA_UNIT_DEPS",
            );
            recordFailure(runDir, u.id, e);
            failures.push(e);
            return "failed";
        }
        const lock = FileLock.tryAcquire(lockFile(runDir, u.id), {
            owner: `sam-ablate unit ${u.id}`,
            heartbeatMs: UNIT_HEARTBEAT_MS,
            mkdir: true,
            onTakeover: (prev, reason) =>
                emit({
                    type: "stage",
                    message: `unit ${u.id}: taking over a stale lock (host ${prev?.host ?? "?"}, pid ${prev?.pid ?? "?"}: ${reason})`,
                }),
        });
        if (!(lock instanceof FileLock)) {
            if (announced.has(u.id)) return "busy";
            announced.add(u.id);
            emit({
                type: "stage",
                message: `unit ${u.id}: running elsewhere (host ${lock?.host ?? "?"}, pid ${lock?.pid ?? "?"}); skipped`,
            });
            return "busy";
        }
        try {
            if (unitDone(plan, runDir, u)) return "done"; // finished between the check and the lock
            // Temporary files a killed holder of this unit left in the unit's own folder.
            if (u.kind === "train" || u.kind === "zeroshot") {
                const dir =
                    u.kind === "train"
                        ? folder.unit(trainUnitId(u)).dir
                        : folder.zeroShotUnit(u.dataset as string, u.strategy as string, u.fold).dir;
                const removed = removeStaleTemps(dir);
                if (removed.length)
                    folder.log(`unit ${u.id}: removed ${removed.length} temporary file(s) left by an interrupted run`);
            }
            await body(u);
            rmSync(unitFile(runDir, u.id, ".failed.json"), { force: true });
            return "ran";
        } catch (e) {
            if (opts.signal?.aborted || stopped) throw e;
            const err = e as Error & { code?: string };
            recordFailure(runDir, u.id, err);
            const ue = new UnitError(
                `unit ${u.id} failed: ${err.message}`,
                typeof err.code === "string" ? err.code : "ERR_SA_UNIT_FAILED",
            );
            failures.push(ue);
            emit({ type: "stage", message: ue.message });
            return "failed";
        } finally {
            lock.release();
        }
    };

    const emitSkipped = (u: Unit) => {
        if (u.kind === "zeroshot") {
            const z = folder.zeroShotUnit(u.dataset as string, u.strategy as string, u.fold).readResult();
            if (z)
                emit({
                    type: "zero-shot-done",
                    dataset: u.dataset as string,
                    strategy: u.strategy as string,
                    dice: z.meanDice,
                    iou: z.meanIou,
                    seconds: 0,
                    skipped: true,
                });
            return;
        }
        const r = folder.unit(trainUnitId(u)).readResult();
        if (r)
            emit({
                type: "strategy-done",
                dataset: r.dataset,
                strategy: r.strategy,
                seed: r.seed,
                dice: r.meanDice,
                iou: r.meanIou,
                seconds: 0,
                resumed: false,
                skipped: true,
            });
    };

    let selected: Unit[];
    let stages: Stage[];
    if (opts.unit) {
        const u = byId.get(opts.unit);
        if (!u) throw new UnitError(`no unit '${opts.unit}' in this plan (see \`sam-ablate units\`)`, "ERR_SA_USAGE");
        selected = [u];
        stages = [u.stage];
    } else {
        stages = opts.stage ? [opts.stage] : [...STAGES];
        selected = all;
    }
    const wait = opts.wait ?? (!opts.stage && !opts.unit);
    const gpu = plan.backend === "cuda";
    for (const stage of stages) {
        const stageUnits = selected.filter((u) => u.stage === stage);
        if (stage === "report" && !opts.report) continue;
        const mine =
            opts.shard && !opts.unit ? assignShard(stageUnits, opts.shard.index, opts.shard.count, gpu) : stageUnits;
        for (const u of mine) {
            if (opts.signal?.aborted) throw opts.signal.reason ?? new Error("aborted");
            await attempt(u);
        }
        if (failures.length) break;
        // Barrier. Whole stage (wait): the rest is someone else's; run what nobody holds, wait for the
        // rest. Own share only (a stage task, a unit): wait for units another process holds, so the
        // task ends when its units are done (or taken over from a holder that died).
        const barrier = wait ? stageUnits : mine;
        for (;;) {
            const left = barrier.filter((u) => !unitDone(plan, runDir, u));
            if (left.length === 0) break;
            let busy = 0;
            for (const u of left) {
                if (opts.signal?.aborted) throw opts.signal.reason ?? new Error("aborted");
                const r = await attempt(u);
                if (r === "busy") busy++;
            }
            if (failures.length) break;
            if (busy) await sleep(opts.pollMs ?? 1000);
            else {
                const still = left.filter((u) => !unitDone(plan, runDir, u));
                if (still.length)
                    throw new UnitError(
                        `unit ${still[0]?.id} ran but its output is not complete`,
                        "ERR_SA_UNIT_FAILED",
                    );
            }
        }
        if (failures.length) break;
    }
    if (failures.length) throw failures[0];
    const data = [...prepared.values()];
    return { records: collectRecords(plan, runDir), data };
}

/** The work of train and zero-shot units (fine-tune or evaluate, then write), given by runAblation. */
export interface UnitWork {
    /** The model every embed, train and zero-shot unit uses (loaded once by the caller). */
    model: SamModel;
    /** Called for a train unit found finished (e.g. to drop a state left by a kill after result.json). */
    trainDone?(id: { dataset: string; strategy: string; seed: number; fold?: number }): void;
    train(args: {
        d: DatasetPlan;
        data: PreparedData;
        emb: SplitEmbeddings;
        model: SamModel;
        /** A prompt strategy, a prompt-free head or an encoder adapter. */
        arm: Arm;
        seed: number;
    }): Promise<StrategyRecord>;
    zeroShot(args: {
        d: DatasetPlan;
        data: PreparedData;
        emb: SplitEmbeddings;
        model: SamModel;
        strat: StrategyDefinition;
    }): Promise<void>;
}

function recordFailure(runDir: string, id: string, e: Error & { code?: string }): void {
    const env = process.env;
    const slurm = slurmInfo();
    const f: UnitFailure = {
        unit: id,
        code: typeof e.code === "string" ? e.code : "ERR_SA_UNIT_FAILED",
        message: e.message,
        host: os.hostname(),
        pid: process.pid,
        time: new Date().toISOString(),
        ...(slurm ? { slurm } : {}),
        ...(env.SA_TASK_LOG ? { log: env.SA_TASK_LOG } : {}),
    };
    try {
        writeJsonAtomicSync(unitFile(runDir, id, ".failed.json"), f);
    } catch {
        /* the error itself is reported by the caller */
    }
}

/** Every finished strategy record of a plan, in plan order. */
export function collectRecords(plan: AblationPlan, runDir: string): StrategyRecord[] {
    return finishedRecords(plan, runDir);
}
