// Bad input through the CLI ends with a non-zero exit code and a one-line cause with a hint, never a crash.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ablateWithCheckpoint, causeLine, expectCliError, runCliProcess } from "../helpers/cli.js";
import { scratchDir } from "../helpers/scratch.js";

const tmp = scratchDir("sa-cli-");
const oneLineCause = (stderr: string, code: string) => causeLine(stderr, code, { hint: true });

test("missing dataset folder", async () => {
    const nope = path.join(tmp, "nope");
    const r = await runCliProcess(["prepare", "brats", "--input", nope, "--out", path.join(tmp, "out")]);
    expectCliError(r, 2);
    assert.match(r.stderr, /nope/);
});

test("a plan with an unknown strategy", async () => {
    const plan = path.join(tmp, "plan.json");
    writeFileSync(plan, JSON.stringify({ strategies: ["points3", "points_banana"] }));
    const r = await runCliProcess(["ablate", "--plan", plan, "--out", path.join(tmp, "run-a")]);
    expectCliError(r, 2);
    oneLineCause(r.stderr, "ERR_SA_PLAN");
    assert.match(r.stderr, /points_banana/);
});

test("a plan with an unknown field", async () => {
    const plan = path.join(tmp, "plan2.yaml");
    writeFileSync(plan, "training:\n  epochs: 2\n  learning_rate: 0.1\n");
    const r = await runCliProcess(["ablate", "--plan", plan, "--out", path.join(tmp, "run-b")]);
    expectCliError(r, 2);
    oneLineCause(r.stderr, "ERR_SA_PLAN");
    assert.match(r.stderr, /training\.learning_rate/);
});

test("a corrupt checkpoint", async () => {
    const bad = path.join(tmp, "sam_vit_b.pth");
    writeFileSync(bad, Buffer.concat([Buffer.from("PK\x03\x04"), Buffer.alloc(100, 7)]));
    const r = await runCliProcess(ablateWithCheckpoint(bad, path.join(tmp, "run-c")));
    expectCliError(r, 3);
    assert.match(r.stderr, /sam_vit_b\.pth/);
    assert.match(r.stderr, /hint:/);
});

test("an unwritable output folder", async () => {
    // A regular file where a folder is needed: fails for every user, root included.
    const blocker = path.join(tmp, "not-a-folder");
    writeFileSync(blocker, "x");
    const r = await runCliProcess(["ablate", "--plan", "quick", "--out", path.join(blocker, "run")]);
    expectCliError(r, undefined);
    oneLineCause(r.stderr, "ERR_SA_IO");
    assert.match(r.stderr, /not-a-folder/);
});

test("a bad effort table", async () => {
    const effort = path.join(tmp, "effort.json");
    writeFileSync(effort, JSON.stringify({ box: "trivial" }));
    const r = await runCliProcess(["ablate", "--plan", "quick", "--effort", effort, "--out", path.join(tmp, "run-e")]);
    expectCliError(r, 2);
    assert.match(r.stderr, /effort\.json: effort of "box" is "trivial"/);
});

test("an unknown command suggests one", async () => {
    const r = await runCliProcess(["ablat"]);
    assert.is(r.code, 2);
    assert.match(r.stderr, /sam-ablate:/);
});

test.run();
