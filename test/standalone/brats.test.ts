import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { loadDataset, normaliseMr, percentileOfSorted, prepareBcss, prepareBrats, writeNifti } from "@sam-ablate/data";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { expectRejectsCode } from "../helpers/expect-code.js";
import { scratchDir } from "../helpers/scratch.js";

const root = scratchDir("sa-brats-");

const X = 64;
const Y = 48;
const Z = 8;
const idx = (x: number, y: number, z: number) => x + X * (y + Y * z);

/** Tumour pixels per slice of the test label volume (label 2 except where noted). */
const AREAS = [0, 99, 100, 150, 0, 240, 30, 0];

/** Writes one BraTS-style patient folder: flair (int16) with a ramp of values, and a seg volume. */
async function writeCase(
    dir: string,
    id: string,
    options: { zFlair?: number; gz?: boolean; withSeg?: boolean } = {},
): Promise<void> {
    const caseDir = path.join(dir, id);
    mkdirSync(caseDir, { recursive: true });
    const ext = options.gz === false ? ".nii" : ".nii.gz";
    const zf = options.zFlair ?? Z;
    const flair = new Int16Array(X * Y * zf);
    for (let z = 0; z < zf; z++) {
        for (let y = 4; y < Y - 4; y++)
            for (let x = 4; x < X - 4; x++) flair[idx(x, y, z)] = 1 + ((x * 7 + y * 13 + z * 31) % 1000);
    }
    const seg = new Uint8Array(X * Y * Z);
    AREAS.forEach((area, z) => {
        for (let k = 0; k < area; k++) seg[idx(10 + (k % 20), 10 + Math.floor(k / 20), z)] = z === 5 && k < 120 ? 1 : 2;
    });
    await writeNifti(path.join(caseDir, `${id}_flair${ext}`), { dims: [X, Y, zf], data: flair, datatype: "int16" });
    if (options.withSeg !== false)
        await writeNifti(path.join(caseDir, `${id}_seg${ext}`), { dims: [X, Y, Z], data: seg, datatype: "uint8" });
}

const expectData = (p: Promise<unknown>, pattern: RegExp, code = "ERR_SA_DATA") => expectRejectsCode(p, code, pattern);

const input = path.join(root, "input");
test.before(async () => {
    for (let p = 1; p <= 6; p++) await writeCase(input, `Case_${String(p).padStart(3, "0")}`, { gz: p !== 2 });
});

test("MedSAM percentile normalisation on a known volume", () => {
    const volume = new Float32Array(1001);
    for (let i = 1; i <= 1000; i++) volume[i] = i;
    const sorted = Float64Array.from({ length: 1000 }, (_, i) => i + 1);
    assert.ok(Math.abs(percentileOfSorted(sorted, 0.5) - 5.995) < 1e-9);
    assert.ok(Math.abs(percentileOfSorted(sorted, 99.5) - 995.005) < 1e-9);
    const n = normaliseMr(volume);
    assert.ok(Math.abs(n.lower - 5.995) < 1e-9 && Math.abs(n.upper - 995.005) < 1e-9);
    assert.is(n.positiveVoxels, 1000);
    assert.is(n.data[0], 0);
    assert.is(n.data[1], 0);
    assert.is(n.data[500], 127);
    assert.is(n.data[1000], 255);
    assert.is(n.data[996], 255);
    const flat = normaliseMr(Float32Array.from([0, 5, 5, 5]));
    assert.equal(Array.from(flat.data), [0, 255, 255, 255]);
    const window = normaliseMr(Float32Array.from([0, -4, 10, 20, 30]), { lowerPercentile: 0, upperPercentile: 100 });
    assert.equal(Array.from(window.data), [0, 0, 0, 127, 255]);
});

