import { existsSync } from "node:fs";
import path from "node:path";
import { assignShard, planUnits, type Stage, unitStates } from "@sam-ablate/train";
import type { CommandModule } from "yargs";
import { CliError } from "../errors.js";
import { haveSlurm, queueStates, readSubmissions, taskLog } from "../slurm/queue.js";
import { planOfRun } from "./ablate-command.js";
import { stageSummary } from "./units-command.js";

export interface StatusArgs {
    run: string;
    json: boolean;
}

interface Row {
    id: string;
    state: string;
    /** Array task of the latest submission that owns the unit, and what the queue says about it. */
    task?: string;
    queue?: string;
    holder?: string;
    log?: string;
    error?: string;
}

export const statusCommand: CommandModule<object, StatusArgs> = {
    command: "status <run>",
    describe: "Every unit's state in a run folder, with what Slurm says about its task and the log of each failed one",
    builder: (y) => y.positional("run", { type: "string", demandOption: true, describe: "run folder" }) as never,
    handler: (argv) => {
        const runDir = argv.run;
        const plan = planOfRun(runDir);
        if (!plan || !existsSync(runDir))
            throw new CliError(`${runDir}: not a run folder (no config.json)`, "ERR_SA_RUN_FOLDER");
        const states = unitStates(plan, runDir);
        const units = planUnits(plan);
        const gpu = plan.backend === "cuda";
        // Which array task of which submission owns each unit (the latest submission wins).
        const owner = new Map<string, { stage: Stage; jobId: string; task: number }>();
        const subs = readSubmissions(runDir);
        for (const s of subs) {
            for (const j of s.jobs) {
                const stageUnits = units.filter((u) => u.stage === j.stage);
                for (const k of j.tasks)
                    for (const u of assignShard(stageUnits, k, j.count, gpu))
                        owner.set(u.id, { stage: j.stage, jobId: j.jobId, task: k });
            }
        }
        const slurm = subs.length > 0 && haveSlurm();
        const queue = slurm ? queueStates([...new Set([...owner.values()].map((o) => o.jobId))]) : new Map();
        const rows: Row[] = states.map((s) => {
            const o = owner.get(s.unit.id);
            const row: Row = { id: s.unit.id, state: s.state };
            if (o) {
                row.task = `${o.jobId}_${o.task}`;
                const q = queue.get(row.task);
                if (q) row.queue = `${q.state}${q.reason ? ` (${q.reason})` : ""}`;
            }
            if (s.lock && !s.lock.stale) row.holder = `${s.lock.info.host}:${s.lock.info.pid}`;
            // Its holder died (kill -9, node failure): the next run takes the lock over and resumes.
            if (s.lock?.stale && s.state !== "done") {
                row.state = "interrupted";
                row.holder = `${s.lock.info.host}:${s.lock.info.pid} (${s.lock.reason})`;
            }
            if (s.state === "failed" && s.failure) {
                row.error = `${s.failure.code}: ${s.failure.message}`;
                row.log =
                    s.failure.log ??
                    (s.failure.slurm?.arrayJobId && s.failure.slurm.arrayTaskId
                        ? taskLog(runDir, s.unit.stage, s.failure.slurm.arrayJobId, s.failure.slurm.arrayTaskId)
                        : undefined);
            }
            // A task that ended without finishing its unit (cancelled, killed, timed out): its log.
            if (
                s.state !== "done" &&
                o &&
                (!row.queue || /FAIL|CANCEL|TIMEOUT|NODE_FAIL|OUT_OF_ME|PREEMPT/.test(row.queue))
            ) {
                row.log = row.log ?? taskLog(runDir, o.stage, o.jobId, o.task);
            }
            return row;
        });
        const summary = stageSummary(states.map((s) => ({ unit: s.unit, state: s.state })));
        if (argv.json) {
            process.stdout.write(
                `${JSON.stringify({ ok: true, run: path.resolve(runDir), slurm, stages: summary, units: rows })}\n`,
            );
            return;
        }
        const w = Math.max(4, ...rows.map((r) => r.id.length));
        const lines = [`${"unit".padEnd(w)}  ${"state".padEnd(11)}  ${"slurm task".padEnd(14)}  queue`];
        for (const r of rows) {
            lines.push(
                `${r.id.padEnd(w)}  ${r.state.padEnd(11)}  ${(r.task ?? "-").padEnd(14)}  ${r.queue ?? (r.holder ? `${r.state === "interrupted" ? "was held by" : "held by"} ${r.holder}` : "-")}`,
            );
            if (r.error) lines.push(`${" ".repeat(w)}  error: ${r.error}`);
            if (r.log) lines.push(`${" ".repeat(w)}  log: ${r.log}`);
        }
        lines.push("");
        for (const s of summary)
            lines.push(
                `${s.stage.padEnd(8)} ${s.done}/${s.units} done, ${s.running} running, ${s.failed} failed, ${s.pending} pending`,
            );
        if (subs.length && !slurm) lines.push("(Slurm commands not found here: queue states not shown)");
        process.stdout.write(`${lines.join("\n")}\n`);
    },
};
