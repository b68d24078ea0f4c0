// Radiology layouts as distributed (BraTS 2020/2021/2023, Decathlon 4-D, nnU-Net raw, explicit
// patterns) prepare without renaming a file and give the same patches; z-scored input matches raw
// input; grids, labels and detection failures are clear errors.
import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import {
    type DatasetManifest,
    generatePhantoms,
    loadDataset,
    prepareBrats,
    type RadiologyPhantomLayout,
    readNifti,
    writeNifti,
} from "@sam-ablate/data";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { expectRejectsCode } from "../helpers/expect-code.js";
import { scratchDir } from "../helpers/scratch.js";

const root = scratchDir("sa-layouts-");

const PHANTOM = { kind: "radiology", patients: 2, slices: 12, size: 64, seed: 3 } as const;
const COMMON = { minTumourPixels: 20, patchSize: 64 } as const;
/** prepareBrats with COMMON from the folder `input` of root into its folder `out`. */
const prepareIn = (input: string, out: string, more: Partial<Parameters<typeof prepareBrats>[0]> = {}) =>
    prepareBrats({ ...COMMON, inputDir: path.join(root, input), outDir: path.join(root, out), ...more });

const expectCode = (p: Promise<unknown>, pattern: RegExp, code = "ERR_SA_DATA") => expectRejectsCode(p, code, pattern);

const digests = (m: DatasetManifest) =>
    m.patches.map((p) => `${p.position && "z" in p.position ? p.position.z : -1}:${p.sha256}`).sort();

/** The intensity record of the first volume of the first source. */
function intensityOf(m: DatasetManifest): Record<string, unknown> {
    const list = (m.sources[0]?.details.intensity ?? []) as Record<string, unknown>[];
    return list[0] ?? {};
}

const layouts: RadiologyPhantomLayout[] = ["brats2020", "brats2021", "brats2023", "msd", "nnunet"];
const prepared = new Map<string, DatasetManifest>();

test("every layout is detected, named in the manifest and gives the same patches (wt, tc, et)", async () => {
    for (const layout of layouts) {
        const raw = path.join(root, `raw-${layout}`);
        await generatePhantoms({ ...PHANTOM, outDir: raw, layout });
        for (const region of ["wt", "tc", "et"] as const) {
            const { manifest } = await prepareBrats({
                ...COMMON,
                inputDir: raw,
                outDir: path.join(root, `out-${layout}-${region}`),
                region,
            });
            assert.is(manifest.settings.layout, layout);
            assert.is(manifest.settings.region, region);
            prepared.set(`${layout}/${region}`, manifest);
        }
    }
    for (const region of ["wt", "tc", "et"]) {
        const ref = prepared.get(`brats2020/${region}`) as DatasetManifest;
        assert.ok(ref.patches.length > 0, `no ${region} patches`);
        for (const layout of layouts.slice(1)) {
            assert.equal(
                digests(prepared.get(`${layout}/${region}`) as DatasetManifest),
                digests(ref),
                `${layout} ${region}`,
            );
        }
    }
    const conventions = Object.fromEntries(layouts.map((l) => [l, prepared.get(`${l}/wt`)?.settings.labelConvention]));
    assert.equal(conventions, { brats2020: "2020", brats2021: "2020", brats2023: "2023", msd: "msd", nnunet: "msd" });
    const b23 = prepared.get("brats2023/wt") as DatasetManifest;
    assert.is(b23.settings.variant, "GLI");
    assert.ok(
        b23.patients.every((p) => /^BraTS-GLI-\d{5}$/.test(p)),
        b23.patients.join(","),
    );
    const msd = prepared.get("msd/wt") as DatasetManifest;
    assert.is(msd.sources[0]?.details.storedOrientation, "RAS");
    assert.is(prepared.get("brats2020/wt")?.sources[0]?.details.storedOrientation, "LPS");
});

test("BraTS 2023 names and Decathlon channel names choose the modality", async () => {
    const ref = await prepareIn("raw-brats2020", "t1-ref", { modality: "t1ce" });
    for (const [layout, name] of [
        ["brats2023", "t1c"],
        ["msd", "T1gd"],
        ["nnunet", "t1ce"],
    ] as const) {
        const r = await prepareIn(`raw-${layout}`, `t1-${layout}`, { modality: name });
        assert.equal(digests(r.manifest), digests(ref.manifest), layout);
    }
});

