import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { loadDataset, prepareBcss } from "@sam-ablate/data";
import { writePng } from "@sam-ablate/image-io";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { expectRejectsCode } from "../helpers/expect-code.js";
import { scratchDir } from "../helpers/scratch.js";

const root = scratchDir("sa-bcss-");

const T = 64;
const AREA = T * T;

/**
 * A 2x2-tile region (128x128 with 64-pixel tiles) whose label layout fixes each tile's fractions:
 * (0,0) tumour 10%, ROI 100% -> kept; (64,0) tumour 4% -> dropped at the default 5%;
 * (0,64) tumour 20% but ROI 40% -> dropped; (64,64) tumour exactly ceil(5%) -> kept.
 */
function regionLabel(): Uint8Array {
    const W = 2 * T;
    const label = new Uint8Array(W * W).fill(2);
    const fill = (x0: number, y0: number, count: number, code: number, from = 0) => {
        for (let k = from; k < from + count; k++) label[(y0 + Math.floor(k / T)) * W + x0 + (k % T)] = code;
    };
    fill(0, 0, Math.round(0.1 * AREA), 1);
    fill(T, 0, Math.round(0.04 * AREA), 1);
    fill(0, T, Math.round(0.2 * AREA), 1);
    fill(0, T, Math.round(0.6 * AREA), 0, Math.round(0.2 * AREA));
    fill(T, T, Math.ceil(0.05 * AREA), 1);
    fill(T, T, 50, 3, Math.ceil(0.05 * AREA));
    return label;
}

function regionImage(seed: number): Uint8Array {
    const W = 2 * T;
    return Uint8Array.from({ length: W * W * 3 }, (_, i) => (i * 31 + seed * 7) % 256);
}

async function writeRegion(
    imagePath: string,
    labelPath: string,
    seed: number,
    label = regionLabel(),
    labelSize = 2 * T,
): Promise<void> {
    mkdirSync(path.dirname(imagePath), { recursive: true });
    mkdirSync(path.dirname(labelPath), { recursive: true });
    await writePng(imagePath, { width: 2 * T, height: 2 * T, channels: 3, data: regionImage(seed) });
    await writePng(labelPath, { width: labelSize, height: labelSize, channels: 1, data: label });
}

const expectData = (p: Promise<unknown>, pattern: RegExp) => expectRejectsCode(p, "ERR_SA_DATA", pattern);

const bcssDir = path.join(root, "bcss");
const names = [
    "TCGA-A1-A0SK-DX1_xmin1_ymin1",
    "TCGA-A1-A0SK-DX1_xmin9_ymin9",
    "TCGA-B2-1234-DX1_xmin5_ymin5",
    "TCGA-C3-5678-DX1_xmin2_ymin2",
    "TCGA-D4-0001-DX1_xmin3_ymin3",
];

test.before(async () => {
    for (const [k, n] of names.entries())
        await writeRegion(
            path.join(bcssDir, "rgbs_colorNormalized", `${n}.png`),
            path.join(bcssDir, "masks", `${n}.png`),
            k,
        );
});

test("tiles are kept by tumour and ROI fractions; patient = TCGA case id", async () => {
    const out = path.join(root, "out");
    const { manifest, warnings } = await prepareBcss({ inputDir: bcssDir, outDir: out, patchSize: T, seed: 2 });
    assert.equal(warnings, []);
    assert.is(manifest.settings.layout, "bcss");
    const first = manifest.patches.filter((p) => p.source === names[0]);
    assert.equal(
        first.map((p) => p.position),
        [
            { x: 0, y: 0 },
            { x: T, y: T },
        ],
    );
    assert.equal(
        first.map((p) => p.tumourPixels),
        [Math.round(0.1 * AREA), Math.ceil(0.05 * AREA)],
    );
    assert.equal(manifest.patients, ["TCGA-A1-A0SK", "TCGA-B2-1234", "TCGA-C3-5678", "TCGA-D4-0001"]);
    assert.equal(manifest.sources[0]?.details, { size: [128, 128], scaledSize: [128, 128], tilesExamined: 4 });
    const sides = new Map<string, string>();
    for (const p of manifest.patches) {
        assert.is(sides.get(p.patient) ?? p.split, p.split, `patient ${p.patient} on one side`);
        sides.set(p.patient, p.split);
    }
    const ds = await loadDataset(out);
    const px = await ds.read(`${names[0]}_x${T}_y${T}`);
    const source = regionImage(0);
    for (const [x, y] of [
        [0, 0],
        [5, 9],
        [63, 63],
    ] as const) {
        const s = ((T + y) * 2 * T + T + x) * 3;
        assert.equal(
            Array.from(px.image.subarray((y * T + x) * 3, (y * T + x) * 3 + 3)),
            Array.from(source.subarray(s, s + 3)),
        );
    }
    assert.is(
        px.mask.reduce((a, b) => a + b, 0),
        Math.ceil(0.05 * AREA),
    );
    assert.is(px.mask[0], 1);
});

