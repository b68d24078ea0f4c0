import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { generatePhantoms, prepareBcss, prepareBrats, readNifti } from "@sam-ablate/data";
import { readImage, readLabelImage } from "@sam-ablate/image-io";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { scratchDir } from "../helpers/scratch.js";

const root = scratchDir("sa-phantom-");

/** SHA-256 of every file under a folder, by relative path. */
function digestTree(dir: string): Record<string, string> {
    const out: Record<string, string> = {};
    const walk = (d: string) => {
        for (const name of readdirSync(d).sort()) {
            const p = path.join(d, name);
            if (statSync(p).isDirectory()) walk(p);
            else out[path.relative(dir, p)] = createHash("sha256").update(readFileSync(p)).digest("hex");
        }
    };
    walk(dir);
    return out;
}

const rad = { kind: "radiology", patients: 2, slices: 10, size: 64 } as const;
const path2 = { kind: "pathology", patients: 3, regions: 1, regionSize: 256 } as const;

/**
 * Three phantom sets `name`-a, -b, -c: a and b with `seed`, c with `seed + 1`. Returns a's result and
 * the digests of the three; a and b must be the same files.
 */
async function threeSets(options: typeof rad | typeof path2, name: string, seed: number) {
    const outDir = (x: string) => path.join(root, `${name}-${x}`);
    const a = await generatePhantoms({ ...options, outDir: outDir("a"), seed });
    await generatePhantoms({ ...options, outDir: outDir("b"), seed });
    await generatePhantoms({ ...options, outDir: outDir("c"), seed: seed + 1 });
    const [da, db, dc] = ["a", "b", "c"].map((x) => digestTree(outDir(x))) as Record<string, string>[];
    assert.equal(da, db);
    return { a, da: da as Record<string, string>, dc: dc as Record<string, string> };
}

test("radiology phantoms are deterministic, seed-dependent and in the BraTS layout", async () => {
    const { a, da, dc } = await threeSets(rad, "rad", 4);
    assert.is.not(da["Phantom_001/Phantom_001_flair.nii.gz"], dc["Phantom_001/Phantom_001_flair.nii.gz"]);
    assert.equal(a.patients, ["Phantom_001", "Phantom_002"]);
    assert.ok(a.files.includes("Phantom_002/Phantom_002_t1ce.nii.gz"));

    const flair = await readNifti(path.join(a.outDir, "Phantom_001", "Phantom_001_flair.nii.gz"));
    const seg = await readNifti(path.join(a.outDir, "Phantom_001", "Phantom_001_seg.nii.gz"));
    assert.equal(flair.dims, [64, 64, 10]);
    assert.is(flair.datatype, "int16");
    assert.is(seg.datatype, "uint8");
    assert.is(flair.data[0], 0, "background is zero");
    const labels = new Set(seg.data);
    assert.ok(
        [...labels].every((v) => [0, 1, 2, 4].includes(v)),
        `labels ${[...labels]}`,
    );
    assert.ok(labels.has(2), "an oedema label is present");
    // Oedema is brighter than the mean brain signal in FLAIR.
    let edema = 0;
    let edemaN = 0;
    let brain = 0;
    let brainN = 0;
    seg.data.forEach((v, i) => {
        const f = flair.data[i] as number;
        if (v === 2) {
            edema += f;
            edemaN++;
        } else if (f > 0) {
            brain += f;
            brainN++;
        }
    });
    assert.ok(edema / edemaN > (1.3 * brain) / brainN, "oedema is hyperintense in FLAIR");
    // Tumour is present in some slices only.
    const perSlice = Array.from({ length: 10 }, (_, z) =>
        seg.data.subarray(z * 64 * 64, (z + 1) * 64 * 64).reduce((n, v) => n + (v > 0 ? 1 : 0), 0),
    );
    assert.ok(perSlice.some((n) => n === 0) && perSlice.some((n) => n > 0), `tumour area per slice ${perSlice}`);

    const prepared = await prepareBrats({
        inputDir: a.outDir,
        outDir: path.join(root, "rad-prepared"),
        minTumourPixels: 20,
    });
    assert.ok(prepared.manifest.patches.length > 0);
    assert.equal(
        prepared.manifest.patients,
        ["Phantom_001", "Phantom_002"].filter((p) => prepared.manifest.patches.some((x) => x.patient === p)),
    );
});

test("pathology phantoms are deterministic and in the BCSS layout with TCGA names", async () => {
    const { a, da, dc } = await threeSets(path2, "path", 1);
    assert.ok(Object.keys(da).some((k) => k.endsWith(".png") && da[k] !== dc[k]));
    assert.equal(a.patients, ["TCGA-PH-0001", "TCGA-PH-0002", "TCGA-PH-0003"]);
    const name = a.files.find((f) => f.startsWith("masks/")) as string;
    const label = await readLabelImage(path.join(a.outDir, name));
    const image = await readImage(path.join(a.outDir, name.replace("masks/", "rgbs_colorNormalized/")));
    assert.equal([image.width, image.height, image.channels], [256, 256, 3]);
    assert.ok(
        label.data.every((v) => v <= 4),
        "codes 0-4",
    );
    assert.ok(new Set(label.data).has(1) && new Set(label.data).has(2), "tumour and stroma are present");
    // Tumour is darker (more haematoxylin) than stroma on average.
    const mean = (code: number) => {
        let s = 0;
        let n = 0;
        label.data.forEach((v, i) => {
            if (v === code) {
                s +=
                    (image.data[3 * i] as number) +
                    (image.data[3 * i + 1] as number) +
                    (image.data[3 * i + 2] as number);
                n++;
            }
        });
        return s / n;
    };
    assert.ok(mean(1) < mean(2), "tumour is darker than stroma");

    const prepared = await prepareBcss({
        inputDir: a.outDir,
        outDir: path.join(root, "path-prepared"),
        patchSize: 128,
    });
    assert.ok(prepared.manifest.patches.length > 0);
    assert.equal(prepared.warnings, []);
});

test("phantom options are validated and existing folders protected", async () => {
    try {
        await generatePhantoms({
            kind: "radiology",
            outDir: path.join(root, "rad-a"),
            patients: 1,
            slices: 4,
            size: 64,
        });
        assert.unreachable("expected an error");
    } catch (err) {
        assert.match((err as Error).message, /output folder is not empty; pass overwrite/);
    }
    const again = await generatePhantoms({
        kind: "radiology",
        outDir: path.join(root, "rad-a"),
        patients: 1,
        slices: 4,
        size: 64,
        overwrite: true,
    });
    assert.equal(again.files.length, 5);
    try {
        await generatePhantoms({ kind: "pathology", outDir: path.join(root, "p-bad"), regions: 0 });
        assert.unreachable("expected an error");
    } catch (err) {
        assert.is((err as { code?: string }).code, "ERR_SA_DATA");
        assert.match((err as Error).message, /regions must be an integer in \[1, 100\], got 0/);
    }
});

test.run();
