// The run folder: atomic writes, removal of temporary files left by killed processes, owner locks
// (takeover of stale ones, waiting, several processes racing), validated config and unit records.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import {
    FileLock,
    type LockInfo,
    RunFolder,
    readLock,
    removeStaleTemps,
    tempOwnerPid,
    type UnitRecord,
    validateUnitRecord,
    writeFileAtomic,
    writeFileAtomicSync,
} from "@sam-ablate/run-folder";
import { pruneTrainStates } from "@sam-ablate/train";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { DEAD_PID, writeLock } from "../helpers/locks.js";
import { scratchDir } from "../helpers/scratch.js";

const tmp = scratchDir("sa-runfolder-");
let n = 0;
const fresh = () => {
    const d = path.join(tmp, `t${n++}`);
    mkdirSync(d, { recursive: true });
    return d;
};

function code(fn: () => unknown): string | undefined {
    try {
        fn();
    } catch (e) {
        return (e as { code?: string }).code;
    }
    return undefined;
}

function record(over: Partial<UnitRecord> = {}): UnitRecord {
    return {
        dataset: "mri",
        strategy: "box",
        label: "Box",
        seed: 0,
        perImage: [
            { imageId: "p1-s3", patient: "p1", dice: 0.5, iou: 0.33 },
            { imageId: "p1-s4", patient: "p1", dice: null, iou: null },
        ],
        excluded: 1,
        meanDice: 0.5,
        meanIou: 0.33,
        epochLosses: [0.9, 0.7],
        trainSeconds: 1,
        evalSeconds: 0.5,
        promptSummary: {},
        samples: [{ imageId: "p1-s3", prompt: { points: [], labels: [], box: [1, 2, 3, 4] }, dice: 0.5 }],
        ...over,
    };
}

test("atomic writes: sync and async, text, bytes and chunks; a failed write leaves nothing behind", async () => {
    const d = fresh();
    writeFileAtomicSync(path.join(d, "a", "x.txt"), "hello");
    await writeFileAtomic(path.join(d, "b", "y.bin"), [new Uint8Array([1, 2]), new Uint8Array([3])]);
    assert.is(readFileSync(path.join(d, "a", "x.txt"), "utf8"), "hello");
    assert.equal([...readFileSync(path.join(d, "b", "y.bin"))], [1, 2, 3]);
    // a folder where the file should go: the write fails and no temporary file stays
    mkdirSync(path.join(d, "c", "busy"), { recursive: true });
    await writeFileAtomic(path.join(d, "c", "busy"), "x").then(
        () => assert.unreachable("wrote over a folder"),
        (e) => assert.ok((e as NodeJS.ErrnoException).code),
    );
    assert.equal(readdirSync(path.join(d, "c")), ["busy"]);
    // mkdir: false refuses a missing folder
    assert.is(
        code(() => writeFileAtomicSync(path.join(d, "none", "z"), "x", { mkdir: false })),
        "ENOENT",
    );
    assert.not.ok(existsSync(path.join(d, "none")));
});

test("temporary files of dead writers are removed; live writers' and ordinary files are kept", () => {
    const d = fresh();
    const dead = DEAD_PID;
    const files = {
        atomic: path.join(d, "results", `.result.json.${dead}.ab12cd34.tmp`),
        cache: path.join(d, "cache", `mri-0123.saemb.tmp-${dead}`),
        older: path.join(d, `config.json.tmp-${dead}-x1y2z3`),
        mine: path.join(d, `.state.json.${process.pid}.00ff00ff.tmp`),
        keep: path.join(d, "results", "result.json"),
        keep2: path.join(d, "notes.tmp"),
    };
    for (const f of Object.values(files)) {
        mkdirSync(path.dirname(f), { recursive: true });
        writeFileSync(f, "x");
    }
    const staging = path.join(d, "data", `.mri.partial-${dead}-0a0b0c0d`);
    mkdirSync(path.join(staging, "patches"), { recursive: true });
    assert.is(tempOwnerPid(path.basename(files.cache)), dead);
    assert.is(tempOwnerPid("result.json"), undefined);
    const removed = removeStaleTemps(d).sort();
    assert.equal(removed, [files.older, files.cache, staging, files.atomic].sort());
    for (const f of [files.mine, files.keep, files.keep2]) assert.ok(existsSync(f), f);
    // minAgeMs leaves young files alone (folders shared between hosts)
    const young = path.join(d, `.x.${dead}.0000aaaa.tmp`);
    writeFileSync(young, "x");
    assert.equal(removeStaleTemps(d, { minAgeMs: 60_000 }), []);
    utimesSync(young, new Date(Date.now() - 120_000), new Date(Date.now() - 120_000));
    assert.equal(removeStaleTemps(d, { minAgeMs: 60_000 }), [young]);
});

