// `prepare --folds K` through the CLI: the manifest records K patient-level folds that partition the
// patients, and the JSON summary lists them.
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { expectCliError, prepareFolds, runCliProcess } from "../helpers/cli.js";

const fresh = () => path.join(mkdtempSync(path.join(os.tmpdir(), "sa-prepare-folds-")), "mri");

test("prepare phantom-radiology --folds 3 records patient folds in the manifest", async () => {
    const { out, manifest } = await prepareFolds(fresh(), 3);
    assert.equal(out.folds, manifest.folds.patients);
});

test("prepare --folds 9 with 4 patients is refused with ERR_SA_SPLIT", async () => {
    const args = ["prepare", "phantom-radiology", "--out", fresh(), "--patients", "4", "--folds", "9", "--json"];
    const r = await runCliProcess(args);
    expectCliError(r, undefined, /ERR_SA_SPLIT/, /9 folds need at least 9 patients/);
});

test.run();