test("thresholds and tumour codes are options", async () => {
    const loose = await prepareBcss({
        inputDir: bcssDir,
        outDir: path.join(root, "loose"),
        patchSize: T,
        minTumourFraction: 0.03,
        minRoiFraction: 0.3,
    });
    assert.is(loose.manifest.patches.filter((p) => p.source === names[0]).length, 4);
    const codes = await prepareBcss({
        inputDir: bcssDir,
        outDir: path.join(root, "codes"),
        patchSize: T,
        tumourCodes: [1, 3],
        minTumourFraction: 0.06,
    });
    const tiles = codes.manifest.patches.filter((p) => p.source === names[0]);
    assert.equal(
        tiles.map((p) => [p.position, p.tumourPixels]),
        [
            [{ x: 0, y: 0 }, Math.round(0.1 * AREA)],
            [{ x: T, y: T }, Math.ceil(0.05 * AREA) + 50],
        ],
    );
    const strided = await prepareBcss({
        inputDir: bcssDir,
        outDir: path.join(root, "strided"),
        patchSize: T,
        stride: 32,
        minTumourFraction: 0,
        minRoiFraction: 0,
    });
    assert.is(strided.manifest.patches.filter((p) => p.source === names[0]).length, 9);
});

test("flat layout with a label suffix; downscaling", async () => {
    const flat = path.join(root, "flat");
    await writeRegion(path.join(flat, "TCGA-AA-0001-x.png"), path.join(flat, "TCGA-AA-0001-x_mask.png"), 1);
    await writeRegion(path.join(flat, "TCGA-BB-0002-y.png"), path.join(flat, "TCGA-BB-0002-y_mask.png"), 2);
    const r = await prepareBcss({ inputDir: flat, outDir: path.join(root, "flat-out"), patchSize: T });
    assert.is(r.manifest.settings.layout, "flat");
    assert.equal(
        r.manifest.sources.map((s) => s.files),
        [
            { image: "TCGA-AA-0001-x.png", label: "TCGA-AA-0001-x_mask.png" },
            { image: "TCGA-BB-0002-y.png", label: "TCGA-BB-0002-y_mask.png" },
        ],
    );
    const half = await prepareBcss({
        inputDir: flat,
        outDir: path.join(root, "half"),
        patchSize: T,
        scale: 0.5,
        minTumourFraction: 0.01,
        minRoiFraction: 0,
    });
    assert.equal(half.manifest.sources[0]?.details.scaledSize, [64, 64]);
    assert.is(half.manifest.patches.length, 2);
});

test("mismatched sizes, missing labels and short names are clear errors", async () => {
    const bad = path.join(root, "bad");
    await writeRegion(
        path.join(bad, "TCGA-ZZ-0001-a.png"),
        path.join(bad, "TCGA-ZZ-0001-a_mask.png"),
        0,
        new Uint8Array(100 * 100),
        100,
    );
    await expectData(
        prepareBcss({ inputDir: bad, outDir: path.join(root, "bad-out"), patchSize: T }),
        /image .*TCGA-ZZ-0001-a\.png is 128x128 but its label .*TCGA-ZZ-0001-a_mask\.png is 100x100/,
    );
    const missing = path.join(root, "missing");
    await writeRegion(path.join(missing, "TCGA-YY-0001-a.png"), path.join(missing, "TCGA-YY-0001-a_mask.png"), 0);
    await writePng(path.join(missing, "TCGA-YY-0002-b.png"), {
        width: 2 * T,
        height: 2 * T,
        channels: 3,
        data: regionImage(3),
    });
    await expectData(
        prepareBcss({ inputDir: missing, outDir: path.join(root, "missing-out"), patchSize: T }),
        /TCGA-YY-0002-b\.png: label file .*TCGA-YY-0002-b_mask\.png not found/,
    );
    const r = await prepareBcss({
        inputDir: missing,
        outDir: path.join(root, "missing-out"),
        patchSize: T,
        skipIncomplete: true,
    });
    assert.equal(r.manifest.patients, ["TCGA-YY-0001"]);
    assert.match(r.warnings[0] as string, /region skipped/);
    const short = path.join(root, "short");
    await writeRegion(path.join(short, "abc.png"), path.join(short, "abc_mask.png"), 0);
    await expectData(
        prepareBcss({ inputDir: short, outDir: path.join(root, "short-out"), patchSize: T, patientIdLength: 12 }),
        /abc\.png: file name is shorter than the 12-character patient id/,
    );
    const own = await prepareBcss({ inputDir: short, outDir: path.join(root, "short-own"), patchSize: T });
    assert.equal(own.manifest.patients, ["abc"]);
    assert.match(own.warnings[0] as string, /hold no TCGA case id .*its own patient/);
    await expectData(
        prepareBcss({ inputDir: short, outDir: path.join(root, "short-out"), minRoiFraction: 2 }),
        /minRoiFraction must be a number in \[0, 1\]/,
    );
});

test("manifests are byte-identical for the same inputs and seed", async () => {
    const a = await prepareBcss({ inputDir: bcssDir, outDir: path.join(root, "rep-a"), patchSize: T, seed: 9 });
    await prepareBcss({ inputDir: bcssDir, outDir: path.join(root, "rep-b"), patchSize: T, seed: 9 });
    assert.equal(
        readFileSync(path.join(root, "rep-a", "manifest.json")),
        readFileSync(path.join(root, "rep-b", "manifest.json")),
    );
    assert.ok(a.manifest.split.test.length >= 1);
});

test.run();
