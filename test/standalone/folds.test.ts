// Patient-level k-fold cross-validation: folds partition the patients, are balanced in count and in
// tumour size (stratified), reproducible for a seed, recorded in the manifest and validated there.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import {
    assignFolds,
    foldEntries,
    generatePhantoms,
    loadDataset,
    patientSizes,
    prepareBrats,
    validateManifest,
    writeFolds,
} from "@sam-ablate/data";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { expectThrowsCode as expectCode } from "../helpers/expect-code.js";

/** 23 patients with sizes 0, 10, 20, ... (in a scrambled id order). */
const sizes = new Map(Array.from({ length: 23 }, (_, i) => [`P${String((i * 7) % 23).padStart(3, "0")}`, i * 10]));

test("folds partition the patients, sizes differ by at most one, each list sorted", () => {
    for (const k of [2, 3, 5, 23]) {
        const folds = assignFolds(sizes, k, 1);
        assert.is(folds.length, k);
        const all = folds.flat();
        assert.is(all.length, 23);
        assert.is(new Set(all).size, 23);
        const counts = folds.map((f) => f.length);
        assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `k=${k}: ${counts}`);
        for (const f of folds) assert.equal(f, [...f].sort());
    }
});

test("stratified by size: every block of k patients of similar size goes to k different folds", () => {
    const k = 4;
    const folds = assignFolds(sizes, k, 9);
    const foldOf = new Map(folds.flatMap((f, i) => f.map((p) => [p, i] as const)));
    const bySize = [...sizes.entries()].sort((a, b) => a[1] - b[1]).map(([p]) => p);
    for (let start = 0; start + k <= bySize.length; start += k) {
        const block = bySize.slice(start, start + k).map((p) => foldOf.get(p));
        assert.is(new Set(block).size, k, `block at ${start}: folds ${block}`);
    }
    // fold means of the size stay close (within one block's range, 40)
    const means = folds.map((f) => f.reduce((a, p) => a + (sizes.get(p) as number), 0) / f.length);
    assert.ok(Math.max(...means) - Math.min(...means) <= 40, `fold means ${means}`);
});

test("reproducible for a seed, other seeds deal otherwise; bad k is an ERR_SA_SPLIT", () => {
    assert.equal(assignFolds(sizes, 3, 5), assignFolds(new Map([...sizes].reverse()), 3, 5));
    const other = Array.from({ length: 8 }, (_, s) => JSON.stringify(assignFolds(sizes, 3, 100 + s)));
    assert.ok(other.some((o) => o !== JSON.stringify(assignFolds(sizes, 3, 5))));
    expectCode(() => assignFolds(sizes, 1), "ERR_SA_SPLIT", /k must be an integer >= 2/);
    expectCode(() => assignFolds(sizes, 24), "ERR_SA_SPLIT", /24 folds need at least 24 patients/);
});

test("writeFolds records folds in a prepared manifest; fold sides are disjoint by patient; a broken record is refused", async () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), "sa-folds-"));
    const raw = path.join(tmp, "raw");
    const out = path.join(tmp, "patches");
    await generatePhantoms({ kind: "radiology", outDir: raw, patients: 5, slices: 12, seed: 3 });
    await prepareBrats({ inputDir: raw, outDir: out, seed: 0 });
    const folds = await writeFolds(out, 3, 0);
    const ds = await loadDataset(out);
    assert.equal(ds.manifest.folds, folds);
    const sizesOf = patientSizes(ds.manifest.patches);
    assert.equal(folds.patients.flat().sort(), [...sizesOf.keys()].sort());
    for (let f = 0; f < 3; f++) {
        const { train, test: testSide } = foldEntries(ds.manifest, f);
        const trainPatients = new Set(train.map((p) => p.patient));
        assert.ok(testSide.length > 0);
        assert.ok(
            testSide.every((p) => !trainPatients.has(p.patient)),
            "a patient on both sides",
        );
        assert.is(train.length + testSide.length, ds.manifest.patches.length);
        assert.equal([...new Set(testSide.map((p) => p.patient))].sort(), folds.patients[f]);
    }
    expectCode(() => foldEntries(ds.manifest, 3), "ERR_SA_SPLIT", /fold 3 does not exist/);
    const file = path.join(out, "manifest.json");
    const json = JSON.parse(readFileSync(file, "utf8"));
    json.folds.patients[1].push(json.folds.patients[0][0]);
    writeFileSync(file, JSON.stringify(json));
    expectCode(() => validateManifest(json, file), "ERR_SA_MANIFEST", /is in folds 0 and 1/);
});

test.run();
