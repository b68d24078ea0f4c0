// Work units: stable ids and dependencies, the cost model, shard ranges and the balanced shard
// assignment, per-unit locks (contention, stale takeover after kill -9), sbatch script generation.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { FileLock, type LockInfo, lockState } from "@sam-ablate/run-folder";
import {
    assignShard,
    embedShardCount,
    parseShard,
    planUnits,
    presetPlan,
    resolvePlan,
    shardRange,
    type UnitState,
} from "@sam-ablate/train";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
    arraySpec,
    planSubmission,
    type SlurmOptions,
    sbatchCommands,
    submitScript,
} from "../../packages/cli/src/slurm/scripts.js";
import { scratchDir } from "../helpers/scratch.js";

const tmp = scratchDir("sa-units-");

test("unit ids are stable, ordered by stage, and depend on the earlier stage only", () => {
    const plan = presetPlan("demo");
    const a = planUnits(plan);
    const b = planUnits(structuredClone(plan));
    assert.equal(
        a.map((u) => u.id),
        b.map((u) => u.id),
    );
    assert.equal([...new Set(a.map((u) => u.stage))], ["prepare", "embed", "train", "report"]);
    assert.is(new Set(a.map((u) => u.id)).size, a.length, "ids are unique");
    const byId = new Map(a.map((u) => [u.id, u]));
    for (const u of a) for (const d of u.deps) assert.ok(byId.has(d), `${u.id}: unknown dependency ${d}`);
    const train = a.filter((u) => u.kind === "train");
    assert.is(
        a.filter((u) => u.kind === "zeroshot" && u.stage === "train").length,
        20,
        "zero-shot units run in the train stage",
    );
    assert.ok(a.some((u) => u.id === "zeroshot/radiology-phantom/box_centre"));
    assert.is(
        planUnits({ ...plan, evaluation: { ...plan.evaluation, zeroShot: false } }).filter((u) => u.kind === "zeroshot")
            .length,
        0,
    );
    assert.is(train.length, 20);
    assert.ok(byId.has("train/radiology-phantom/points3/seed0"));
    const t = byId.get("train/pathology-phantom/box/seed0");
    assert.ok(t?.deps.every((d) => d.startsWith("embed/pathology-phantom/")));
    assert.is(byId.get("report")?.deps.length, 20);
    assert.equal(
        t?.key.map(([k]) => k),
        ["kind", "dataset", "strategy", "seed"],
    );
});

test("the cost model: paper-size plans get hour-sized embedding shards; embedShards overrides", () => {
    const brats = path.join(tmp, "brats");
    mkdirSync(brats, { recursive: true });
    writeFileSync(path.join(brats, "name_mapping.csv"), "");
    for (let i = 0; i < 369; i++)
        mkdirSync(path.join(brats, `BraTS20_Training_${String(i + 1).padStart(3, "0")}`), { recursive: true });
    const plan = resolvePlan({
        extends: "paper",
        model: { name: "vit_b" },
        datasets: [{ name: "brats", kind: "radiology", source: { type: "brats", dir: brats } }],
    });
    const units = planUnits(plan);
    const embed = units.filter((u) => u.stage === "embed");
    const images = embed.reduce((a, u) => a + u.images, 0);
    assert.is(images, 369 * 49);
    const cpuHours = embed.reduce((a, u) => a + u.cost.cpuSeconds, 0) / 3600;
    assert.ok(cpuHours > 30 && cpuHours < 50, `ViT-B over BraTS: ${cpuHours} CPU hours`);
    for (const u of embed) assert.ok(u.cost.cpuSeconds <= 3600 * 1.05, `${u.id}: ${u.cost.cpuSeconds} s`);
    assert.is(embedShardCount({ ...plan, embedShards: 7 }, plan.datasets[0] as never), 7);
    assert.is(units.filter((u) => u.kind === "train").length, 16);
});

