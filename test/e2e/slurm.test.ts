// Against a real one-node Slurm (tools/slurm/local-slurm.sh; .ci/run starts one and sets SLURM_CONF,
// otherwise this file starts its own when it runs as root with slurm-wlm and munge installed):
// `sam-ablate slurm --submit` runs a small plan as prepare, embed (array), train (array, 4 tasks) and
// report jobs chained afterok (the train array: 2 fine-tunings and 2 zero-shot evaluations), with the
// same bits as one process; one train task cancelled mid-training
// (scancel) is all that a resubmission runs; `status` shows the states, the queue and the logs.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { REPO, runCliOk } from "../helpers/cli.js";
import { writePhantomPlan } from "../helpers/phantom-plan.js";
import { assertSameRun } from "../helpers/runs.js";

const tmp = mkdtempSync(path.join(os.tmpdir(), "sa-slurm-e2e-"));
const script = path.join(REPO, "tools", "slurm", "local-slurm.sh");
const have = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd} || test -x /usr/sbin/${cmd}`]).status === 0;

/** Why this machine cannot run the Slurm tests, or undefined. Starts a cluster when it can. */
function setUp(): { skip?: string; ownCluster?: string } {
    if (process.env.SLURM_CONF && spawnSync("sinfo", ["-h"]).status === 0) return {};
    if (process.getuid?.() !== 0) return { skip: "needs root to start a local Slurm (or SLURM_CONF of a running one)" };
    for (const b of ["munged", "slurmctld", "slurmd", "sbatch"]) {
        if (!have(b))
            return { skip: `${b} not installed (tools/slurm/local-slurm.sh install: Debian's slurm-wlm and munge)` };
    }
    const dir = path.join(tmp, "cluster");
    const r = spawnSync("bash", [script, "start", dir], { encoding: "utf8" });
    if (r.status !== 0)
        return {
            skip: `could not start a local Slurm: ${(r.stderr || r.stdout).trim().split("\n").slice(-3).join(" | ")}`,
        };
    process.env.SLURM_CONF = path.join(dir, "slurm.conf");
    return { ownCluster: dir };
}

const { skip, ownCluster } = setUp();