test("slice selection, padding, orientation and 3 equal channels", async () => {
    const out = path.join(root, "out-basic");
    const { manifest, warnings } = await prepareBrats({ inputDir: input, outDir: out, seed: 1 });
    assert.equal(warnings, []);
    const first = manifest.patches.filter((p) => p.patient === "Case_001");
    assert.equal(
        first.map((p) => p.position),
        [{ z: 2 }, { z: 3 }, { z: 5 }],
    );
    assert.equal(
        first.map((p) => p.tumourPixels),
        [100, 150, 240],
    );
    assert.equal(
        first.map((p) => p.id),
        ["Case_001_z002", "Case_001_z003", "Case_001_z005"],
    );
    assert.is(manifest.patches.length, 18);
    const src = manifest.sources[0];
    assert.equal(src?.details.offset, [96, 104]);
    assert.equal(src?.files, { flair: "Case_001/Case_001_flair.nii.gz", seg: "Case_001/Case_001_seg.nii.gz" });
    assert.equal(manifest.sources[1]?.files.seg, "Case_002/Case_002_seg.nii");

    // The reference normalisation of the same volume, then compare pixels through the loader.
    const flair = new Float32Array(X * Y * Z);
    for (let z = 0; z < Z; z++)
        for (let y = 4; y < Y - 4; y++)
            for (let x = 4; x < X - 4; x++) flair[idx(x, y, z)] = 1 + ((x * 7 + y * 13 + z * 31) % 1000);
    const expected = normaliseMr(flair);
    const ds = await loadDataset(out);
    const px = await ds.read("Case_001_z005");
    const P = 256;
    for (const [x, y] of [
        [4, 4],
        [10, 10],
        [37, 21],
        [59, 43],
    ] as const) {
        const p = (y + 104) * P + (x + 96);
        const v = expected.data[idx(x, y, 5)] as number;
        assert.equal(Array.from(px.image.subarray(3 * p, 3 * p + 3)), [v, v, v], `pixel (${x}, ${y})`);
    }
    assert.is(px.image[0], 0);
    assert.is(px.image[3 * (103 * P + 100)], 0);
    assert.is(px.mask[(10 + 104) * P + (10 + 96)], 1);
    assert.is(px.mask[10 * P + 10], 0);
    assert.is(
        px.mask.reduce((a, b) => a + b, 0),
        240,
    );
});

test("label set option and threshold option", async () => {
    const { manifest } = await prepareBrats({
        inputDir: input,
        outDir: path.join(root, "out-labels"),
        tumourLabels: [1],
        minTumourPixels: 100,
    });
    assert.equal(
        manifest.patches.filter((p) => p.patient === "Case_001").map((p) => [p.position, p.tumourPixels]),
        [[{ z: 5 }, 120]],
    );
    const low = await prepareBrats({ inputDir: input, outDir: path.join(root, "out-low"), minTumourPixels: 30 });
    assert.equal(
        low.manifest.patches.filter((p) => p.patient === "Case_001").map((p) => (p.position as { z: number }).z),
        [1, 2, 3, 5, 6],
    );
});

test("end padding puts the slice at the top-left", async () => {
    const out = path.join(root, "out-end");
    const { manifest } = await prepareBrats({ inputDir: input, outDir: out, padding: "end", patchSize: 64 });
    assert.equal(manifest.sources[0]?.details.offset, [0, 0]);
    const px = await (await loadDataset(out)).read("Case_003_z002");
    assert.is(px.size, 64);
    assert.is(px.mask[10 * 64 + 10], 1);
    assert.is(px.image.length, 64 * 64 * 3);
});

test("every patient is on one side; manifests are byte-identical for a seed", async () => {
    const a = path.join(root, "rep-a");
    const b = path.join(root, "rep-b");
    const ra = await prepareBrats({ inputDir: input, outDir: a, seed: 5 });
    await prepareBrats({ inputDir: input, outDir: b, seed: 5 });
    const { split } = ra.manifest;
    assert.equal([...split.train, ...split.test].sort(), ra.manifest.patients);
    assert.ok(split.test.length >= 1 && split.train.length >= 1);
    for (const p of ra.manifest.patches) assert.is(p.split, split.test.includes(p.patient) ? "test" : "train");
    assert.equal(readFileSync(path.join(a, "manifest.json")), readFileSync(path.join(b, "manifest.json")));
    assert.equal(
        readFileSync(path.join(a, "images", "Case_004_z003.png")),
        readFileSync(path.join(b, "images", "Case_004_z003.png")),
    );
    const other = path.join(root, "rep-c");
    let differs = false;
    for (let seed = 6; seed < 16 && !differs; seed++) {
        const r = await prepareBrats({ inputDir: input, outDir: other, seed, overwrite: true });
        differs = r.manifest.split.test.join() !== split.test.join();
    }
    assert.ok(differs, "another seed gives another split");
    assert.is.not(
        readFileSync(path.join(other, "manifest.json"), "utf8"),
        readFileSync(path.join(a, "manifest.json"), "utf8"),
    );
});

test("a fixed split file is honoured", async () => {
    const fixed = path.join(root, "split.json");
    writeFileSync(
        fixed,
        JSON.stringify({ train: ["Case_001", "Case_002", "Case_003", "Case_004"], test: ["Case_005", "Case_006"] }),
    );
    const { manifest } = await prepareBrats({
        inputDir: input,
        outDir: path.join(root, "out-fixed"),
        splitFile: fixed,
    });
    assert.equal(manifest.split.method, "file");
    assert.equal(manifest.split.test, ["Case_005", "Case_006"]);
    assert.is(manifest.patches.filter((p) => p.split === "test").length, 6);
});

test("an existing output folder is kept unless overwrite is set", async () => {
    const out = path.join(root, "out-basic");
    await expectData(
        prepareBrats({ inputDir: input, outDir: out }),
        /out-basic: output folder is not empty; pass overwrite/,
    );
    const foreign = path.join(root, "foreign");
    mkdirSync(foreign);
    writeFileSync(path.join(foreign, "notes.txt"), "keep me");
    await expectData(
        prepareBrats({ inputDir: input, outDir: foreign, overwrite: true }),
        /foreign: output folder holds files that are not a prepared dataset/,
    );
    assert.is(readFileSync(path.join(foreign, "notes.txt"), "utf8"), "keep me");
});

