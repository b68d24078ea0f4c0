// Bad input through the CLI ends with a non-zero exit code and a one-line cause with a hint, never a crash.
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { runCliProcess } from "../helpers/cli.js";

const tmp = mkdtempSync(path.join(os.tmpdir(), "sa-cli-"));

function oneLineCause(stderr: string, code: string): void {
    const lines = stderr.trim().split("\n");
    const cause = lines.find((l) => l.startsWith("sam-ablate: "));
    assert.ok(cause, `no 'sam-ablate: ...' line in:\n${stderr}`);
    assert.ok(cause?.includes(`[${code}]`), `expected code ${code} in: ${cause}`);
    assert.ok(
        lines.some((l) => l.trim().startsWith("hint:")),
        `no hint in:\n${stderr}`,
    );
    assert.not.match(stderr, /at .*\.ts:\d+/, "a stack trace leaked");
}

test("missing dataset folder", async () => {
    const r = await runCliProcess([
        "prepare",
        "brats",
        "--input",
        path.join(tmp, "nope"),
        "--out",
        path.join(tmp, "out"),
    ]);
    assert.is(r.code, 2, r.stderr);
    assert.match(r.stderr, /nope/);
});

test("a plan with an unknown strategy", async () => {
    const plan = path.join(tmp, "plan.json");
    writeFileSync(plan, JSON.stringify({ strategies: ["points3", "points_banana"] }));
    const r = await runCliProcess(["ablate", "--plan", plan, "--out", path.join(tmp, "run-a")]);
    assert.is(r.code, 2, r.stderr);
    oneLineCause(r.stderr, "ERR_SA_PLAN");
    assert.match(r.stderr, /points_banana/);
});

test("a plan with an unknown field", async () => {
    const plan = path.join(tmp, "plan2.yaml");
    writeFileSync(plan, "training:\n  epochs: 2\n  learning_rate: 0.1\n");
    const r = await runCliProcess(["ablate", "--plan", plan, "--out", path.join(tmp, "run-b")]);
    assert.is(r.code, 2, r.stderr);
    oneLineCause(r.stderr, "ERR_SA_PLAN");
    assert.match(r.stderr, /training\.learning_rate/);
});

test("a corrupt checkpoint", async () => {
    const bad = path.join(tmp, "sam_vit_b.pth");
    writeFileSync(bad, Buffer.concat([Buffer.from("PK\x03\x04"), Buffer.alloc(100, 7)]));
    const r = await runCliProcess([
        "ablate",
        "--plan",
        "quick",
        "--model",
        "vit_b",
        "--checkpoint",
        bad,
        "--out",
        path.join(tmp, "run-c"),
    ]);
    assert.is(r.code, 3, r.stderr);
    assert.match(r.stderr, /sam_vit_b\.pth/);
    assert.match(r.stderr, /hint:/);
});

test("an unwritable output folder", async () => {
    // A regular file where a folder is needed: fails for every user, root included.
    const blocker = path.join(tmp, "not-a-folder");
    writeFileSync(blocker, "x");
    const r = await runCliProcess(["ablate", "--plan", "quick", "--out", path.join(blocker, "run")]);
    assert.ok(r.code !== 0 && r.code !== null, `exit ${r.code}`);
    oneLineCause(r.stderr, "ERR_SA_IO");
    assert.match(r.stderr, /not-a-folder/);
});

test("a bad effort table", async () => {
    const effort = path.join(tmp, "effort.json");
    writeFileSync(effort, JSON.stringify({ box: "trivial" }));
    const r = await runCliProcess(["ablate", "--plan", "quick", "--effort", effort, "--out", path.join(tmp, "run-e")]);
    assert.is(r.code, 2, r.stderr);
    assert.match(r.stderr, /effort\.json: effort of "box" is "trivial"/);
});

test("an unknown command suggests one", async () => {
    const r = await runCliProcess(["ablat"]);
    assert.is(r.code, 2);
    assert.match(r.stderr, /sam-ablate:/);
});

test.run();