test("lock: a second taker gets ERR_SA_LOCKED naming the holder; release frees it", async () => {
    const f = path.join(fresh(), "run.lock");
    const a = await FileLock.acquire(f, { owner: "sam-ablate ablate" });
    const info = readLock(f) as LockInfo;
    assert.is(info.pid, process.pid);
    assert.is(info.host, os.hostname());
    assert.is(info.owner, "sam-ablate ablate");
    assert.ok(Date.parse(info.startedAt) > 0 && Date.parse(info.heartbeatAt) > 0);
    const e = await FileLock.acquire(f, { owner: "other", what: "run folder X" }).then(
        () => undefined,
        (err) => err as Error & { code: string },
    );
    assert.ok(e, "a second acquire succeeded");
    assert.is(e?.code, "ERR_SA_LOCKED");
    assert.match(e?.message ?? "", new RegExp(`run folder X is in use by sam-ablate ablate \\(pid ${process.pid} on `));
    a.release();
    assert.not.ok(existsSync(f));
    const b = await FileLock.acquire(f, { owner: "other" });
    b.release();
});

test("lock: a dead holder's lock is taken over with a message; a lock without heartbeat too", async () => {
    const d = fresh();
    const f = path.join(d, "run.lock");
    const dead = DEAD_PID;
    writeLock(f, { token: "t1" });
    const said: string[] = [];
    const a = await FileLock.acquire(f, { owner: "me", onTakeover: (prev, why) => said.push(`${prev?.pid}: ${why}`) });
    assert.equal(said, [`${dead}: its process ${dead} on ${os.hostname()} is gone`]);
    assert.is(readLock(f)?.pid, process.pid);
    a.release();
    // another host, last heartbeat 10 minutes ago
    const old = new Date(Date.now() - 600_000).toISOString();
    writeLock(f, { owner: "x", host: "node-17.cluster", pid: 4242, at: old, token: "t2" });
    said.length = 0;
    const b = await FileLock.acquire(f, { owner: "me", onTakeover: (_p, why) => said.push(why) });
    assert.match(said[0] ?? "", /no heartbeat from process 4242 on node-17\.cluster for 600 s/);
    b.release();
    // another host with a fresh heartbeat is respected
    writeLock(f, { owner: "x", host: "node-17.cluster", pid: 4242, token: "t3" });
    const r = FileLock.tryAcquire(f, { owner: "me" });
    assert.not.ok(r instanceof FileLock);
    assert.is((r as LockInfo).pid, 4242);
});

test("lock: heartbeat refreshes the file (on its timer and on beat()); a holder whose lock was taken notices", async () => {
    const f = path.join(fresh(), "unit.lock");
    let lostTo: LockInfo | undefined;
    const a = await FileLock.acquire(f, { owner: "me", heartbeatMs: 20, onLost: (by) => (lostTo = by) });
    const first = readLock(f)?.heartbeatAt ?? "";
    // the timer beats (waited for, however loaded the machine)
    for (let i = 0; i < 500 && (readLock(f)?.heartbeatAt ?? "") <= first; i++)
        await new Promise((r) => setTimeout(r, 20));
    assert.ok((readLock(f)?.heartbeatAt ?? "") > first, "no heartbeat");
    writeLock(f, { owner: "thief", host: "h2", pid: 7, token: "zz" });
    a.beat();
    assert.ok(a.lost);
    assert.is(lostTo?.owner, "thief");
    a.beat(); // no more beats once lost: the thief's lock stays as it is
    assert.is(readLock(f)?.token, "zz");
    a.release();
    assert.is(readLock(f)?.owner, "thief", "release removed someone else's lock");
});

test("lock: a waiting taker gets the lock when the holder releases it", async () => {
    const f = path.join(fresh(), "run.lock");
    const a = await FileLock.acquire(f, { owner: "first" });
    let waited = false;
    const pending = FileLock.acquire(f, { owner: "second", wait: 5000, pollMs: 20, onWait: () => (waited = true) });
    setTimeout(() => a.release(), 100);
    const b = await pending;
    assert.ok(waited);
    assert.is(readLock(f)?.owner, "second");
    b.release();
});