test("shard ranges tile the images; the shard assignment is a balanced partition", () => {
    for (const [n, c] of [
        [10, 3],
        [7, 7],
        [5, 8],
        [18081, 40],
    ] as const) {
        let next = 0;
        for (let k = 0; k < c; k++) {
            const [a, b] = shardRange(n, k, c);
            assert.is(a, next);
            assert.ok(b - a <= Math.ceil(n / c) && b - a >= Math.floor(n / c));
            next = b;
        }
        assert.is(next, n);
    }
    const units = planUnits(presetPlan("demo")).filter((u) => u.kind === "train");
    for (const count of [1, 3, 4, 20, 32]) {
        const seen = new Map<string, number>();
        const loads: number[] = [];
        for (let k = 0; k < count; k++) {
            const mine = assignShard(units, k, count);
            assert.equal(mine, assignShard(units, k, count), "deterministic");
            loads.push(mine.length);
            for (const u of mine) seen.set(u.id, (seen.get(u.id) ?? 0) + 1);
        }
        assert.is(seen.size, units.length, `${count} shards cover every unit`);
        assert.ok(
            [...seen.values()].every((v) => v === 1),
            `${count} shards: each unit once`,
        );
        assert.ok(Math.max(...loads) - Math.min(...loads) <= 1, `${count} shards balanced: ${loads}`);
    }
    assert.equal(parseShard("3/16"), { index: 3, count: 16 });
    for (const bad of ["16/16", "1", "a/b", "-1/4", "0/0"])
        assert.throws(
            () => parseShard(bad),
            (e: Error & { code?: string }) => e.code === "ERR_SA_USAGE",
        );
});

test("a unit lock: one holder; a live holder is reported; a killed holder's lock is taken over", async () => {
    const file = path.join(tmp, "units", "train", "x.lock");
    const opts = { owner: "unit x", heartbeatMs: 5000, mkdir: true };
    const a = FileLock.tryAcquire(file, opts);
    assert.ok(a instanceof FileLock);
    const b = FileLock.tryAcquire(file, opts);
    assert.not.ok(b instanceof FileLock, "second acquire while held");
    assert.is((b as LockInfo | undefined)?.pid, process.pid);
    (a as FileLock).release();
    assert.not.ok(existsSync(file));

    // A child takes the lock and is killed with SIGKILL: its lock stays, names a dead pid, is stale.
    const libUrl = new URL("../../packages/run-folder/src/lock.ts", import.meta.url).href;
    const child = spawn(
        process.execPath,
        [
            "--import",
            "tsx",
            "--input-type=module",
            "-e",
            `import { FileLock } from ${JSON.stringify(libUrl)}; FileLock.tryAcquire(${JSON.stringify(file)}, ${JSON.stringify(opts)}); console.log("held"); setInterval(() => {}, 1000);`,
        ],
        { stdio: ["ignore", "pipe", "inherit"] },
    );
    await new Promise<void>((resolve) => child.stdout?.on("data", (d) => String(d).includes("held") && resolve()));
    const held = lockState(file);
    assert.ok(held && !held.stale && held.info.pid === child.pid, "child holds the lock");
    child.kill("SIGKILL");
    await new Promise((r) => child.on("close", r));
    const dead = lockState(file);
    assert.ok(dead?.stale, "a dead holder's lock is stale");
    let takeover: string | undefined;
    const c = FileLock.tryAcquire(file, {
        ...opts,
        onTakeover: (prev, reason) => {
            takeover = `${prev?.pid}: ${reason}`;
        },
    });
    assert.ok(c instanceof FileLock, "stale lock taken over");
    assert.match(takeover ?? "", new RegExp(`^${child.pid}: its process ${child.pid} on ${os.hostname()} is gone`));
    assert.is(JSON.parse(readFileSync(file, "utf8")).pid, process.pid);
    (c as FileLock).release();

    // A torn lock file (holder killed between create and write) counts as held until the stale period.
    writeFileSync(file, "");
    const torn = lockState(file);
    assert.ok(torn && !torn.stale && torn.info.host === "?", "a young unreadable lock is held");
    assert.ok(lockState(file, 1, Date.now() + 10)?.stale, "an old unreadable lock is stale");
    rmSync(file);

    // Under Slurm the lock names the job and array task.
    const env = { ...process.env };
    Object.assign(process.env, { SLURM_JOB_ID: "77", SLURM_ARRAY_JOB_ID: "70", SLURM_ARRAY_TASK_ID: "3" });
    try {
        const d = FileLock.tryAcquire(file, opts) as FileLock;
        assert.equal(lockState(file)?.info.slurm, { jobId: "77", arrayJobId: "70", arrayTaskId: "3" });
        d.release();
    } finally {
        for (const k of ["SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID"]) {
            if (env[k] === undefined) delete process.env[k];
            else process.env[k] = env[k];
        }
    }
});

