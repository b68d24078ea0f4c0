/**
 * Shared by `ablate` and `demo`: run a resolved plan into a run folder with progress output and
 * Ctrl-C handling, then render the report.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { loadAddon } from "@sam-ablate/native";
import { type EffortTable, parseEffortTable, type RunResults, summaryText } from "@sam-ablate/report";
import { RunFolder } from "@sam-ablate/run-folder";
import { type AblationPlan, loadPreparedForReport, runAblation, type Stage } from "@sam-ablate/train";
import { CliError } from "./errors.js";
import { onInterrupt } from "./interrupt.js";
import { createReporter } from "./progress.js";
import { runResults, writeRunReport } from "./report-input.js";
import { toolCommit, VERSION } from "./version.js";

/** Options of every command that runs a plan into a run folder. */
export const RUN_OPTIONS = {
    "keep-checkpoints": {
        type: "number",
        default: 0,
        describe:
            "training states kept per strategy once it is done (the last N epochs); 0: removed (while it trains the last one is always kept to resume from)",
    },
    wait: {
        type: "boolean",
        default: false,
        describe: "when another process holds the run folder, wait for it instead of exiting",
    },
} as const;

export interface PlanRunSummary {
    ok: true;
    runDir: string;
    report: string;
    seconds: number;
    /** One entry per finished unit (with cross-validation also its fold and seed). */
    results: {
        dataset: string;
        strategy: string;
        fold?: number;
        seed?: number;
        dice: number;
        iou: number;
        n: number;
        excluded: number;
    }[];
}

/** Reads a Figure-10 effort table (JSON: strategy id -> "low" | "medium" | "high") over the defaults. */
export function loadEffort(file: string | undefined): EffortTable | undefined {
    if (!file) return undefined;
    let json: unknown;
    try {
        json = JSON.parse(readFileSync(file, "utf8"));
    } catch (e) {
        throw new CliError(`${file}: cannot read the effort table: ${(e as Error).message}`, "ERR_SA_USAGE");
    }
    return parseEffortTable(json, file);
}

/** Which part of the plan to run (default: all of it). */
export interface PlanSelection {
    stage?: Stage;
    shard?: { index: number; count: number };
    unit?: string;
}

/** How `runPlan` runs: output, cache, effort table, kept states, waiting for a busy folder. */
export interface PlanRunOptions extends PlanSelection {
    json: boolean;
    /** The command, for the lock and run.json (e.g. "ablate"). */
    command: string;
    /** --threads given on the command line (it wins over the plan's `threads`). */
    threads?: number;
    cacheDir?: string;
    effort?: string;
    keepCheckpoints?: number;
    wait?: boolean;
}

/**
 * Runs `plan` (or the selected part of it: a stage, a shard, a unit) into `runDir`; SIGINT/SIGTERM
 * stop it between steps (finished work is kept).
 */
export async function runPlan(plan: AblationPlan, runDir: string, opts: PlanRunOptions): Promise<PlanRunSummary> {
    const rep = createReporter({ json: opts.json });
    const addon = loadAddon();
    // --threads was applied by the CLI's middleware; the plan's threads apply when it was not given
    if (opts.threads === undefined && plan.threads) addon.setThreads(plan.threads);
    const effort = loadEffort(opts.effort);
    const folder = new RunFolder(runDir);
    const interrupt = onInterrupt((m) => rep.info(m), `rerun with --out ${runDir} to resume`);
    const t0 = performance.now();
    try {
        rep.stage(
            `run folder ${path.resolve(runDir)} (${addon.systemInfo().threads} threads, ${addon.systemInfo().simd})`,
        );
        let results: RunResults | undefined;
        const reportDir = folder.reportDir;
        const { records } = await runAblation(plan, {
            runDir,
            signal: interrupt.signal,
            command: `sam-ablate ${opts.command}`,
            tool: { name: "sam-ablate", version: VERSION, ...(toolCommit() ? { commit: toolCommit() } : {}) },
            ...(opts.cacheDir ? { cacheDir: opts.cacheDir } : {}),
            ...(opts.keepCheckpoints !== undefined ? { keepCheckpoints: opts.keepCheckpoints } : {}),
            ...(opts.wait ? { waitForLock: true } : {}),
            ...(opts.stage ? { stage: opts.stage } : {}),
            ...(opts.shard ? { shard: opts.shard } : {}),
            ...(opts.unit ? { unit: opts.unit } : {}),
            report: async (recs, data) => {
                rep.stage("rendering the report");
                results = await writeRunReport(folder, plan, recs, data, effort);
            },
            onEvent: (e) => {
                if (e.type === "stage") rep.stage(e.message);
                else if (e.type === "info") rep.info(e.message);
                else if (e.type === "progress") rep.progress(e.task, e.done, e.total, e.detail);
                else if (e.type === "zero-shot-done") {
                    if (!e.skipped)
                        rep.info(
                            `${e.dataset} ${e.strategy}${e.fold === undefined ? "" : ` fold ${e.fold}`} zero-shot: Dice ${(e.dice * 100).toFixed(2)}  IoU ${(e.iou * 100).toFixed(2)}`,
                        );
                } else if (e.type === "strategy-done") {
                    const what = e.skipped ? "already done" : `${e.seconds.toFixed(1)}s${e.resumed ? ", resumed" : ""}`;
                    rep.info(
                        `${e.dataset} ${e.strategy}${e.fold === undefined ? "" : ` fold ${e.fold}`} seed ${e.seed}: Dice ${(e.dice * 100).toFixed(2)}  IoU ${(e.iou * 100).toFixed(2)}  (${what})`,
                    );
                }
            },
        });
        rep.done();
        const whole = !opts.stage && !opts.unit;
        // A rerun of a finished run: the report unit is done, the summary is rebuilt from the folder.
        if (!results && whole && records.length)
            results = await runResults(folder, plan, records, await loadPreparedForReport(plan, folder.dir, records));
        if (!opts.json && results)
            process.stdout.write(`\n${summaryText(results)}\n\nreport: ${path.resolve(reportDir, "report.html")}\n`);
        return {
            ok: true,
            runDir: path.resolve(runDir),
            report: path.resolve(reportDir, "report.html"),
            seconds: (performance.now() - t0) / 1000,
            results: records.map((r) => ({
                dataset: r.dataset,
                strategy: r.strategy,
                ...(r.fold === undefined ? {} : { fold: r.fold, seed: r.seed }),
                dice: r.meanDice,
                iou: r.meanIou,
                n: r.perImage.length - r.excluded,
                excluded: r.excluded,
            })),
        };
    } finally {
        interrupt.dispose();
        rep.done();
    }
}