test("lock: processes racing for a stale lock: exactly one holds it at a time", async () => {
    const d = fresh();
    const f = path.join(d, "run.lock");
    const log = path.join(d, "log");
    writeLock(f, { owner: "dead", token: "t0" });
    const script = `
        import { appendFileSync } from "node:fs";
        import { FileLock } from "@sam-ablate/run-folder";
        const lock = await FileLock.acquire(${JSON.stringify(f)}, { owner: "racer", wait: 20000, pollMs: 5 });
        appendFileSync(${JSON.stringify(log)}, "in " + process.pid + "\\n");
        await new Promise((r) => setTimeout(r, 150));
        appendFileSync(${JSON.stringify(log)}, "out " + process.pid + "\\n");
        lock.release();`;
    const runs = Array.from({ length: 4 }, () => {
        const c = spawn(
            process.execPath,
            ["--conditions=@sam-ablate/source", "--import", "tsx", "--input-type=module", "-e", script],
            { stdio: ["ignore", "ignore", "pipe"] },
        );
        let err = "";
        c.stderr.on("data", (x) => (err += x));
        return new Promise<string>((resolve) =>
            c.on("close", (code) => resolve(code === 0 ? "" : `exit ${code}: ${err}`)),
        );
    });
    const errors = (await Promise.all(runs)).filter(Boolean);
    assert.equal(errors, []);
    const lines = readFileSync(log, "utf8").trim().split("\n");
    assert.is(lines.length, 8);
    for (let i = 0; i < lines.length; i += 2) {
        assert.match(lines[i] ?? "", /^in /);
        assert.is(lines[i + 1], `out ${(lines[i] ?? "").slice(3)}`, `overlapping holders:\n${lines.join("\n")}`);
    }
});

test("run folder: config claimed once, another plan refused, stored plan validated on read", () => {
    const rf = new RunFolder(path.join(fresh(), "run"));
    assert.not.ok(rf.exists());
    assert.is(
        code(() => rf.assertRunFolder()),
        "ERR_SA_RUN_FOLDER",
    );
    rf.claim("abc", { name: "p", epochs: 2 });
    rf.claim("abc", { name: "p", epochs: 2 });
    const e = code(() => rf.claim("def", { name: "q" }));
    assert.is(e, "ERR_SA_RUN_FOLDER");
    const cfg = rf.readConfig((p) => p as { name: string });
    assert.equal(cfg, { fingerprint: "abc", plan: { name: "p", epochs: 2 } });
    // the validator's error is passed on with the file named
    try {
        rf.readConfig(() => {
            throw Object.assign(new Error("training.epochs: must be >= 1"), { code: "ERR_SA_PLAN" });
        });
        assert.unreachable();
    } catch (err) {
        assert.is((err as { code: string }).code, "ERR_SA_PLAN");
        assert.match((err as Error).message, /config\.json: training\.epochs/);
    }
    writeFileSync(rf.configFile, "{ not json");
    assert.is(
        code(() => rf.readConfig((p) => p)),
        "ERR_SA_RUN_FOLDER",
    );
    writeFileSync(rf.configFile, JSON.stringify({ plan: {} }));
    assert.is(
        code(() => rf.readConfig((p) => p)),
        "ERR_SA_RUN_FOLDER",
    );
    // a file given as a run folder
    const file = path.join(fresh(), "f");
    writeFileSync(file, "x");
    assert.is(
        code(() => new RunFolder(file).assertRunFolder()),
        "ERR_SA_RUN_FOLDER",
    );
});