test("explicit patterns with {case} and folder globs, and --channel for 4-D files", async () => {
    const r = await prepareIn("raw-brats2020", "custom", {
        imagePattern: "*/{case}_flair.nii.gz",
        labelPattern: "{case}/{case}_seg.nii.gz",
    });
    assert.is(r.manifest.settings.layout, "custom");
    const plain = await prepareIn("raw-brats2020", "plain");
    assert.equal(digests(r.manifest), digests(plain.manifest));
    const msd = { imagePattern: "imagesTr/{case}.nii.gz", labelPattern: "labelsTr/{case}.nii.gz" };
    const four = await prepareIn("raw-msd", "custom-4d", { ...msd, channel: [0] });
    assert.equal(digests(four.manifest), digests(plain.manifest));
    await expectCode(prepareIn("raw-msd", "x", msd), /4-D volume with 4 channels; choose one/);
});

test("a folder of no known layout says what was looked for and what was found", async () => {
    const odd = path.join(root, "odd");
    mkdirSync(path.join(odd, "scans"), { recursive: true });
    await writeNifti(path.join(odd, "scans", "brain.nii"), {
        dims: [4, 4, 4],
        data: new Uint8Array(64),
        datatype: "uint8",
    });
    const msg = await expectCode(
        prepareBrats({ inputDir: odd, outDir: path.join(root, "x") }),
        /no known radiology layout/,
    );
    assert.match(msg, /Looked for: BraTS 2020\/2021/);
    assert.match(msg, /imagesTr/);
    assert.match(msg, /Found: scans; scans\/ holds brain\.nii/);
    assert.match(msg, /--image-pattern/);
});

test("z-scored input gives the patches of the raw input within one grey level", async () => {
    const src = path.join(root, "raw-brats2020");
    const z = path.join(root, "zscored");
    for (const background of [0, -3]) {
        const dir = `${z}${background}`;
        for (const id of ["Phantom_001", "Phantom_002"]) {
            mkdirSync(path.join(dir, id), { recursive: true });
            const v = await readNifti(path.join(src, id, `${id}_flair.nii.gz`));
            let sum = 0;
            let sq = 0;
            let n = 0;
            for (const x of v.data) {
                if (x <= 0) continue;
                sum += x;
                sq += x * x;
                n++;
            }
            const mean = sum / n;
            const sd = Math.sqrt(sq / n - mean * mean);
            const data = v.data.map((x) => (x > 0 ? (x - mean) / sd : background));
            await writeNifti(path.join(dir, id, `${id}_flair.nii.gz`), {
                dims: v.dims,
                data,
                datatype: "float32",
                pixdim: v.pixdim,
            });
            const seg = await readNifti(path.join(src, id, `${id}_seg.nii.gz`));
            await writeNifti(path.join(dir, id, `${id}_seg.nii.gz`), {
                dims: seg.dims,
                data: seg.data,
                datatype: "float32",
                pixdim: seg.pixdim,
            });
        }
        const out = path.join(root, `zs-out${background}`);
        const warnings: string[] = [];
        const r = await prepareBrats({ ...COMMON, inputDir: dir, outDir: out, onWarning: (m) => warnings.push(m) });
        const detail = intensityOf(r.manifest);
        assert.is(detail.detected, "normalised");
        assert.is(detail.reference, "foreground");
        assert.is(detail.background, background);
        const rawOut = path.join(root, "zs-raw");
        const raw = await prepareBrats({ ...COMMON, inputDir: src, outDir: rawOut, overwrite: true });
        assert.is(intensityOf(raw.manifest).reference, "positive");
        const a = await loadDataset(rawOut);
        const b = await loadDataset(out);
        assert.equal(
            b.manifest.patches.map((p) => p.id),
            a.manifest.patches.map((p) => p.id),
        );
        let worst = 0;
        for (const p of a.manifest.patches) {
            const pa = await a.read(p.id);
            const pb = await b.read(p.id);
            assert.equal(pb.mask, pa.mask);
            for (let i = 0; i < pa.image.length; i++)
                worst = Math.max(worst, Math.abs((pa.image[i] as number) - (pb.image[i] as number)));
        }
        assert.ok(worst <= 1, `background ${background}: patches differ by ${worst} grey levels`);
        // Forcing MedSAM's positive-voxel rule on z-scored data drops half the brain: a warning says so.
        const forced: string[] = [];
        await prepareBrats({
            ...COMMON,
            inputDir: dir,
            outDir: path.join(root, `zs-forced${background}`),
            intensityReference: "positive",
            onWarning: (m) => forced.push(m),
        });
        assert.ok(
            forced.some((m) => /positive-voxel window leaves out \d+\.\d% of the non-background voxels/.test(m)),
            forced.join("\n"),
        );
    }
});

