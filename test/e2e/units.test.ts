// One plan cut into units: two whole `ablate` processes on one run folder (the second waits for the
// folder's lock), a whole run beside a `--shard` process, and two `--shard K/2` processes each give
// the same bits as one process (result.json, per-image.csv, decoder weights, report tables), every
// unit computed once; `--unit` runs one unit; `units --json` reports states.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { type CliResult, runCliProcess } from "../helpers/cli.js";
import { assertSameRun, STRATEGIES } from "../helpers/runs.js";

const tmp = mkdtempSync(path.join(os.tmpdir(), "sa-units-e2e-"));
const plan = path.join(tmp, "plan.json");
writeFileSync(
    plan,
    JSON.stringify({
        name: "units",
        embedShards: 3,
        datasets: [
            {
                name: "mri",
                kind: "radiology",
                source: { type: "phantom", patients: 4, slicesPerPatient: 16 },
                maxTrain: 4,
                maxTest: 2,
                strategies: STRATEGIES,
            },
        ],
        training: { epochs: 2, stepsPerEpoch: 3 },
        report: { samplesPerStrategy: 1 },
    }),
);
const ablate = (out: string, ...more: string[]) =>
    runCliProcess(["ablate", "--plan", plan, "--out", out, "--threads", "1", ...more]);
const ok = (r: CliResult) => assert.is(r.code, 0, `exit ${r.code}\n${r.stderr.slice(-2500)}`);
/** Train units a process computed itself (not "already done"). */
const trained = (r: CliResult) =>
    [...r.stderr.matchAll(/^ {2}mri (\S+) seed 0: Dice .*\((\d+\.\d)s/gm)].map((m) => m[1] as string);

const single = path.join(tmp, "single");

test("one process: the reference run", async () => {
    const r = await ablate(single);
    ok(r);
    assert.equal(trained(r).sort(), [...STRATEGIES].sort());
});

test("result.json holds no timings; timing.json beside it does", () => {
    const dir = path.join(single, "results", "mri", "box", "seed0");
    const rec = JSON.parse(readFileSync(path.join(dir, "result.json"), "utf8"));
    assert.is(rec.trainSeconds, undefined);
    assert.is(rec.evalSeconds, undefined);
    const t = JSON.parse(readFileSync(path.join(dir, "timing.json"), "utf8"));
    assert.ok(t.trainSeconds > 0 && t.evalSeconds > 0, JSON.stringify(t));
});

test("two whole ablate processes on one folder (--wait): the second waits for the folder, each unit once, same bits", async () => {
    const run = path.join(tmp, "two");
    const [a, b] = await Promise.all([ablate(run, "--wait"), ablate(run, "--wait")]);
    ok(a);
    ok(b);
    const both = [...trained(a), ...trained(b)].sort();
    assert.equal(both, [...STRATEGIES].sort(), `each strategy trained exactly once across both processes: ${both}`);
    assertSameRun(single, run, ["mri"]);
});

test("a whole run and a --shard process on one folder: units shared through their locks, same bits", async () => {
    const run = path.join(tmp, "mixed");
    const [a, b] = await Promise.all([ablate(run), ablate(run, "--shard", "0/1")]);
    ok(a);
    ok(b);
    const both = [...trained(a), ...trained(b)].sort();
    assert.equal(both, [...STRATEGIES].sort(), `each strategy trained exactly once across both processes: ${both}`);
    assertSameRun(single, run, ["mri"]);
});

test("two --shard K/2 processes (every stage, barrier between stages): same bits", async () => {
    const run = path.join(tmp, "shards");
    const [a, b] = await Promise.all([ablate(run, "--shard", "0/2"), ablate(run, "--shard", "1/2")]);
    ok(a);
    ok(b);
    assertSameRun(single, run, ["mri"]);
});

test("--unit runs one unit; units --json shows every state; bad ids are clear errors", async () => {
    const again = await runCliProcess(["ablate", "--out", single, "--threads", "1", "--unit", "train/mri/box/seed0"]);
    ok(again);
    assert.match(again.stderr, /mri box seed 0: .*already done/);
    const bad = await runCliProcess(["ablate", "--out", single, "--unit", "train/mri/nope/seed0"]);
    assert.is(bad.code, 2);
    assert.match(bad.stderr, /no unit 'train\/mri\/nope\/seed0' in this plan .*\[ERR_SA_USAGE\]/);
    const u = await runCliProcess(["units", "--out", single, "--json"]);
    ok(u);
    const j = JSON.parse(u.stdout) as { units: { id: string; state: string; deps: string[] }[] };
    assert.is(j.units.length, 1 + 3 + 2 * STRATEGIES.length + 1);
    assert.ok(
        j.units.every((x) => x.state === "done"),
        JSON.stringify(j.units.filter((x) => x.state !== "done")),
    );
    assert.equal(j.units.find((x) => x.id === "train/mri/box/seed0")?.deps, [
        "embed/mri/0-of-3",
        "embed/mri/1-of-3",
        "embed/mri/2-of-3",
    ]);
    const cfg = JSON.parse(readFileSync(path.join(single, "config.json"), "utf8"));
    assert.is(cfg.plan.embedShards, 3);
});

test.run();
