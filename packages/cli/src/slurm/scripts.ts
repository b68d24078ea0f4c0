/**
 * sbatch scripts for a run folder: one job per stage (prepare array, embed array, train array,
 * report), each array task running `sam-ablate ablate --out RUN --stage S --shard K/N`; chained with
 * --dependency=afterok at submission (a failed or cancelled task stops the later stages, whose jobs
 * are then removed: --kill-on-invalid-dep). A resubmission schedules only the tasks that still own
 * unfinished units.
 */
import path from "node:path";
import {
    type AblationPlan,
    assignShard,
    planUnits,
    STAGES,
    type Stage,
    type Unit,
    type UnitState,
} from "@sam-ablate/train";

export interface SlurmOptions {
    partition?: string;
    account?: string;
    qos?: string;
    /** Time limit per task (sbatch --time), e.g. 04:00:00. */
    time?: string;
    cpusPerTask: number;
    /** e.g. gpu:1 */
    gres?: string;
    /** e.g. 16G */
    mem?: string;
    /** Most array tasks running at once (the `%` of --array). */
    throttle?: number;
    /** `module load` lines. */
    modules: string[];
    /** Extra shell lines before the command (environment, `source venv/bin/activate`). */
    envLines: string[];
    /** Extra `#SBATCH` lines (without the prefix). */
    sbatch: string[];
    /** Array tasks per stage; default one per unit. */
    tasks: Partial<Record<Stage, number>>;
    /** How a task starts sam-ablate (words of a command line). */
    command: string[];
    cacheDir?: string;
    /** Working directory of the tasks. */
    cwd: string;
}

export interface StagePlan {
    stage: Stage;
    /** Array size N (tasks 0..N-1 run shards K/N). */
    count: number;
    /** Tasks to submit now (those that own unfinished units). */
    tasks: number[];
    script: string;
    file: string;
}

/** Quotes a word for bash when needed. */
export function shQuote(s: string): string {
    return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Compresses task indices into Slurm's array syntax: 0-3,5,7-9. */
export function arraySpec(tasks: readonly number[]): string {
    const out: string[] = [];
    let i = 0;
    while (i < tasks.length) {
        let j = i;
        while (j + 1 < tasks.length && (tasks[j + 1] as number) === (tasks[j] as number) + 1) j++;
        out.push(i === j ? String(tasks[i]) : `${tasks[i]}-${tasks[j]}`);
        i = j + 1;
    }
    return out.join(",");
}

/** Array size of a stage: the option, capped by the unit count (one unit per task by default). */
export function stageTaskCount(units: readonly Unit[], stage: Stage, opts: SlurmOptions): number {
    const n = units.filter((u) => u.stage === stage).length;
    const want = opts.tasks[stage] ?? n;
    return Math.max(1, Math.min(n, want));
}

function script(plan: AblationPlan, runDir: string, stage: Stage, count: number, opts: SlurmOptions): string {
    const logs = path.join(runDir, "slurm", "logs");
    const lines = [
        "#!/bin/bash",
        `#SBATCH --job-name=sa-${plan.name}-${stage}`,
        `#SBATCH --output=${logs}/${stage}-%A_%a.out`,
    ];
    lines.push(
        `#SBATCH --cpus-per-task=${opts.cpusPerTask}`,
        "#SBATCH --ntasks=1",
        "#SBATCH --kill-on-invalid-dep=yes",
    );
    if (opts.partition) lines.push(`#SBATCH --partition=${opts.partition}`);
    if (opts.account) lines.push(`#SBATCH --account=${opts.account}`);
    if (opts.qos) lines.push(`#SBATCH --qos=${opts.qos}`);
    if (opts.time) lines.push(`#SBATCH --time=${opts.time}`);
    if (opts.mem) lines.push(`#SBATCH --mem=${opts.mem}`);
    if (opts.gres && stage !== "prepare" && stage !== "report") lines.push(`#SBATCH --gres=${opts.gres}`);
    for (const l of opts.sbatch) lines.push(`#SBATCH ${l.replace(/^#SBATCH\s+/, "")}`);
    lines.push("", "set -euo pipefail");
    for (const m of opts.modules) lines.push(`module load ${m}`);
    lines.push(...opts.envLines);
    lines.push(`cd ${shQuote(opts.cwd)}`);
    lines.push(`export SA_TASK_LOG=${shQuote(logs)}/${stage}-\${SLURM_ARRAY_JOB_ID}_\${SLURM_ARRAY_TASK_ID}.out`);
    const args = ["ablate", "--out", runDir, "--stage", stage, "--threads", String(opts.cpusPerTask)];
    if (opts.cacheDir) args.push("--cache-dir", opts.cacheDir);
    lines.push(
        `exec ${[...opts.command, ...args].map(shQuote).join(" ")} --shard "\${SLURM_ARRAY_TASK_ID}/${count}"`,
        "",
    );
    return lines.join("\n");
}

/**
 * The per-stage scripts and the tasks to submit: a task is submitted when its share of the stage
 * (assignShard, the same assignment the task computes) holds a unit that is neither done nor running.
 */
export function planSubmission(
    plan: AblationPlan,
    runDir: string,
    states: Map<string, UnitState>,
    opts: SlurmOptions,
): StagePlan[] {
    const units = planUnits(plan);
    const gpu = plan.backend === "cuda";
    const out: StagePlan[] = [];
    for (const stage of STAGES) {
        const count = stageTaskCount(units, stage, opts);
        const stageUnits = units.filter((u) => u.stage === stage);
        const tasks: number[] = [];
        for (let k = 0; k < count; k++) {
            const mine = assignShard(stageUnits, k, count, gpu);
            if (
                mine.some((u) => {
                    const st = states.get(u.id) ?? "pending";
                    return st === "pending" || st === "failed";
                })
            )
                tasks.push(k);
        }
        out.push({
            stage,
            count,
            tasks,
            script: script(plan, runDir, stage, count, opts),
            file: path.join(runDir, "slurm", `${stage}.sbatch`),
        });
    }
    return out;
}

/** The sbatch command lines of a submission (`$jN` are the earlier stages' job ids). */
export function sbatchCommands(
    stages: readonly StagePlan[],
    throttle?: number,
): { stage: Stage; args: string[]; dependsOn?: Stage }[] {
    const cmds: { stage: Stage; args: string[]; dependsOn?: Stage }[] = [];
    let prev: Stage | undefined;
    for (const s of stages) {
        if (s.tasks.length === 0) continue;
        const args = ["--parsable", `--array=${arraySpec(s.tasks)}${throttle ? `%${throttle}` : ""}`];
        cmds.push({ stage: s.stage, args: [...args, s.file], ...(prev ? { dependsOn: prev } : {}) });
        prev = s.stage;
    }
    return cmds;
}

/** A bash script that submits the chain by hand (what `--submit` does). */
export function submitScript(stages: readonly StagePlan[], throttle?: number): string {
    const lines = [
        "#!/bin/bash",
        "# Submits the stages that have unfinished units, each after the previous one succeeded.",
        "set -euo pipefail",
    ];
    for (const c of sbatchCommands(stages, throttle)) {
        const dep = c.dependsOn ? ` --dependency=afterok:$${c.dependsOn}` : "";
        const [flag, arr, file] = c.args as [string, string, string];
        lines.push(`${c.stage}=$(sbatch ${flag} ${arr}${dep} ${shQuote(file)})`, `echo "${c.stage}: job $${c.stage}"`);
    }
    return `${lines.join("\n")}\n`;
}