test("a prepared dataset given as raw input is refused by both preparations, naming the folder", async () => {
    const prepared = path.join(root, "out-basic"); // written by the first test
    for (const run of [prepareBrats, prepareBcss]) {
        await expectData(
            run({ inputDir: prepared, outDir: path.join(root, "out-again") }),
            /out-basic: already a prepared dataset \(its manifest.json was written by prepare\).*--data/,
        );
    }
    // a manifest.json of another program does not stop the layout detection
    const other = path.join(root, "other-manifest");
    mkdirSync(other);
    writeFileSync(path.join(other, "manifest.json"), JSON.stringify({ format: "something-else" }));
    await expectData(
        prepareBrats({ inputDir: other, outDir: path.join(root, "out-other") }),
        /no known radiology layout/,
    );
});

test("a label volume of another shape names both files and shapes", async () => {
    const bad = path.join(root, "bad-shape");
    await writeCase(bad, "Odd_001", { zFlair: 7 });
    await expectData(
        prepareBrats({ inputDir: bad, outDir: path.join(root, "out-bad-shape") }),
        /label volume .*Odd_001_seg\.nii\.gz has shape 64x48x8 but image .*Odd_001_flair\.nii\.gz has shape 64x48x7/,
    );
});

test("files read ahead: a corrupt later case fails with its own file, whichever case fails first", async () => {
    const dir = path.join(root, "read-ahead");
    for (let p = 1; p <= 3; p++) await writeCase(dir, `Case_${p}`);
    const flair2 = path.join(dir, "Case_2", "Case_2_flair.nii.gz");
    writeFileSync(flair2, readFileSync(flair2).subarray(0, 200)); // truncated while case 1 is cut
    await expectData(
        prepareBrats({ inputDir: dir, outDir: path.join(root, "out-read-ahead") }),
        /Case_2_flair\.nii\.gz: .*truncated/,
        "ERR_SA_NIFTI",
    );
    // case 1 fails while case 2's read ahead fails too: case 1's error, and no unhandled rejection
    const shape = path.join(root, "read-ahead-2");
    await writeCase(shape, "Case_1", { zFlair: 7 });
    await writeCase(shape, "Case_2");
    const seg2 = path.join(shape, "Case_2", "Case_2_seg.nii.gz");
    writeFileSync(seg2, readFileSync(seg2).subarray(0, 100));
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on("unhandledRejection", onUnhandled);
    try {
        await expectData(
            prepareBrats({ inputDir: shape, outDir: path.join(root, "out-read-ahead-2") }),
            /Case_1_seg\.nii\.gz has shape 64x48x8 but image .*Case_1_flair\.nii\.gz has shape 64x48x7/,
        );
        await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
        process.off("unhandledRejection", onUnhandled);
    }
    assert.equal(unhandled, []);
});

test("a missing file fails, or is skipped with a warning", async () => {
    const dir = path.join(root, "incomplete");
    await writeCase(dir, "Full_001");
    await writeCase(dir, "Part_002", { withSeg: false });
    await expectData(
        prepareBrats({ inputDir: dir, outDir: path.join(root, "out-inc") }),
        /Part_002: no seg file \(looked for Part_002_seg\.nii\.gz or Part_002_seg\.nii\)/,
    );
    const warned: string[] = [];
    const r = await prepareBrats({
        inputDir: dir,
        outDir: path.join(root, "out-inc"),
        skipIncomplete: true,
        onWarning: (m) => warned.push(m),
    });
    assert.equal(r.manifest.patients, ["Full_001"]);
    assert.is(warned.length, 2);
    assert.match(warned[0] as string, /Part_002: no seg file .*; patient skipped/);
    assert.match(warned[1] as string, /no test patients/);
    await expectData(
        prepareBrats({ inputDir: dir, outDir: path.join(root, "out-t1"), modality: "t1" }),
        /Full_001: no t1 file/,
    );
});

test("bad options are rejected before any work", async () => {
    await expectData(
        prepareBrats({ inputDir: input, outDir: path.join(root, "x"), minTumourPixels: 0 }),
        /minTumourPixels must be an integer/,
    );
    await expectData(
        prepareBrats({
            inputDir: input,
            outDir: path.join(root, "x"),
            imagePattern: "{case}/x.nii",
            labelPattern: "seg",
        }),
        /--label-pattern must contain \{case\}/,
    );
    await expectData(
        prepareBrats({ inputDir: path.join(root, "nowhere"), outDir: path.join(root, "x") }),
        /nowhere: input folder not found/,
    );
});

test.run();
