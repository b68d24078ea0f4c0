// Usage errors and inputs checked before anything is written: the whole yargs message, numeric
// options that yargs only types, --version, plans that are folders or have null sections, missing
// inputs (no run folder is created), a decoder file that is not safetensors, a folder that is not a
// run folder. Each ends with the documented exit code and one line naming the problem.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
    ablateWithCheckpoint,
    causeLine as cause,
    expectCliError,
    REPO,
    runCliOk,
    runCliProcess,
} from "../helpers/cli.js";
import { scratchDir } from "../helpers/scratch.js";

const tmp = scratchDir("sa-usage-");

test("--version prints the package version", async () => {
    const r = await runCliOk(["--version"]);
    const pkg = JSON.parse(readFileSync(path.join(REPO, "packages", "cli", "package.json"), "utf8")) as {
        version: string;
    };
    assert.is(r.stdout.trim(), pkg.version);
});

test("an invalid choice shows yargs' whole message, with the choices", async () => {
    const r = await runCliProcess(["ablate", "--backend", "tpu", "--out", path.join(tmp, "never")]);
    assert.is(r.code, 2);
    cause(r.stderr, "ERR_SA_USAGE");
    assert.match(r.stderr, /Invalid values:/);
    assert.match(r.stderr, /Given: "tpu", Choices: "cpu", "cuda", "auto"/);
    assert.not.ok(existsSync(path.join(tmp, "never")));
});

test("numeric options: --threads abc, bench --repeats NaN|0|-1, --batch 0, --keep-checkpoints -1", async () => {
    const cases: [string[], string][] = [
        [["doctor", "--threads", "abc"], "--threads: expected a whole number >= 0, got 'abc'"],
        [["doctor", "--threads=-2"], "--threads: expected a whole number >= 0, got '-2'"],
        [["bench", "--repeats", "NaN"], "--repeats: expected a whole number >= 1, got 'NaN'"],
        [["bench", "--repeats", "0"], "--repeats: expected a whole number >= 1, got '0'"],
        [["bench", "--repeats", "-1"], "--repeats: expected a whole number >= 1, got '-1'"],
        [["bench", "--batch", "1.5"], "--batch: expected a whole number >= 1, got '1.5'"],
        [
            ["train", "--data", tmp, "--strategy", "box", "--batch", "0"],
            "--batch: expected a whole number >= 1, got '0'",
        ],
        [
            ["ablate", "--plan", "quick", "--keep-checkpoints", "-1", "--out", path.join(tmp, "never")],
            "--keep-checkpoints: expected a whole number >= 0, got '-1'",
        ],
    ];
    for (const [args, msg] of cases) {
        const r = await runCliProcess(args);
        assert.is(r.code, 2, `${args.join(" ")}: exit ${r.code}\n${r.stderr}`);
        assert.ok(cause(r.stderr, "ERR_SA_USAGE").includes(msg), `${args.join(" ")}:\n${r.stderr}`);
    }
    assert.not.ok(existsSync(path.join(tmp, "never")));
});

test("--threads applies to every command (doctor reports the count in effect)", async () => {
    const r = await runCliOk(["doctor", "--json", "--threads", "1"]);
    assert.is((JSON.parse(r.stdout) as { addon: { threads: number } }).addon.threads, 1);
});

test("doctor lists the ops without a kernel per backend (none on the CPU)", async () => {
    const j = await runCliOk(["doctor", "--json"]);
    const b = (JSON.parse(j.stdout) as { backends: { cpu: { unsupported: string[] } } }).backends;
    assert.equal(b.cpu.unsupported, []);
    const t = await runCliOk(["doctor"]);
    assert.match(t.stdout, /^ops without a kernel: cpu: none$/m);
});

test("a folder as --plan, a plan with evaluation: null: ERR_SA_PLAN, exit 2", async () => {
    const dir = path.join(tmp, "plans");
    mkdirSync(dir, { recursive: true });
    let r = await runCliProcess(["ablate", "--plan", dir, "--out", path.join(tmp, "never")]);
    expectCliError(r, 2);
    assert.match(cause(r.stderr, "ERR_SA_PLAN"), /plans: is a folder/);
    const nul = path.join(dir, "null.yaml");
    writeFileSync(nul, "evaluation: null\n");
    r = await runCliProcess(["ablate", "--plan", nul, "--out", path.join(tmp, "never")]);
    expectCliError(r, 2);
    assert.match(cause(r.stderr, "ERR_SA_PLAN"), /null\.yaml: .*evaluation: expected \{seed/);
    assert.not.ok(existsSync(path.join(tmp, "never")));
});

test("missing or unreadable inputs fail before a run folder is created", async () => {
    // a dataset folder that does not exist, and a file where a dataset folder should be
    const plan = path.join(tmp, "prepared.json");
    const file = path.join(tmp, "a-file");
    writeFileSync(file, "x");
    for (const dir of [path.join(tmp, "no-such-data"), file]) {
        writeFileSync(
            plan,
            JSON.stringify({ datasets: [{ name: "mine", kind: "radiology", source: { type: "prepared", dir } }] }),
        );
        const out = path.join(tmp, "run-data");
        const r = await runCliProcess(["ablate", "--plan", plan, "--out", out]);
        expectCliError(r, 2);
        assert.ok(cause(r.stderr, "ERR_SA_DATA").includes(dir), r.stderr);
        assert.not.ok(existsSync(out), "a run folder was created");
    }
    // a checkpoint that does not exist
    const out = path.join(tmp, "run-ckpt");
    const r = await runCliProcess(ablateWithCheckpoint(path.join(tmp, "none.pth"), out));
    expectCliError(r, 3);
    assert.match(cause(r.stderr, "ERR_SA_CHECKPOINT_NOT_FOUND"), /none\.pth/);
    assert.not.ok(existsSync(out), "a run folder was created");
});

test("eval --decoder with a file that is not safetensors: named as such, the hint names --decoder", async () => {
    const fake = path.join(tmp, "decoder.pth");
    writeFileSync(fake, Buffer.concat([Buffer.from("PK\x03\x04"), Buffer.alloc(64, 1)]));
    const r = await runCliProcess(["eval", "--data", tmp, "--strategy", "box", "--decoder", fake]);
    expectCliError(r, 3);
    assert.match(cause(r.stderr, "ERR_SA_CHECKPOINT_FORMAT"), /decoder\.pth: not a safetensors file/);
    assert.match(r.stderr, /hint: --decoder takes the decoder\.safetensors of a run/);
});

test("report on a folder that is not a run folder, or whose config.json is invalid", async () => {
    let r = await runCliProcess(["report", tmp]);
    expectCliError(r, 2);
    assert.match(cause(r.stderr, "ERR_SA_RUN_FOLDER"), /not a run folder \(no config\.json\)/);
    const run = path.join(tmp, "bad-run");
    mkdirSync(run, { recursive: true });
    writeFileSync(
        path.join(run, "config.json"),
        JSON.stringify({ fingerprint: "x", plan: { training: { epochs: 0 } } }),
    );
    r = await runCliProcess(["report", run]);
    expectCliError(r, 2);
    assert.match(cause(r.stderr, "ERR_SA_PLAN"), /config\.json: .*training\.epochs/);
    writeFileSync(path.join(run, "config.json"), "{ truncated");
    r = await runCliProcess(["report", run]);
    expectCliError(r, 2);
    assert.match(cause(r.stderr, "ERR_SA_RUN_FOLDER"), /config\.json: not valid JSON/);
});

test.run();