test("sbatch scripts: options, array per stage, afterok chain; resubmission lists only unfinished tasks", () => {
    const plan = resolvePlan({ extends: "quick", name: "t", embedShards: 2, evaluation: { zeroShot: false } });
    const run = "/shared/runs/t";
    const opts: SlurmOptions = {
        cpusPerTask: 8,
        partition: "gpu",
        account: "lab",
        qos: "normal",
        time: "04:00:00",
        gres: "gpu:1",
        mem: "32G",
        throttle: 3,
        modules: ["cuda/12.4"],
        envLines: ["source /shared/venv/bin/activate"],
        sbatch: ["--constraint=avx512"],
        tasks: {},
        command: ["sam-ablate"],
        cwd: "/shared",
    };
    const none = new Map<string, UnitState>();
    const stages = planSubmission(plan, run, none, opts);
    assert.equal(
        stages.map((s) => [s.stage, s.count, s.tasks.length]),
        [
            ["prepare", 2, 2],
            ["embed", 4, 4],
            ["train", 8, 8],
            ["report", 1, 1],
        ],
    );
    const train = stages.find((s) => s.stage === "train")?.script ?? "";
    for (const line of [
        "#SBATCH --partition=gpu",
        "#SBATCH --account=lab",
        "#SBATCH --qos=normal",
        "#SBATCH --time=04:00:00",
        "#SBATCH --cpus-per-task=8",
        "#SBATCH --gres=gpu:1",
        "#SBATCH --mem=32G",
        "#SBATCH --constraint=avx512",
        "#SBATCH --kill-on-invalid-dep=yes",
        "module load cuda/12.4",
        "source /shared/venv/bin/activate",
    ]) {
        assert.ok(train.includes(line), `train script lacks: ${line}`);
    }
    assert.match(
        train,
        /exec sam-ablate ablate --out \/shared\/runs\/t --stage train --threads 8 --shard "\$\{SLURM_ARRAY_TASK_ID\}\/8"/,
    );
    assert.not.match(stages[0]?.script ?? "", /--gres/, "prepare needs no GPU");
    const cmds = sbatchCommands(stages, 3);
    assert.equal(
        cmds.map((c) => [c.stage, c.args[1], c.dependsOn]),
        [
            ["prepare", "--array=0-1%3", undefined],
            ["embed", "--array=0-3%3", "prepare"],
            ["train", "--array=0-7%3", "embed"],
            ["report", "--array=0%3", "train"],
        ],
    );
    assert.match(submitScript(stages, 3), /train=\$\(sbatch --parsable --array=0-7%3 --dependency=afterok:\$embed /);

    // Everything done but two train units (one failed, one pending): only their tasks are resubmitted.
    const states = new Map<string, UnitState>();
    const units = planUnits(plan);
    for (const u of units) states.set(u.id, "done");
    const trainUnits = units.filter((u) => u.stage === "train");
    states.set(trainUnits[2]?.id as string, "failed");
    states.set(trainUnits[5]?.id as string, "pending");
    states.set("report", "pending");
    const again = planSubmission(plan, run, states, opts);
    const tr = again.find((s) => s.stage === "train");
    assert.is(tr?.tasks.length, 2);
    const owned = tr?.tasks.flatMap((k) => assignShard(trainUnits, k, tr.count).map((u) => u.id)).sort();
    assert.equal(owned, [trainUnits[2]?.id, trainUnits[5]?.id].sort());
    assert.equal(
        sbatchCommands(again).map((c) => [c.stage, c.dependsOn]),
        [
            ["train", undefined],
            ["report", "train"],
        ],
    );
    assert.is(arraySpec([0, 1, 2, 5, 7, 8]), "0-2,5,7-8");
});

test.run();