const DATASETS = ["mri"];
const plan = writePhantomPlan(tmp, "slurm", ["points3", "box"], { epochs: 2, stepsPerEpoch: 4 }, { embedShards: 2 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
type Jobs = { stage: string; jobId: string; count: number; tasks: number[] }[];

function queued(ids: string[]): string[] {
    const r = spawnSync("squeue", ["-h", "-r", "-j", ids.join(","), "-o", "%i %T"], { encoding: "utf8" });
    return r.status === 0 ? r.stdout.split("\n").filter((l) => l.trim()) : [];
}

async function waitForQueue(jobs: Jobs, what: string, timeoutS = 900): Promise<void> {
    const ids = jobs.map((j) => j.jobId);
    const t0 = Date.now();
    while (queued(ids).length) {
        if (Date.now() - t0 > timeoutS * 1000)
            assert.unreachable(
                `${what}: jobs ${ids.join(",")} still queued after ${timeoutS}s: ${queued(ids).join("; ")}`,
            );
        await sleep(1000);
    }
}

async function submit(args: string[]): Promise<Jobs> {
    const r = await runCliOk(["slurm", ...args, "--cpus-per-task", "1", "--submit", "--json"]);
    return (JSON.parse(r.stdout) as { jobs: Jobs }).jobs;
}

type Status = { units: { id: string; state: string; task?: string; queue?: string; log?: string }[] };

async function status(run: string): Promise<Status> {
    const r = await runCliOk(["status", run, "--json"]);
    return JSON.parse(r.stdout);
}

/** Waits for `jobs` to leave the queue; then every unit of `run` must be done. */
async function allDone(jobs: Jobs, what: string, run: string): Promise<Status> {
    await waitForQueue(jobs, what);
    const st = await status(run);
    assert.ok(
        st.units.every((u) => u.state === "done"),
        JSON.stringify(st.units.filter((u) => u.state !== "done")),
    );
    return st;
}

/** The stages submitted, each with its number of array tasks. */
const stages = (jobs: Jobs) => jobs.map((j) => [j.stage, j.tasks.length]);

const tasklogs = (run: string) => {
    const dir = path.join(run, "slurm", "logs");
    return existsSync(dir) ? readdirSync(dir).filter((f) => f.startsWith("train-")) : [];
};

if (skip && process.env.SA_REQUIRE_SLURM === "1") {
    // CI promises these tests: a machine that cannot run them fails instead of skipping.
    test("Slurm end to end (required by SA_REQUIRE_SLURM=1)", () => assert.unreachable(skip));
} else if (skip) {
    console.log(`slurm tests skipped: ${skip}`);
    test.skip(`Slurm end to end (skipped: ${skip})`, () => {});
} else {
    const single = path.join(tmp, "single");
    const split = path.join(tmp, "split");

    test.after(() => {
        if (ownCluster) spawnSync("bash", [script, "stop", ownCluster]);
    });

    test("reference: the plan in one process", async () => {
        await runCliOk(["ablate", "--plan", plan, "--out", single, "--threads", "1"]);
    });

    test("slurm --submit: prepare, embed array, train array (4 tasks), report; same bits as one process", async () => {
        const dry = await runCliOk(["slurm", "--plan", plan, "--out", split, "--cpus-per-task", "1", "--dry-run"]);
        assert.match(dry.stdout, /--dependency=afterok:\$embed/);
        assert.not.ok(existsSync(split), "--dry-run writes nothing");

        const jobs = await submit(["--plan", plan, "--out", split]);
        assert.equal(stages(jobs), [
            ["prepare", 1],
            ["embed", 2],
            ["train", 4],
            ["report", 1],
        ]);
        const st = await allDone(jobs, "split run", split);
        assert.ok(
            st.units.every((u) => u.task),
            "every unit is mapped to its array task",
        );
        assertSameRun(single, split, DATASETS);

        const again = await runCliOk(["slurm", "--out", split, "--submit"]);
        assert.match(again.stdout, /nothing to submit/);
    });

    test("scancel one train task mid-training; resubmission runs only what is missing; same bits", async () => {
        const run = path.join(tmp, "cancel");
        const jobs = await submit(["--plan", plan, "--out", run, "--cache-dir", path.join(split, "cache")]);
        const train = jobs.find((j) => j.stage === "train") as Jobs[number];
        // The first train task that has logged a training step gets cancelled.
        let victim: string | undefined;
        const t0 = Date.now();
        while (!victim && Date.now() - t0 < 900_000) {
            for (const f of tasklogs(run)) {
                const text = readFileSync(path.join(run, "slurm", "logs", f), "utf8");
                if (/train \S+ \S+ seed 0: [1-7]\/8/.test(text)) victim = /train-(\d+_\d+)\.out/.exec(f)?.[1];
            }
            if (!victim) await sleep(100);
        }
        assert.ok(victim, "no train task reached a training step");
        assert.is(spawnSync("scancel", [victim as string]).status, 0);
        await waitForQueue(jobs, "cancelled run");

        const st = await status(run);
        const unfinished = st.units.filter((u) => u.state !== "done").map((u) => u.id);
        const cancelled = st.units.filter((u) => u.task === victim);
        assert.is(cancelled.length, 1, `task ${victim} owns one unit`);
        assert.equal(unfinished, [cancelled[0]?.id, "report"], `unfinished: ${unfinished}`);
        assert.ok(
            cancelled[0]?.log?.endsWith(`train-${victim}.out`),
            `log of the cancelled task: ${cancelled[0]?.log}`,
        );
        const text = await runCliOk(["status", run]);
        assert.match(text.stdout, new RegExp(`${cancelled[0]?.id}\\s+(pending|interrupted)`));
        assert.match(text.stdout, /train\s+3\/4 done/);

        const more = await submit(["--out", run, "--cache-dir", path.join(split, "cache")]);
        assert.equal(stages(more), [
            ["train", 1],
            ["report", 1],
        ]);
        assert.equal(more[0]?.tasks, [Number((victim as string).split("_")[1])], "the cancelled task, nothing else");
        await allDone(more, "resubmission", run);
        assertSameRun(single, run, DATASETS);
        void train;
    });
}

test.run();
