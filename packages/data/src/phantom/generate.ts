import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { encodePng } from "@sam-ablate/image-io";
import { DataError } from "../errors.js";
import { writeNifti } from "../nifti/write.js";
import { stageOutputDir } from "../output-dir.js";
import { checkInteger } from "../prepare-common.js";
import { generatePathologyRegion } from "./pathology.js";
import { generateRadiologyCase, PHANTOM_MODALITIES } from "./radiology.js";

/** Descriptor file written at the top of a phantom folder. */
export const PHANTOM_DESCRIPTOR = "phantom.json";

/** Options of the MRI-like phantom (written in the BraTS layout). */
export interface RadiologyPhantomOptions {
    kind: "radiology";
    outDir: string;
    /** Patients (default 8). */
    patients?: number;
    /** Axial slices per volume (default 40). */
    slices?: number;
    /** In-plane size (default 240, as BraTS). */
    size?: number;
    seed?: number;
    /** Replace an existing phantom folder (default false). */
    overwrite?: boolean;
}

/** Options of the H&E-like phantom (written in the BCSS layout). */
export interface PathologyPhantomOptions {
    kind: "pathology";
    outDir: string;
    /** Patients (default 8). */
    patients?: number;
    /** Regions per patient (default 2). */
    regions?: number;
    /** Region side in pixels (default 768: 3 x 3 tiles of 256). */
    regionSize?: number;
    seed?: number;
    /** Replace an existing phantom folder (default false). */
    overwrite?: boolean;
}

/** Options of generatePhantoms. */
export type PhantomOptions = RadiologyPhantomOptions | PathologyPhantomOptions;

/** What generatePhantoms wrote. */
export interface PhantomResult {
    kind: "radiology" | "pathology";
    outDir: string;
    patients: string[];
    /** Files written, relative to outDir, sorted. */
    files: string[];
}

/**
 * Writes a deterministic synthetic dataset in the on-disk format of the real one, so the real
 * readers run on it: radiology as BraTS patient folders (`Phantom_001/Phantom_001_flair.nii.gz`,
 * `_t1`, `_t1ce`, `_t2` int16 and `_seg` uint8 with labels 0/1/2/4); pathology in the BCSS layout
 * (`rgbs_colorNormalized/TCGA-PH-0001-DX1_xmin…_ymin…_MPP-0.2500.png` with the same name in `masks/`).
 * The same options and seed always give byte-identical files. The folder is written atomically.
 */
export async function generatePhantoms(options: PhantomOptions): Promise<PhantomResult> {
    const seed = options.seed ?? 0;
    if (!Number.isSafeInteger(seed)) throw new DataError("ERR_SA_DATA", `seed must be an integer, got ${seed}`);
    const patients = checkInteger("patients", options.patients ?? 8, 1, 9999);
    const stage = await stageOutputDir(
        options.outDir,
        options.overwrite ?? false,
        (entries) => entries.includes(PHANTOM_DESCRIPTOR),
        "phantom dataset",
    );
    try {
        const result =
            options.kind === "radiology"
                ? await writeRadiology(stage.staging, options, seed, patients)
                : options.kind === "pathology"
                  ? await writePathology(stage.staging, options, seed, patients)
                  : failKind(options);
        await stage.commit();
        return { ...result, outDir: path.resolve(options.outDir) };
    } catch (err) {
        await stage.abort();
        throw err;
    }
}

function failKind(options: never): never {
    throw new DataError(
        "ERR_SA_DATA",
        `phantom kind must be "radiology" or "pathology", got ${JSON.stringify((options as { kind: unknown }).kind)}`,
    );
}

async function writeRadiology(
    dir: string,
    options: RadiologyPhantomOptions,
    seed: number,
    count: number,
): Promise<Omit<PhantomResult, "outDir">> {
    const slices = checkInteger("slices", options.slices ?? 40, 4, 1000);
    const size = checkInteger("size", options.size ?? 240, 64, 1024);
    const patients: string[] = [];
    const files: string[] = [];
    for (let p = 0; p < count; p++) {
        const id = `Phantom_${String(p + 1).padStart(3, "0")}`;
        patients.push(id);
        await mkdir(path.join(dir, id));
        const c = generateRadiologyCase(seed, p, size, slices);
        const pixdim: [number, number, number] = [240 / size, 240 / size, c.sliceSpacing];
        const dims: [number, number, number] = [size, size, slices];
        const writes = PHANTOM_MODALITIES.map((m) => {
            const rel = `${id}/${id}_${m}.nii.gz`;
            files.push(rel);
            return writeNifti(
                path.join(dir, rel),
                { dims, data: c.volumes[m], datatype: "int16", pixdim, description: `sam-ablate phantom ${m}` },
                { compressionLevel: 1 },
            );
        });
        const segRel = `${id}/${id}_seg.nii.gz`;
        files.push(segRel);
        writes.push(
            writeNifti(
                path.join(dir, segRel),
                { dims, data: c.seg, datatype: "uint8", pixdim, description: "sam-ablate phantom labels" },
                { compressionLevel: 1 },
            ),
        );
        await Promise.all(writes);
    }
    await writeDescriptor(dir, {
        kind: "radiology",
        layout: "brats",
        seed,
        patients: count,
        slices,
        size,
        modalities: [...PHANTOM_MODALITIES],
    });
    return { kind: "radiology", patients, files: files.sort() };
}

async function writePathology(
    dir: string,
    options: PathologyPhantomOptions,
    seed: number,
    count: number,
): Promise<Omit<PhantomResult, "outDir">> {
    const regions = checkInteger("regions", options.regions ?? 2, 1, 100);
    const size = checkInteger("regionSize", options.regionSize ?? 768, 64, 8192);
    await mkdir(path.join(dir, "rgbs_colorNormalized"));
    await mkdir(path.join(dir, "masks"));
    const patients: string[] = [];
    const files: string[] = [];
    for (let p = 0; p < count; p++) {
        const patient = `TCGA-PH-${String(p + 1).padStart(4, "0")}`;
        patients.push(patient);
        for (let r = 0; r < regions; r++) {
            const region = generatePathologyRegion(seed, p, r, size, size);
            const name = `${patient}-DX1_xmin${(r + 1) * 10000 + p * 37}_ymin${(r + 2) * 8000 + p * 53}_MPP-0.2500.png`;
            const [rgbPng, labelPng] = await Promise.all([
                encodePng({ width: size, height: size, channels: 3, data: region.rgb }),
                encodePng({ width: size, height: size, channels: 1, data: region.label }),
            ]);
            await writeFile(path.join(dir, "rgbs_colorNormalized", name), rgbPng);
            await writeFile(path.join(dir, "masks", name), labelPng);
            files.push(`rgbs_colorNormalized/${name}`, `masks/${name}`);
        }
    }
    await writeDescriptor(dir, { kind: "pathology", layout: "bcss", seed, patients: count, regions, regionSize: size });
    return { kind: "pathology", patients, files: files.sort() };
}

async function writeDescriptor(dir: string, content: Record<string, unknown>): Promise<void> {
    const descriptor = { generator: "sam-ablate synthetic phantom", ...content };
    await writeFile(path.join(dir, PHANTOM_DESCRIPTOR), `${JSON.stringify(descriptor, null, 2)}\n`);
}
