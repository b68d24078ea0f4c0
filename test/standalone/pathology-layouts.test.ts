// Pathology tile sets as commonly shared: images/ + masks/ (train/ val/ sub-folders, *_mask names),
// binary 0/255 masks detected, patient ids from TCGA barcodes anywhere in the name or --patient-regex.
import { mkdirSync } from "node:fs";
import path from "node:path";
import { generatePhantoms, loadDataset, prepareBcss } from "@sam-ablate/data";
import { writePng } from "@sam-ablate/image-io";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { scratchDir } from "../helpers/scratch.js";

const root = scratchDir("sa-tiles-");
const T = 64;

test("the phantom tile set (train/ val/, *_mask, 0/255) prepares as written", async () => {
    const raw = path.join(root, "tiles");
    await generatePhantoms({
        kind: "pathology",
        outDir: raw,
        patients: 4,
        regions: 1,
        regionSize: 256,
        seed: 2,
        layout: "tiles",
    });
    const { manifest, warnings } = await prepareBcss({
        inputDir: raw,
        outDir: path.join(root, "out"),
        patchSize: T,
        minTumourFraction: 0.05,
    });
    assert.equal(warnings, []);
    assert.is(manifest.settings.layout, "tiles");
    assert.is(manifest.settings.maskType, "binary-0-255");
    assert.equal(manifest.settings.tumourCodes, [255]);
    assert.equal(manifest.settings.folders, ["train/images", "val/images"]);
    assert.equal(
        manifest.patients,
        ["TCGA-PH-0001", "TCGA-PH-0002", "TCGA-PH-0003", "TCGA-PH-0004"].filter((p) => manifest.patients.includes(p)),
    );
    assert.ok(manifest.patients.length >= 3, manifest.patients.join(","));
    assert.ok(manifest.sources.some((s) => s.id.startsWith("val/")));
    assert.equal(manifest.sources[0]?.files, {
        image: "train/images/tile_TCGA-PH-0001-01Z-00-DX1_r0.png",
        label: "train/masks/tile_TCGA-PH-0001-01Z-00-DX1_r0_mask.png",
    });
    // The same regions in the BCSS release layout: a tile kept in both has the same pixels and tumour mask.
    const bcssRaw = path.join(root, "bcss");
    await generatePhantoms({ kind: "pathology", outDir: bcssRaw, patients: 4, regions: 1, regionSize: 256, seed: 2 });
    const bcss = await prepareBcss({
        inputDir: bcssRaw,
        outDir: path.join(root, "bcss-out"),
        patchSize: T,
        minTumourFraction: 0.05,
    });
    const a = await loadDataset(path.join(root, "out"));
    const b = await loadDataset(path.join(root, "bcss-out"));
    let compared = 0;
    for (const p of manifest.patches) {
        const twin = bcss.manifest.patches.find(
            (q) => q.patient === p.patient && JSON.stringify(q.position) === JSON.stringify(p.position),
        );
        if (!twin) continue;
        const pa = await a.read(p.id);
        const pb = await b.read(twin.id);
        assert.equal(pa.image, pb.image);
        assert.equal(pa.mask, pb.mask);
        compared++;
    }
    assert.ok(compared > 0, "no tile kept in both layouts");
});

test("numeric names: one patient per tile with a warning, or --patient-regex", async () => {
    const dir = path.join(root, "numeric");
    mkdirSync(path.join(dir, "images"), { recursive: true });
    mkdirSync(path.join(dir, "masks"), { recursive: true });
    for (const n of ["0001", "0002", "0103"]) {
        const rgb = new Uint8Array(T * T * 3).fill(Number(n) % 200);
        const mask = new Uint8Array(T * T);
        mask.fill(255, 0, T * 20);
        await writePng(path.join(dir, "images", `${n}.png`), { width: T, height: T, channels: 3, data: rgb });
        await writePng(path.join(dir, "masks", `${n}.png`), { width: T, height: T, channels: 1, data: mask });
    }
    const own = await prepareBcss({ inputDir: dir, outDir: path.join(root, "num-own"), patchSize: T });
    assert.equal(own.manifest.patients, ["0001", "0002", "0103"]);
    assert.match(own.warnings[0] as string, /3 region name\(s\) hold no TCGA case id/);
    const grouped = await prepareBcss({
        inputDir: dir,
        outDir: path.join(root, "num-re"),
        patchSize: T,
        patientRegex: "^(\\d\\d)",
    });
    assert.equal(grouped.manifest.patients, ["00", "01"]);
    assert.equal(grouped.manifest.settings.patient, { regex: "^(\\d\\d)" });
    try {
        await prepareBcss({ inputDir: dir, outDir: path.join(root, "num-bad"), patchSize: T, patientRegex: "^x" });
        assert.unreachable("should fail");
    } catch (e) {
        assert.is((e as { code?: string }).code, "ERR_SA_DATA");
        assert.match((e as Error).message, /0001\.png: --patient-regex \^x does not match/);
    }
});

test("explicit tumour code 255; a tile set without masks says what it looked for", async () => {
    const dir = path.join(root, "numeric");
    const r = await prepareBcss({
        inputDir: dir,
        outDir: path.join(root, "num-255"),
        patchSize: T,
        tumourCodes: [255],
    });
    assert.is(r.manifest.settings.maskType, "binary-0-255");
    assert.is(r.manifest.patches[0]?.tumourPixels, T * 20);
    const empty = path.join(root, "empty");
    mkdirSync(empty, { recursive: true });
    try {
        await prepareBcss({ inputDir: empty, outDir: path.join(root, "e-out"), layout: "tiles" });
        assert.unreachable("should fail");
    } catch (e) {
        assert.match((e as Error).message, /no tile set found \(looked for images\|image\|imgs\|img\/ with masks/);
    }
});

test.run();
