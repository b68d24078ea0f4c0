import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { RunFolder } from "@sam-ablate/run-folder";
import { planFingerprint, type Stage, type UnitState, unitStates } from "@sam-ablate/train";
import type { CommandModule } from "yargs";
import { CliError } from "../errors.js";
import { haveSlurm, queueStates, readSubmissions, recordSubmission, type Submission, sbatch } from "../slurm/queue.js";
import { planSubmission, type SlurmOptions, sbatchCommands, submitScript } from "../slurm/scripts.js";
import { applyOverrides, planFor } from "./ablate-command.js";

export interface SlurmArgs {
    plan?: string;
    out: string;
    partition?: string;
    account?: string;
    qos?: string;
    time?: string;
    "cpus-per-task": number;
    gres?: string;
    mem?: string;
    throttle?: number;
    module?: string[];
    env?: string[];
    sbatch?: string[];
    "embed-tasks"?: number;
    "train-tasks"?: number;
    "cache-dir"?: string;
    command?: string;
    submit: boolean;
    "dry-run": boolean;
    json: boolean;
}

export const slurmCommand: CommandModule<object, SlurmArgs> = {
    command: "slurm",
    describe:
        "Write sbatch scripts for a run (prepare, embed array, train array, report; chained afterok) and optionally submit them",
    builder: (y) =>
        y
            .option("plan", { type: "string", describe: "a preset or a plan file (default: the --out folder's plan)" })
            .option("out", { type: "string", demandOption: true, describe: "run folder on the shared file system" })
            .option("partition", { type: "string", describe: "sbatch --partition" })
            .option("account", { type: "string", describe: "sbatch --account" })
            .option("qos", { type: "string", describe: "sbatch --qos" })
            .option("time", { type: "string", describe: "time limit per task (sbatch --time, e.g. 04:00:00)" })
            .option("cpus-per-task", {
                type: "number",
                default: 4,
                describe: "CPUs per task (also the task's --threads)",
            })
            .option("gres", { type: "string", describe: "generic resources of the embed and train tasks, e.g. gpu:1" })
            .option("mem", { type: "string", describe: "memory per task (sbatch --mem, e.g. 16G)" })
            .option("throttle", { type: "number", describe: "most array tasks running at once (--array=...%N)" })
            .option("module", {
                type: "string",
                array: true,
                describe: "`module load` this in every task (repeatable)",
            })
            .option("env", {
                type: "string",
                array: true,
                describe: "a shell line run before the command in every task (repeatable)",
            })
            .option("sbatch", {
                type: "string",
                array: true,
                describe: "an extra #SBATCH line, e.g. --constraint=avx512 (repeatable)",
            })
            .option("embed-tasks", {
                type: "number",
                describe: "array size of the embed stage (default: one task per shard)",
            })
            .option("train-tasks", {
                type: "number",
                describe: "array size of the train stage (default: one task per unit)",
            })
            .option("cache-dir", { type: "string", describe: "embedding cache folder (default <out>/cache)" })
            .option("command", {
                type: "string",
                describe: "how a task starts sam-ablate (default: this Node.js and this CLI)",
            })
            .option("submit", { type: "boolean", default: false, describe: "submit with sbatch and print the job ids" })
            .option("dry-run", {
                type: "boolean",
                default: false,
                describe: "print the scripts and sbatch commands; write nothing",
            })
            .example(
                "$0 slurm --plan paper --out /shared/runs/paper --partition gpu --gres gpu:1 --submit",
                "the paper's study on a GPU partition",
            )
            .example("$0 slurm --out /shared/runs/paper --submit", "resubmit: only what is not done") as never,
    handler: (argv) => {
        if (argv.submit && argv["dry-run"])
            throw new CliError("--submit and --dry-run exclude each other", "ERR_SA_USAGE");
        const runDir = path.resolve(argv.out);
        const plan = applyOverrides(planFor(argv.plan, argv.out), {});
        const cpus = argv["cpus-per-task"];
        if (!Number.isInteger(cpus) || cpus < 1)
            throw new CliError(`--cpus-per-task ${cpus}: expected a positive integer`, "ERR_SA_USAGE");
        const tasks: Partial<Record<Stage, number>> = {};
        for (const [k, stage] of [
            ["embed-tasks", "embed"],
            ["train-tasks", "train"],
        ] as const) {
            const v = argv[k];
            if (v !== undefined) {
                if (!Number.isInteger(v) || v < 1)
                    throw new CliError(`--${k} ${v}: expected a positive integer`, "ERR_SA_USAGE");
                tasks[stage] = v;
            }
        }
        const opts: SlurmOptions = {
            cpusPerTask: cpus,
            modules: argv.module ?? [],
            envLines: argv.env ?? [],
            sbatch: argv.sbatch ?? [],
            tasks,
            command: argv.command
                ? argv.command.split(/\s+/).filter(Boolean)
                : [process.execPath, ...process.execArgv, path.resolve(process.argv[1] as string)],
            cwd: process.cwd(),
            ...(argv.partition ? { partition: argv.partition } : {}),
            ...(argv.account ? { account: argv.account } : {}),
            ...(argv.qos ? { qos: argv.qos } : {}),
            ...(argv.time ? { time: argv.time } : {}),
            ...(argv.gres ? { gres: argv.gres } : {}),
            ...(argv.mem ? { mem: argv.mem } : {}),
            ...(argv.throttle ? { throttle: argv.throttle } : {}),
            ...(argv["cache-dir"] ? { cacheDir: path.resolve(argv["cache-dir"]) } : {}),
        };
        if (!argv["dry-run"]) new RunFolder(runDir).claim(planFingerprint(plan), plan);
        const states = new Map<string, UnitState>(unitStates(plan, runDir).map((s) => [s.unit.id, s.state]));
        const stages = planSubmission(plan, runDir, states, opts);
        const cmds = sbatchCommands(stages, opts.throttle);
        const running = [...states.values()].filter((s) => s === "running").length;
        const note = (m: string) => process.stderr.write(`${m}\n`);
        if (running)
            note(
                `note: ${running} unit(s) are running now and are left out; submit again once they finish if they fail`,
            );
        if (argv["dry-run"]) {
            for (const s of stages)
                process.stdout.write(
                    `# ---- ${s.file} (array 0-${s.count - 1}; to submit: ${s.tasks.length ? s.tasks.join(",") : "none"})\n${s.script}\n`,
                );
            process.stdout.write(`# ---- submit.sh\n${submitScript(stages, opts.throttle)}`);
            return;
        }
        mkdirSync(path.join(runDir, "slurm", "logs"), { recursive: true });
        for (const s of stages) writeFileSync(s.file, s.script);
        const submitFile = path.join(runDir, "slurm", "submit.sh");
        writeFileSync(submitFile, submitScript(stages, opts.throttle));
        chmodSync(submitFile, 0o755);
        if (!argv.submit) {
            if (argv.json)
                process.stdout.write(
                    `${JSON.stringify({ ok: true, scripts: stages.map((s) => s.file), submit: submitFile, submitted: false })}\n`,
                );
            else
                process.stdout.write(
                    `${stages.map((s) => `${s.file}  (${s.tasks.length} of ${s.count} tasks to run)`).join("\n")}\nsubmit with: bash ${submitFile}  (or sam-ablate slurm --out ${argv.out} --submit)\n`,
                );
            return;
        }
        if (!haveSlurm("sbatch"))
            throw new CliError(
                "sbatch not found: --submit needs Slurm on this machine",
                "ERR_SA_SLURM",
                "run `bash <out>/slurm/submit.sh` on a login node",
            );
        // Tasks of earlier submissions that are still queued would race this one: say so.
        const earlier = readSubmissions(runDir).flatMap((s) => s.jobs.map((j) => j.jobId));
        const queued = [...queueStates(earlier).entries()].filter(([, v]) =>
            /PENDING|RUNNING|CONFIGURING|COMPLETING|SUSPENDED/.test(v.state),
        );
        if (queued.length)
            note(
                `note: ${queued.length} task(s) of earlier submissions are still queued or running (${queued
                    .slice(0, 4)
                    .map(([id]) => id)
                    .join(", ")}...); units they hold are skipped by the new tasks`,
            );
        const sub: Submission = { time: new Date().toISOString(), jobs: [] };
        const ids = new Map<Stage, string>();
        for (const c of cmds) {
            const dep = c.dependsOn ? [`--dependency=afterok:${ids.get(c.dependsOn)}`] : [];
            const args = [...c.args.slice(0, -1), ...dep, c.args[c.args.length - 1] as string];
            const id = sbatch(args);
            ids.set(c.stage, id);
            const s = stages.find((x) => x.stage === c.stage);
            sub.jobs.push({ stage: c.stage, jobId: id, count: s?.count ?? 0, tasks: s?.tasks ?? [] });
        }
        if (sub.jobs.length) recordSubmission(runDir, sub);
        if (argv.json) process.stdout.write(`${JSON.stringify({ ok: true, submitted: true, jobs: sub.jobs })}\n`);
        else if (sub.jobs.length === 0) process.stdout.write("nothing to submit: every unit is done or running\n");
        else
            for (const j of sub.jobs)
                process.stdout.write(`${j.stage}: job ${j.jobId} (${j.tasks.length} of ${j.count} tasks)\n`);
    },
};
