/**
 * Talks to Slurm through its commands (sbatch, squeue, sacct): submissions recorded in
 * `<run>/slurm/submissions.jsonl`, the queue's view of their array tasks.
 */
import { spawnSync } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import type { Stage } from "@sam-ablate/train";
import { CliError } from "../errors.js";

export interface Submission {
    time: string;
    /** Per submitted stage: job id, array size N, task indices. */
    jobs: { stage: Stage; jobId: string; count: number; tasks: number[] }[];
}

/** Whether a Slurm command is on PATH. */
export function haveSlurm(cmd = "squeue"): boolean {
    const r = spawnSync(cmd, ["--version"], { encoding: "utf8" });
    return r.status === 0;
}

/** Runs sbatch; returns the job id. */
export function sbatch(args: string[]): string {
    const r = spawnSync("sbatch", args, { encoding: "utf8" });
    if (r.error)
        throw new CliError(`sbatch: ${r.error.message}`, "ERR_SA_SLURM", "is Slurm installed and on PATH (sbatch)?");
    if (r.status !== 0)
        throw new CliError(`sbatch ${args.join(" ")}: ${(r.stderr || r.stdout).trim()}`, "ERR_SA_SLURM");
    const id = r.stdout.trim().split(";")[0] ?? "";
    if (!/^\d+$/.test(id)) throw new CliError(`sbatch printed '${r.stdout.trim()}', expected a job id`, "ERR_SA_SLURM");
    return id;
}

export function submissionsFile(runDir: string): string {
    return path.join(runDir, "slurm", "submissions.jsonl");
}

export function recordSubmission(runDir: string, s: Submission): void {
    mkdirSync(path.dirname(submissionsFile(runDir)), { recursive: true });
    appendFileSync(submissionsFile(runDir), `${JSON.stringify(s)}\n`);
}

export function readSubmissions(runDir: string): Submission[] {
    const f = submissionsFile(runDir);
    if (!existsSync(f)) return [];
    return readFileSync(f, "utf8")
        .split("\n")
        .filter((l) => l.trim())
        .flatMap((l) => {
            try {
                return [JSON.parse(l) as Submission];
            } catch {
                return [];
            }
        });
}

/** State of array tasks by "jobId_task" from squeue (queued/running) and sacct (finished, when accounting runs). */
export function queueStates(
    jobIds: readonly string[],
): Map<string, { state: string; reason?: string; source: "squeue" | "sacct" }> {
    const out = new Map<string, { state: string; reason?: string; source: "squeue" | "sacct" }>();
    if (jobIds.length === 0) return out;
    const ids = jobIds.join(",");
    const sacct = spawnSync("sacct", ["-n", "-P", "-X", "-j", ids, "-o", "JobID,State"], { encoding: "utf8" });
    if (sacct.status === 0) {
        for (const line of sacct.stdout.split("\n")) {
            const [id, state] = line.trim().split("|");
            if (id && state && /^\d+_\d+$/.test(id))
                out.set(id, { state: state.split(" ")[0] as string, source: "sacct" });
        }
    }
    const sq = spawnSync("squeue", ["-h", "-r", "-t", "all", "-j", ids, "-o", "%i|%T|%r"], { encoding: "utf8" });
    if (sq.status === 0) {
        for (const line of sq.stdout.split("\n")) {
            const [id, state, reason] = line.trim().split("|");
            if (id && state)
                out.set(id, { state, ...(reason && reason !== "None" ? { reason } : {}), source: "squeue" });
        }
    }
    return out;
}

/** Log file of an array task (the scripts' --output pattern). */
export function taskLog(runDir: string, stage: Stage, jobId: string, task: number | string): string {
    return path.join(path.resolve(runDir), "slurm", "logs", `${stage}-${jobId}_${task}.out`);
}