test("run folder: units own their folders; records are validated; done = result.json", () => {
    const rf = new RunFolder(path.join(fresh(), "run"));
    const u = rf.unit({ dataset: "mri", strategy: "box", seed: 0 });
    assert.is(u.dir, path.join(rf.dir, "results", "mri", "box", "seed0"));
    // cross-validation: an explicit fold level above the seeds and the zero-shot baseline
    const f1 = rf.unit({ dataset: "mri", strategy: "box", seed: 2, fold: 1 });
    assert.is(f1.key, "mri/box/fold1/seed2");
    assert.is(f1.dir, path.join(rf.dir, "results", "mri", "box", "fold1", "seed2"));
    assert.is(rf.zeroShotUnit("mri", "box", 1).dir, path.join(rf.dir, "results", "mri", "box", "fold1", "zeroshot"));
    assert.is(
        code(() => rf.unit({ dataset: "mri", strategy: "box", seed: 0, fold: -1 })),
        "ERR_SA_RUN_FOLDER",
    );
    assert.is(
        code(() => rf.unit({ dataset: "../x", strategy: "box", seed: 0 })),
        "ERR_SA_RUN_FOLDER",
    );
    assert.is(
        code(() => rf.unit({ dataset: "mri", strategy: "a/b", seed: 0 })),
        "ERR_SA_RUN_FOLDER",
    );
    assert.is(
        code(() => rf.unit({ dataset: "mri", strategy: "box", seed: -1 })),
        "ERR_SA_RUN_FOLDER",
    );
    assert.is(u.readResult(), undefined);
    assert.is(u.predictionFile("p1-s3"), path.join(u.dir, "predictions", "p1-s3.png"));
    assert.is(
        code(() => u.predictionFile("../../x")),
        "ERR_SA_RUN_FOLDER",
    );
    u.writeFileSync("predictions/p1-s3.png", new Uint8Array([0, 1, 1, 0]));
    u.writeJson("extra.json", { any: 1 });
    // not done until finish() writes result.json, after the unit's other files
    assert.not.ok(u.isDone());
    u.finish(record(), { "per-image.csv": "image_id\np1-s3\n" });
    assert.ok(u.isDone());
    assert.equal(u.readResult(), record());
    assert.equal([...readFileSync(u.predictionFile("p1-s3"))], [0, 1, 1, 0]);
    assert.is(readFileSync(u.file("per-image.csv"), "utf8"), "image_id\np1-s3\n");
    // the zero-shot baseline of a strategy is a unit of its own
    const z = rf.zeroShotUnit("mri", "box");
    assert.is(z.dir, path.join(rf.dir, "results", "mri", "box", "zeroshot"));
    assert.is(z.readResult(), undefined);
    const { seed: _s, epochLosses: _e, trainSeconds: _t, samples: _x, ...zs } = record();
    z.finish(zs);
    assert.equal(z.readResult(), zs);
    writeFileSync(z.resultFile, JSON.stringify({ ...zs, perImage: "none" }));
    assert.is(
        code(() => z.readResult()),
        "ERR_SA_RUN_FOLDER",
    );
    assert.equal(
        u.readJson("extra.json", (v) => v),
        { any: 1 },
    );
    assert.equal(
        rf.listUnits().map((x) => x.key),
        ["mri/box/seed0"],
    );
    // a fold's unit: its record carries the fold, and a record of another fold is refused
    f1.finish(record({ seed: 2, fold: 1 }));
    assert.equal(f1.readResult(), record({ seed: 2, fold: 1 }));
    assert.equal(
        rf.listUnits().map((x) => x.key),
        ["mri/box/fold1/seed2", "mri/box/seed0"],
    );
    writeFileSync(f1.resultFile, JSON.stringify(record({ seed: 2 })));
    assert.is(
        code(() => f1.readResult()),
        "ERR_SA_RUN_FOLDER",
    );
    // a record of another unit, or a broken one, is an error naming the file
    writeFileSync(u.resultFile, JSON.stringify(record({ strategy: "points3" })));
    assert.is(
        code(() => u.readResult()),
        "ERR_SA_RUN_FOLDER",
    );
    writeFileSync(u.resultFile, JSON.stringify({ ...record(), meanDice: "high" }));
    try {
        u.readResult();
        assert.unreachable();
    } catch (e) {
        assert.match((e as Error).message, /result\.json: invalid result record: field 'meanDice'/);
    }
});

