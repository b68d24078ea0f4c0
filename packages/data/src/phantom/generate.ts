import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { encodePng } from "@sam-ablate/image-io";
import { DataError } from "../errors.js";
import { writeNifti } from "../nifti/write.js";
import { stageOutputDir } from "../output-dir.js";
import { checkInteger } from "../prepare-common.js";
import { generatePathologyRegion } from "./pathology.js";
import { generateRadiologyCase, PHANTOM_MODALITIES, type PhantomModality } from "./radiology.js";

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
    /**
     * On-disk layout (default "brats2020"): BraTS 2020 case folders, BraTS 2021 names, BraTS 2023
     * names (-t2f/-t1n/-t1c/-t2w, labels 1/2/3), the Decathlon's Task01 (one 4-D file per case, stored
     * R, A, S with the voxels flipped to match, labels 1 oedema / 2 non-enhancing / 3 enhancing) or an
     * nnU-Net raw dataset (_0000.._0003 files, Decathlon labels). The voxels are the same in every layout.
     */
    layout?: RadiologyPhantomLayout;
}

/** Layouts the radiology phantom can be written in. */
export type RadiologyPhantomLayout = "brats2020" | "brats2021" | "brats2023" | "msd" | "nnunet";
export const RADIOLOGY_PHANTOM_LAYOUTS: readonly RadiologyPhantomLayout[] = [
    "brats2020",
    "brats2021",
    "brats2023",
    "msd",
    "nnunet",
];

/** Layouts the pathology phantom can be written in. */
export type PathologyPhantomLayout = "bcss" | "tiles";

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
    /**
     * On-disk layout (default "bcss"): the BCSS release (rgbs_colorNormalized/ + masks/ with label codes),
     * or a tile set as commonly shared (train/ and val/ with images/ + masks/, `<name>_mask.png`, binary 0/255 masks).
     */
    layout?: PathologyPhantomLayout;
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
    const layout = options.layout ?? "brats2020";
    if (!RADIOLOGY_PHANTOM_LAYOUTS.includes(layout)) {
        throw new DataError(
            "ERR_SA_DATA",
            `radiology phantom layout must be one of ${RADIOLOGY_PHANTOM_LAYOUTS.join(", ")}, got ${JSON.stringify(layout)}`,
        );
    }
    const patients: string[] = [];
    const files: string[] = [];
    const flat = layout === "msd" || layout === "nnunet";
    if (flat) {
        await mkdir(path.join(dir, "imagesTr"));
        await mkdir(path.join(dir, "labelsTr"));
    }
    const gz = { compressionLevel: 1 };
    for (let p = 0; p < count; p++) {
        const n = p + 1;
        const id =
            layout === "brats2021"
                ? `BraTS2021_${String(n).padStart(5, "0")}`
                : layout === "brats2023"
                  ? `BraTS-GLI-${String(n).padStart(5, "0")}-000`
                  : flat
                    ? `BRATS_${String(n).padStart(3, "0")}`
                    : `Phantom_${String(n).padStart(3, "0")}`;
        patients.push(id);
        const c = generateRadiologyCase(seed, p, size, slices);
        const pixdim: [number, number, number] = [240 / size, 240 / size, c.sliceSpacing];
        const dims: [number, number, number] = [size, size, slices];
        const write = async (
            rel: string,
            data: ArrayLike<number>,
            datatype: "int16" | "uint8",
            what: string,
            extra = {},
        ) => {
            files.push(rel);
            await writeNifti(
                path.join(dir, rel),
                { dims, data, datatype, pixdim, description: `sam-ablate phantom ${what}`, ...extra },
                gz,
            );
        };
        if (layout === "brats2020" || layout === "brats2021" || layout === "brats2023") {
            await mkdir(path.join(dir, id));
            const sep = layout === "brats2023" ? "-" : "_";
            const names: Record<PhantomModality, string> =
                layout === "brats2023"
                    ? { flair: "t2f", t1: "t1n", t1ce: "t1c", t2: "t2w" }
                    : { flair: "flair", t1: "t1", t1ce: "t1ce", t2: "t2" };
            await Promise.all(
                PHANTOM_MODALITIES.map((m) => write(`${id}/${id}${sep}${names[m]}.nii.gz`, c.volumes[m], "int16", m)),
            );
            const seg = layout === "brats2023" ? remap(c.seg, [0, 1, 2, 3, 3]) : c.seg;
            await write(`${id}/${id}${sep}seg.nii.gz`, seg, "uint8", "labels");
        } else if (layout === "nnunet") {
            await Promise.all(
                PHANTOM_MODALITIES.map((m, i) =>
                    write(`imagesTr/${id}_${String(i).padStart(4, "0")}.nii.gz`, c.volumes[m], "int16", m),
                ),
            );
            await write(`labelsTr/${id}.nii.gz`, remap(c.seg, MSD_LABELS), "uint8", "labels");
        } else {
            // Decathlon: one 4-D file, stored R, A, S: the voxels flipped along x and y so that the
            // canonical orientation gives back the same slices as the BraTS layouts.
            const n3 = size * size * slices;
            const stack = new Int16Array(n3 * PHANTOM_MODALITIES.length);
            for (const [i, m] of PHANTOM_MODALITIES.entries()) stack.set(flipXY(c.volumes[m], size, slices), i * n3);
            const ras: [number[], number[], number[]] = [
                [pixdim[0], 0, 0, -(size - 1) * pixdim[0]],
                [0, pixdim[1], 0, -(size - 1) * pixdim[1]],
                [0, 0, pixdim[2], 0],
            ];
            files.push(`imagesTr/${id}.nii.gz`);
            await writeNifti(
                path.join(dir, "imagesTr", `${id}.nii.gz`),
                {
                    dims: [size, size, slices, PHANTOM_MODALITIES.length],
                    data: stack,
                    datatype: "int16",
                    pixdim,
                    geometry: ras,
                    description: "sam-ablate phantom FLAIR/T1w/T1gd/T2w",
                },
                gz,
            );
            await write(`labelsTr/${id}.nii.gz`, flipXY(remap(c.seg, MSD_LABELS), size, slices), "uint8", "labels", {
                geometry: ras,
            });
        }
    }
    if (flat) {
        const labels =
            layout === "msd"
                ? { labels: { "0": "background", "1": "edema", "2": "non-enhancing tumor", "3": "enhancing tumour" } }
                : { labels: { background: 0, edema: 1, "non-enhancing tumor": 2, "enhancing tumour": 3 } };
        const channels =
            layout === "msd"
                ? { modality: { "0": "FLAIR", "1": "T1w", "2": "t1gd", "3": "T2w" } }
                : { channel_names: { "0": "FLAIR", "1": "T1", "2": "T1ce", "3": "T2" }, file_ending: ".nii.gz" };
        await writeFile(
            path.join(dir, "dataset.json"),
            `${JSON.stringify({ name: "sam-ablate phantom brain tumours", ...channels, ...labels, numTraining: count }, null, 2)}\n`,
        );
        files.push("dataset.json");
    }
    await writeDescriptor(dir, {
        kind: "radiology",
        layout,
        seed,
        patients: count,
        slices,
        size,
        modalities: [...PHANTOM_MODALITIES],
    });
    return { kind: "radiology", patients, files: files.sort() };
}

