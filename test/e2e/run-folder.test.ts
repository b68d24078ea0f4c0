// The run folder under real runs: one process at a time (a second `ablate` exits with code 5 naming
// the holder, or waits with --wait and then finds the work done), only the last N training states
// kept (none once a unit is done, by default), run.json and run.log written, and a killed run's lock
// and temporary files cleaned up by the next run with a message.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { expectOk, runCliOk, runCliProcess, startCli } from "../helpers/cli.js";
import { DEAD_PID, writeLock } from "../helpers/locks.js";
import { readJson, writePhantomPlan } from "../helpers/phantom-plan.js";
import { scratchDir } from "../helpers/scratch.js";

const tmp = scratchDir("sa-runfolder-e2e-");
const noBaseline = { evaluation: { zeroShot: false }, validation: "none" };
const plan = writePhantomPlan(tmp, "lock", ["box"], { epochs: 4, stepsPerEpoch: 3 }, noBaseline);
const run = path.join(tmp, "run");
const cache = path.join(tmp, "cache");
const args = ["ablate", "--plan", plan, "--out", run, "--cache-dir", cache, "--threads", "2"];
const unit = path.join(run, "results", "mri", "box", "seed0");

test("a second ablate on a busy folder exits 5 naming the holder; --wait queues and finds the work done", async () => {
    const a = startCli([...args, "--keep-checkpoints", "2"]);
    // wait until A holds the lock and trains
    const t0 = Date.now();
    while (!existsSync(path.join(unit, "state", "state.json")) && Date.now() - t0 < 600_000) {
        await new Promise((r) => setTimeout(r, 50));
        if (a.child.exitCode !== null) break;
    }
    assert.ok(existsSync(path.join(run, "run.lock")), "no run.lock while the run trains");
    const lock = readJson(path.join(run, "run.lock"));
    assert.is(lock.pid, a.child.pid);
    assert.is(lock.owner, "sam-ablate ablate");
    assert.is(lock.host, os.hostname());
    assert.ok(Date.parse(lock.startedAt) > 0 && Date.parse(lock.heartbeatAt) > 0);
    const waiting = startCli([...args, "--wait", "--keep-checkpoints", "2"]);
    const b = await runCliProcess(args);
    assert.is(b.code, 5, b.stderr);
    assert.match(b.stderr, new RegExp(`is in use by sam-ablate ablate \\(pid ${a.child.pid} on `));
    assert.match(b.stderr, /\[ERR_SA_LOCKED\]/);
    expectOk(await a.done);
    const w = expectOk(await waiting.done);
    assert.match(w.stderr, /waiting for sam-ablate ablate \(pid \d+/);
    assert.match(w.stderr, /box seed 0: .*already done/);
    assert.not.ok(existsSync(path.join(run, "run.lock")), "the lock was left behind");
    // --keep-checkpoints 2: the last two epochs' states only
    assert.equal(readdirSync(path.join(unit, "state")).sort(), [
        "state-epoch3.safetensors",
        "state-epoch4.safetensors",
        "state.json",
    ]);
});

test("run.json records both invocations; run.log the events", () => {
    const prov = readJson(path.join(run, "run.json"));
    const cfg = readJson(path.join(run, "config.json"));
    assert.is(prov.fingerprint, cfg.fingerprint);
    assert.is(prov.invocations.length, 2, "the refused run must not be recorded");
    for (const inv of prov.invocations) {
        assert.is(inv.status, "finished");
        assert.is(inv.command, "sam-ablate ablate");
        assert.is(inv.tool.name, "sam-ablate");
        assert.match(inv.tool.version, /^\d+\.\d+\.\d+/);
        if (spawnSync("git", ["--version"]).status === 0)
            assert.match(inv.tool.commit ?? "", /^[0-9a-f]{40}(-dirty)?$/);
        assert.is(inv.backend, "cpu");
        assert.is(inv.threads, 2);
        assert.ok(inv.simd.length > 0);
        assert.ok(["avx2", "avx512", "avx512bf16", "amx"].includes(inv.isa), `CPU level ${inv.isa}`);
        const digests = Object.values(inv.checkpoints) as string[];
        assert.is(digests.length, 1);
        assert.match(digests[0] as string, /^[0-9a-f]{64}$/);
        assert.ok(Date.parse(inv.startedAt) <= Date.parse(inv.endedAt));
    }
    const log = readFileSync(path.join(run, "run.log"), "utf8");
    for (const re of [
        /start sam-ablate ablate \(plan lock/,
        /expected disk use: about .* MB/,
        /done mri\/box\/seed0: Dice/,
        /finished sam-ablate ablate/,
    ]) {
        assert.match(log, re);
    }
});

test("a killed run's lock and temporary files are cleaned up by the next run, with a message", async () => {
    const dead = DEAD_PID;
    writeLock(path.join(run, "run.lock"), { token: "x" });
    const temps = [
        path.join(unit, `.result.json.${dead}.0badf00d.tmp`),
        path.join(unit, "state", `.state-epoch5.safetensors.${dead}.00c0ffee.tmp`),
        path.join(cache, `mri-0000.saemb.tmp-${dead}`),
    ];
    for (const f of temps) {
        mkdirSync(path.dirname(f), { recursive: true });
        writeFileSync(f, "partial");
    }
    const r = await runCliOk(args);
    assert.match(
        r.stderr,
        new RegExp(
            `took over the lock of sam-ablate ablate \\(pid ${dead} on .*\\): its process ${dead} on .* is gone`,
        ),
    );
    assert.match(r.stderr, /removed 3 temporary file\(s\) left by an interrupted run/);
    for (const f of temps) assert.not.ok(existsSync(f), `${f} is still there`);
    // without --keep-checkpoints a finished unit keeps no training state
    assert.not.ok(existsSync(path.join(unit, "state")), "the finished unit's state is still there");
    assert.ok(existsSync(path.join(unit, "decoder.safetensors")));
    assert.match(readFileSync(path.join(run, "run.log"), "utf8"), /took over the lock/);
});

test.run();
