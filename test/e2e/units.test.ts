// One plan cut into units: two whole `ablate` processes on one run folder (the second waits for the
// folder's lock), a whole run beside a `--shard` process, and two `--shard K/2` processes each give
// the same bits as one process (result.json, per-image.csv, decoder weights, report tables), every
// unit computed once; `--unit` runs one unit; `units --json` reports states.
import path from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { type CliResult, expectCliError, expectOk, runCliOk, runCliProcess } from "../helpers/cli.js";
import { readJson, writePhantomPlan } from "../helpers/phantom-plan.js";
import { assertSameRun, STRATEGIES } from "../helpers/runs.js";
import { scratchDir } from "../helpers/scratch.js";

const tmp = scratchDir("sa-units-e2e-");
const plan = writePhantomPlan(tmp, "units", STRATEGIES, { epochs: 2, stepsPerEpoch: 3 }, { embedShards: 3 });
const ablate = async (out: string, ...more: string[]) =>
    expectOk(await runCliProcess(["ablate", "--plan", plan, "--out", out, "--threads", "1", ...more]));
/** Train units a process computed itself (not "already done"). */
const trained = (r: CliResult) =>
    [...r.stderr.matchAll(/^ {2}mri (\S+) seed 0: Dice .*\((\d+\.\d)s/gm)].map((m) => m[1] as string);

const single = path.join(tmp, "single");

/** Two processes on the folder `name` at once (both exit 0), with the same bits as the reference run. */
async function together(name: string, first: string[], second: string[]): Promise<string[]> {
    const run = path.join(tmp, name);
    const [a, b] = await Promise.all([ablate(run, ...first), ablate(run, ...second)]);
    assertSameRun(single, run, ["mri"]);
    return [...trained(a), ...trained(b)].sort();
}

test("one process: the reference run", async () => {
    const r = await ablate(single);
    assert.equal(trained(r).sort(), [...STRATEGIES].sort());
});

test("result.json holds no timings; timing.json beside it does", () => {
    const dir = path.join(single, "results", "mri", "box", "seed0");
    const rec = readJson(path.join(dir, "result.json"));
    assert.is(rec.trainSeconds, undefined);
    assert.is(rec.evalSeconds, undefined);
    const t = readJson(path.join(dir, "timing.json"));
    assert.ok(t.trainSeconds > 0 && t.evalSeconds > 0, JSON.stringify(t));
});

test("two whole ablate processes on one folder (--wait): the second waits for the folder, each unit once, same bits", async () => {
    const both = await together("two", ["--wait"], ["--wait"]);
    assert.equal(both, [...STRATEGIES].sort(), `each strategy trained exactly once across both processes: ${both}`);
});

test("a whole run and a --shard process on one folder: units shared through their locks, same bits", async () => {
    const both = await together("mixed", [], ["--shard", "0/1"]);
    assert.equal(both, [...STRATEGIES].sort(), `each strategy trained exactly once across both processes: ${both}`);
});

test("two --shard K/2 processes (every stage, barrier between stages): same bits", async () => {
    await together("shards", ["--shard", "0/2"], ["--shard", "1/2"]);
});

test("--unit runs one unit; units --json shows every state; bad ids are clear errors", async () => {
    const again = await runCliOk(["ablate", "--out", single, "--threads", "1", "--unit", "train/mri/box/seed0"]);
    assert.match(again.stderr, /mri box seed 0: .*already done/);
    const bad = await runCliProcess(["ablate", "--out", single, "--unit", "train/mri/nope/seed0"]);
    expectCliError(bad, 2);
    assert.match(bad.stderr, /no unit 'train\/mri\/nope\/seed0' in this plan .*\[ERR_SA_USAGE\]/);
    const u = await runCliOk(["units", "--out", single, "--json"]);
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
    const cfg = readJson(path.join(single, "config.json"));
    assert.is(cfg.plan.embedShards, 3);
});

test.run();