/** BraTS 2020 labels (0, 1 necrosis/non-enhancing, 2 oedema, 4 enhancing) -> Decathlon's (1 oedema, 2 non-enhancing, 3 enhancing). */
const MSD_LABELS = [0, 2, 1, 3, 3];

function remap(seg: Uint8Array, table: readonly number[]): Uint8Array {
    return seg.map((v) => table[v] as number);
}

function flipXY<T extends Int16Array | Uint8Array>(v: T, size: number, slices: number): T {
    const out = new (v.constructor as new (n: number) => T)(v.length);
    for (let z = 0; z < slices; z++)
        for (let y = 0; y < size; y++)
            for (let x = 0; x < size; x++)
                out[x + size * (y + size * z)] = v[size - 1 - x + size * (size - 1 - y + size * z)] as number;
    return out;
}

async function writePathology(
    dir: string,
    options: PathologyPhantomOptions,
    seed: number,
    count: number,
): Promise<Omit<PhantomResult, "outDir">> {
    const regions = checkInteger("regions", options.regions ?? 2, 1, 100);
    const size = checkInteger("regionSize", options.regionSize ?? 768, 64, 8192);
    const layout = options.layout ?? "bcss";
    if (layout === "tiles") return writeTiles(dir, seed, count, regions, size);
    if (layout !== "bcss") {
        throw new DataError(
            "ERR_SA_DATA",
            `pathology phantom layout must be "bcss" or "tiles", got ${JSON.stringify(layout)}`,
        );
    }
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

/**
 * A tile set as commonly shared: train/ (the first 3 of every 4 patients) and val/, each with images/
 * and masks/, the mask of `<name>.png` named `<name>_mask.png` and binary (255 tumour, 0 the rest);
 * names carry the TCGA barcode inside (`tile_TCGA-PH-0001-01Z-00-DX1_r0.png`).
 */
async function writeTiles(
    dir: string,
    seed: number,
    count: number,
    regions: number,
    size: number,
): Promise<Omit<PhantomResult, "outDir">> {
    const patients: string[] = [];
    const files: string[] = [];
    for (const split of ["train", "val"]) {
        await mkdir(path.join(dir, split, "images"), { recursive: true });
        await mkdir(path.join(dir, split, "masks"), { recursive: true });
    }
    for (let p = 0; p < count; p++) {
        const patient = `TCGA-PH-${String(p + 1).padStart(4, "0")}`;
        patients.push(patient);
        const split = p % 4 === 3 ? "val" : "train";
        for (let r = 0; r < regions; r++) {
            const region = generatePathologyRegion(seed, p, r, size, size);
            const stem = `tile_${patient}-01Z-00-DX1_r${r}`;
            const mask = region.label.map((v) => (v === 1 ? 255 : 0));
            const [rgbPng, maskPng] = await Promise.all([
                encodePng({ width: size, height: size, channels: 3, data: region.rgb }),
                encodePng({ width: size, height: size, channels: 1, data: mask }),
            ]);
            await writeFile(path.join(dir, split, "images", `${stem}.png`), rgbPng);
            await writeFile(path.join(dir, split, "masks", `${stem}_mask.png`), maskPng);
            files.push(`${split}/images/${stem}.png`, `${split}/masks/${stem}_mask.png`);
        }
    }
    await writeDescriptor(dir, {
        kind: "pathology",
        layout: "tiles",
        seed,
        patients: count,
        regions,
        regionSize: size,
    });
    return { kind: "pathology", patients, files: files.sort() };
}

async function writeDescriptor(dir: string, content: Record<string, unknown>): Promise<void> {
    const descriptor = { generator: "sam-ablate synthetic phantom", ...content };
    await writeFile(path.join(dir, PHANTOM_DESCRIPTOR), `${JSON.stringify(descriptor, null, 2)}\n`);
}