/**
 * Case_001 under root/`name`: a 16 x 16 x 4 int16 FLAIR of fives and the label volume `seg` (with
 * `geometry` when given; the FLAIR has none). Returns the folder and a function that rewrites the label.
 */
async function oneCase(name: string, seg: Uint8Array | Float32Array, geometry?: number[][]) {
    const dir = path.join(root, name);
    const caseDir = path.join(dir, "Case_001");
    mkdirSync(caseDir, { recursive: true });
    const dims: [number, number, number] = [16, 16, 4];
    const data = new Int16Array(16 * 16 * 4).fill(5);
    await writeNifti(path.join(caseDir, "Case_001_flair.nii.gz"), { dims, data, datatype: "int16" });
    const datatype = seg instanceof Float32Array ? "float32" : "uint8";
    const writeSeg = () =>
        writeNifti(path.join(caseDir, "Case_001_seg.nii.gz"), {
            dims,
            data: seg,
            datatype,
            ...(geometry ? { geometry: geometry as [number[], number[], number[]] } : {}),
        });
    await writeSeg();
    return { dir, writeSeg };
}

test("image and label on different grids: an error naming both", async () => {
    const geometry = [
        [-1, 0, 0, 0],
        [0, -1, 0, 12.5],
        [0, 0, 1, 0],
    ];
    const { dir } = await oneCase("grid", new Uint8Array(16 * 16 * 4), geometry);
    await expectCode(
        prepareBrats({ inputDir: dir, outDir: path.join(root, "x") }),
        /image .*Case_001_flair\.nii\.gz and label .*Case_001_seg\.nii\.gz are on different grids/,
    );
});

test("float labels are accepted when integral; the first fractional voxel is named", async () => {
    const seg = new Float32Array(16 * 16 * 4);
    for (let i = 0; i < 120; i++) seg[16 * 16 + i] = 2;
    const { dir, writeSeg } = await oneCase("floatlab", seg);
    const ok = await prepareBrats({ inputDir: dir, outDir: path.join(root, "fl-ok"), patchSize: 16 });
    assert.is(ok.manifest.patches.length, 1);
    seg[16 * 16 * 2 + 16 * 3 + 5] = 1.5;
    await writeSeg();
    await expectCode(
        prepareBrats({ inputDir: dir, outDir: path.join(root, "fl-bad"), patchSize: 16 }),
        /Case_001_seg\.nii\.gz: label 1\.5 at voxel \(5, 3, 2\) is not an integer/,
    );
});

test("tumour labels and regions are validated", async () => {
    const input = path.join(root, "raw-brats2020");
    await expectCode(
        prepareBrats({ inputDir: input, outDir: path.join(root, "x"), region: "xx" as never }),
        /region must be one of wt, tc, et/,
    );
    await expectCode(
        prepareBrats({ inputDir: input, outDir: path.join(root, "x"), region: "wt", tumourLabels: [1] }),
        /either tumourLabels or region/,
    );
    await expectCode(
        prepareBrats({ inputDir: input, outDir: path.join(root, "x"), intensityReference: "median" as never }),
        /intensityReference must be one of/,
    );
    const manifest = JSON.parse(
        readFileSync(path.join(root, "out-brats2020-tc", "manifest.json"), "utf8"),
    ) as DatasetManifest;
    assert.equal(manifest.settings.tumourLabels, [1, 4]);
});

test.run();
