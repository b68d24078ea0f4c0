// `prepare --folds K` through the CLI: the manifest records K patient-level folds that partition the
// patients, and the JSON summary lists them.
import { mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { runCliProcess } from "../helpers/cli.js";

test("prepare phantom-radiology --folds 3 records patient folds in the manifest", async () => {
    const data = path.join(mkdtempSync(path.join(os.tmpdir(), "sa-prepare-folds-")), "mri");
    const r = await runCliProcess([
        "prepare",
        "phantom-radiology",
        "--out",
        data,
        "--patients",
        "4",
        "--folds",
        "3",
        "--json",
    ]);
    assert.is(r.code, 0, r.stderr.slice(-2000));
    const out = JSON.parse(r.stdout);
    assert.is(out.folds.length, 3);
    const manifest = JSON.parse(readFileSync(path.join(data, "manifest.json"), "utf8"));
    assert.is(manifest.folds.k, 3);
    assert.equal(manifest.folds.patients.flat().sort(), [...manifest.patients].sort());
    assert.equal(out.folds, manifest.folds.patients);
});

test("prepare --folds 9 with 4 patients is refused with ERR_SA_SPLIT", async () => {
    const data = path.join(mkdtempSync(path.join(os.tmpdir(), "sa-prepare-folds-")), "mri");
    const r = await runCliProcess([
        "prepare",
        "phantom-radiology",
        "--out",
        data,
        "--patients",
        "4",
        "--folds",
        "9",
        "--json",
    ]);
    assert.is.not(r.code, 0);
    assert.match(r.stdout + r.stderr, /ERR_SA_SPLIT/);
    assert.match(r.stdout + r.stderr, /9 folds need at least 9 patients/);
});

test.run();