test("run folder: timings go to timing.json, outside result.json, and are merged back on read", () => {
    const folder = new RunFolder(fresh());
    const unit = folder.unit({ dataset: "mri", strategy: "box", seed: 0 });
    const { trainSeconds: _t, evalSeconds: _e, ...rest } = record();
    unit.finish(rest, { "per-image.csv": "x\n" }, { trainSeconds: 12.5, evalSeconds: 3, valSeconds: 0.5 });
    const stored = JSON.parse(readFileSync(unit.resultFile, "utf8"));
    assert.is(stored.trainSeconds, undefined);
    assert.is(stored.evalSeconds, undefined);
    assert.equal(JSON.parse(readFileSync(unit.file("timing.json"), "utf8")), {
        trainSeconds: 12.5,
        evalSeconds: 3,
        valSeconds: 0.5,
    });
    const back = unit.readResult();
    assert.is(back?.trainSeconds, 12.5);
    assert.is(back?.evalSeconds, 3);
    // a record written before timings moved out keeps its own
    const old = folder.unit({ dataset: "mri", strategy: "box", seed: 1 });
    old.finish(record({ seed: 1, trainSeconds: 7 }));
    assert.is(old.readResult()?.trainSeconds, 7);
    // two runs of the same unit with different timings: the same result.json bytes
    const again = new RunFolder(fresh()).unit({ dataset: "mri", strategy: "box", seed: 0 });
    again.finish(rest, { "per-image.csv": "x\n" }, { trainSeconds: 99, evalSeconds: 1 });
    assert.ok(readFileSync(again.resultFile).equals(readFileSync(unit.resultFile)));
    assert.is(
        folder.unitStateFile("train/mri/box/seed0", ".lock"),
        path.join(folder.dir, "units", "train", "mri", "box", "seed0.lock"),
    );
    assert.throws(() => folder.unitStateFile("train/../x", ".lock"), /cannot be a folder name/);
});

test("unit records: fields are checked, values in messages are cut short, extra fields kept", () => {
    assert.is(
        code(() => validateUnitRecord(null, "r.json")),
        "ERR_SA_RUN_FOLDER",
    );
    assert.is(
        code(() => validateUnitRecord({ ...record(), perImage: [{ imageId: 3 }] }, "r.json")),
        "ERR_SA_RUN_FOLDER",
    );
    assert.is(
        code(() => validateUnitRecord({ ...record(), samples: [{ imageId: "a" }] }, "r.json")),
        "ERR_SA_RUN_FOLDER",
    );
    try {
        validateUnitRecord({ ...record(), dataset: ["y".repeat(10_000)] }, "r.json");
        assert.unreachable();
    } catch (e) {
        assert.ok((e as Error).message.length < 200, "a long value was quoted whole");
    }
    const withExtra = validateUnitRecord({ ...record(), extraMetric: { dice: [0.4] } }, "r.json");
    assert.equal((withExtra as unknown as { extraMetric: unknown }).extraMetric, { dice: [0.4] });
});

test("run folder: provenance invocations and the log", () => {
    const rf = new RunFolder(path.join(fresh(), "run"));
    const done = rf.recordInvocation(
        {
            command: "sam-ablate ablate",
            tool: { name: "sam-ablate", version: "1.2.3", commit: "abc" },
            node: process.version,
            host: "h",
            pid: 1,
            platform: "linux x64",
            startedAt: "2026-01-01T00:00:00.000Z",
            status: "running",
        },
        "fp",
    );
    done({ backend: "cpu", threads: 2, simd: "avx2" });
    done({ endedAt: "2026-01-01T01:00:00.000Z", status: "finished" });
    const p = rf.readProvenance();
    assert.is(p.fingerprint, "fp");
    assert.is(p.invocations.length, 1);
    assert.is(p.invocations[0]?.status, "finished");
    assert.is(p.invocations[0]?.backend, "cpu");
    assert.is(p.invocations[0]?.tool.commit, "abc");
    rf.log("first\nline");
    rf.log("second");
    const lines = readFileSync(rf.logFile, "utf8").trim().split("\n");
    assert.is(lines.length, 2);
    assert.match(lines[0] ?? "", /^\d{4}-\d\d-\d\dT.*Z \[\d+\] first line$/);
    assert.ok(rf.diskUsage() > 0);
});

test("training states: only the newest N are kept", () => {
    const d = fresh();
    for (let e = 1; e <= 5; e++) writeFileSync(path.join(d, `state-epoch${e}.safetensors`), "x");
    writeFileSync(path.join(d, "state.json"), "{}");
    assert.equal(pruneTrainStates(d, 2).sort(), [
        "state-epoch1.safetensors",
        "state-epoch2.safetensors",
        "state-epoch3.safetensors",
    ]);
    assert.equal(readdirSync(d).sort(), ["state-epoch4.safetensors", "state-epoch5.safetensors", "state.json"]);
    assert.equal(pruneTrainStates(d, 1), ["state-epoch4.safetensors"]);
});

test.run();
