import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { DataError, errorText } from "./errors.js";
import { DEFAULT_MR_INTENSITY, type MrIntensityOptions, normaliseMr } from "./intensity.js";
import type { JsonValue, SourceEntry } from "./manifest.js";
import { readNifti } from "./nifti/read.js";
import type { NiftiVolume } from "./nifti/types.js";
import {
    checkInteger,
    type PrepareCommonOptions,
    type PrepareContext,
    type PreparedSource,
    type PrepareResult,
    prepareSources,
    relativeSource,
    runPreparation,
    safeId,
    splitSettings,
    type UnsplitPatch,
} from "./prepare-common.js";

/** File-name templates of BraTS 2020: `{case}` is the patient folder's name. */
export const BRATS_DEFAULT_PATTERNS: Readonly<Record<string, string>> = {
    flair: "{case}_flair",
    t1: "{case}_t1",
    t1ce: "{case}_t1ce",
    t2: "{case}_t2",
    seg: "{case}_seg",
};

/** How 240x240 slices are placed in the larger patch. */
export type PaddingMode = "symmetric" | "end";

/** Options of prepareBrats. */
export interface BratsOptions extends PrepareCommonOptions {
    /** Folder of patient folders (BraTS 2020: BraTS20_Training_001/ ...). */
    inputDir: string;
    /**
     * Modality copied to the 3 channels (default "flair"), or three modality names, one per channel.
     */
    modality?: string | [string, string, string];
    /**
     * File-name templates by modality and "seg" (merged over BRATS_DEFAULT_PATTERNS). A template
     * without extension matches `.nii.gz`, then `.nii`; one ending in .nii or .nii.gz matches exactly.
     */
    patterns?: Record<string, string>;
    /** Label values that count as tumour, or "nonzero" for whole tumour (default: every label > 0). */
    tumourLabels?: number[] | "nonzero";
    /** Minimum tumour pixels for an axial slice to become a patch (default 100). */
    minTumourPixels?: number;
    /** Percentile window of the per-volume intensity normalisation (default 0.5 / 99.5). */
    intensity?: Partial<MrIntensityOptions>;
    /** "symmetric" centres the slice (240 -> 8 px each side, default); "end" pads bottom and right. */
    padding?: PaddingMode;
    /** Patch side (default 256); slices larger than this are an error. */
    patchSize?: number;
    /** Skip patient folders with a missing file (with a warning) instead of failing (default false). */
    skipIncomplete?: boolean;
}

/** Orientation statement written into BraTS manifests. */
export const BRATS_ORIENTATION =
    "patch column = first NIfTI voxel index (i, x), patch row = second voxel index (j, y), one patch per third index (k, z, axial); " +
    "no flips or rotations (the array layout of SimpleITK's GetArrayFromImage(img)[k], as MedSAM uses); the slice is padded with zeros into the patch";

interface CaseFiles {
    id: string;
    dir: string;
    images: string[];
    label: string;
}

/**
 * Prepares BraTS patches: for every patient folder, the axial slices whose tumour area reaches
 * minTumourPixels become 256x256 RGB patches (MedSAM MR normalisation of the chosen modality,
 * copied to 3 channels, zero-padded) with binary tumour masks; patients are split 80:20.
 */
export async function prepareBrats(options: BratsOptions): Promise<PrepareResult> {
    const patchSize = checkInteger("patchSize", options.patchSize ?? 256, 1, 8192);
    const minTumourPixels = checkInteger("minTumourPixels", options.minTumourPixels ?? 100, 1);
    const modalities = resolveModalities(options.modality ?? "flair");
    const patterns: Record<string, string> = { ...BRATS_DEFAULT_PATTERNS, ...(options.patterns ?? {}) };
    for (const m of [...new Set(modalities), "seg"]) {
        const p = patterns[m];
        if (typeof p !== "string" || !p.includes("{case}")) {
            throw new DataError(
                "ERR_SA_DATA",
                `pattern for '${m}' must be a string containing {case}, got ${JSON.stringify(p)}`,
            );
        }
    }
    const tumourLabels = options.tumourLabels ?? "nonzero";
    if (
        tumourLabels !== "nonzero" &&
        (!Array.isArray(tumourLabels) || tumourLabels.length === 0 || !tumourLabels.every(Number.isInteger))
    ) {
        throw new DataError(
            "ERR_SA_DATA",
            `tumourLabels must be "nonzero" or a non-empty list of integers, got ${JSON.stringify(tumourLabels)}`,
        );
    }
    const intensity: MrIntensityOptions = { ...DEFAULT_MR_INTENSITY, ...(options.intensity ?? {}) };
    const padding = options.padding ?? "symmetric";
    if (padding !== "symmetric" && padding !== "end")
        throw new DataError("ERR_SA_DATA", `padding must be "symmetric" or "end", got ${JSON.stringify(padding)}`);
    const skipIncomplete = options.skipIncomplete ?? false;
    const inputDir = path.resolve(options.inputDir);

    const settings: Record<string, JsonValue> = {
        modalities,
        patterns: Object.fromEntries([...new Set(modalities), "seg"].map((m) => [m, patterns[m] as string])),
        tumourLabels: tumourLabels === "nonzero" ? "nonzero" : [...tumourLabels].sort((a, b) => a - b),
        minTumourPixels,
        intensity: { method: "medsam-mr-percentile-clip", reference: "voxels > 0", ...intensity },
        padding,
        patchSize,
        skipIncomplete,
        split: splitSettings(options),
    };
    const isTumour =
        tumourLabels === "nonzero"
            ? (v: number) => v > 0
            : (() => {
                  const set = new Set(tumourLabels);
                  return (v: number) => set.has(v);
              })();

    return runPreparation("brats", patchSize, options, async (ctx) => {
        const cases = await findCases(inputDir, modalities, patterns, skipIncomplete, ctx);
        const caseSettings = { inputDir, modalities, isTumour, minTumourPixels, intensity, padding, patchSize };
        const { sources, patches } = await prepareSources(cases, ctx, (c, usedIds) =>
            prepareCase(c, caseSettings, ctx, usedIds),
        );
        return {
            settings,
            orientation: BRATS_ORIENTATION,
            foreground: "tumour (label set of settings.tumourLabels)",
            sources,
            patches,
        };
    });
}

function resolveModalities(modality: string | string[]): string[] {
    if (typeof modality === "string" && modality.length > 0) return [modality, modality, modality];
    if (
        Array.isArray(modality) &&
        modality.length === 3 &&
        modality.every((m) => typeof m === "string" && m.length > 0)
    )
        return [...modality];
    throw new DataError(
        "ERR_SA_DATA",
        `modality must be a name or a list of three names, got ${JSON.stringify(modality)}`,
    );
}

async function findCases(
    inputDir: string,
    modalities: string[],
    patterns: Record<string, string>,
    skipIncomplete: boolean,
    ctx: PrepareContext,
): Promise<CaseFiles[]> {
    let entries: string[];
    try {
        entries = (await readdir(inputDir)).sort();
    } catch (err) {
        throw new DataError("ERR_SA_DATA", `${inputDir}: cannot list the BraTS input folder (${errorText(err)})`, {
            cause: err,
        });
    }
    const cases: CaseFiles[] = [];
    for (const name of entries) {
        if (name.startsWith(".")) continue;
        const dir = path.join(inputDir, name);
        if (!(await stat(dir)).isDirectory()) continue;
        const files = await readdir(dir);
        const present = new Set(files);
        const resolve = (role: string): string | undefined => {
            const candidates = candidateNames(patterns[role] as string, name);
            const found = candidates.find((f) => present.has(f));
            if (found) return path.join(dir, found);
            const message = `${dir}: no ${role} file (looked for ${candidates.join(" or ")})`;
            if (!skipIncomplete) throw new DataError("ERR_SA_DATA", message);
            ctx.warn(`${message}; patient skipped`);
            return undefined;
        };
        const label = resolve("seg");
        if (!label) continue;
        const images: string[] = [];
        for (const m of modalities) {
            const f = resolve(m);
            if (!f) break;
            images.push(f);
        }
        if (images.length !== modalities.length) continue;
        cases.push({ id: name, dir, images, label });
    }
    if (cases.length === 0) throw new DataError("ERR_SA_DATA", `${inputDir}: no complete patient folders found`);
    return cases;
}

function candidateNames(template: string, caseId: string): string[] {
    const name = template.split("{case}").join(caseId);
    if (name.endsWith(".nii") || name.endsWith(".nii.gz")) return [name];
    return [`${name}.nii.gz`, `${name}.nii`];
}

interface CaseSettings {
    inputDir: string;
    modalities: string[];
    isTumour: (label: number) => boolean;
    minTumourPixels: number;
    intensity: MrIntensityOptions;
    padding: PaddingMode;
    patchSize: number;
}

async function prepareCase(
    c: CaseFiles,
    s: CaseSettings,
    ctx: PrepareContext,
    usedIds: Set<string>,
): Promise<PreparedSource> {
    const uniqueImages = [...new Set(c.images)];
    const [label, ...volumes] = await Promise.all([readNifti(c.label), ...uniqueImages.map((f) => readNifti(f))]);
    const [X, Y, Z] = (label as NiftiVolume).dims;
    for (const [i, v] of volumes.entries()) {
        if (v.dims[0] !== X || v.dims[1] !== Y || v.dims[2] !== Z) {
            throw new DataError(
                "ERR_SA_DATA",
                `label volume ${c.label} has shape ${X}x${Y}x${Z} but image ${uniqueImages[i]} has shape ${v.dims.join("x")}`,
            );
        }
    }
    const P = s.patchSize;
    if (X > P || Y > P) {
        throw new DataError("ERR_SA_DATA", `${c.label}: slices are ${X}x${Y}, larger than the patch size ${P}`);
    }
    const sliceSize = X * Y;
    const tumour = new Uint8Array(X * Y * Z);
    const labelData = (label as NiftiVolume).data;
    const areas = new Array<number>(Z).fill(0);
    for (let z = 0; z < Z; z++) {
        let area = 0;
        for (let i = z * sliceSize, end = i + sliceSize; i < end; i++) {
            if (s.isTumour(Math.round(labelData[i] as number))) {
                tumour[i] = 1;
                area++;
            }
        }
        areas[z] = area;
    }
    const keptSlices = areas.flatMap((a, z) => (a >= s.minTumourPixels ? [z] : []));
    const channelsByFile = new Map<string, { data: Uint8Array; lower: number; upper: number }>();
    const intensityDetails: JsonValue[] = [];
    for (const [i, v] of volumes.entries()) {
        const file = uniqueImages[i] as string;
        const norm = normaliseMr(v.data, s.intensity);
        if (norm.positiveVoxels === 0) ctx.warn(`${file}: no positive voxels; the image is blank`);
        channelsByFile.set(file, norm);
        intensityDetails.push({ file: relativeSource(s.inputDir, file), lower: norm.lower, upper: norm.upper });
    }
    const channels = c.images.map((f) => (channelsByFile.get(f) as { data: Uint8Array }).data);
    const ox = s.padding === "symmetric" ? Math.floor((P - X) / 2) : 0;
    const oy = s.padding === "symmetric" ? Math.floor((P - Y) / 2) : 0;
    const caseId = safeId(c.id);
    const patches: UnsplitPatch[] = [];
    for (const z of keptSlices) {
        const id = `${caseId}_z${String(z).padStart(3, "0")}`;
        if (usedIds.has(id))
            throw new DataError(
                "ERR_SA_DATA",
                `${c.dir}: patch id ${id} collides with another patient's (folder names differ only in unsafe characters)`,
            );
        usedIds.add(id);
        const image = new Uint8Array(P * P * 3);
        const mask = new Uint8Array(P * P);
        for (let y = 0; y < Y; y++) {
            const src = z * sliceSize + y * X;
            const dst = (y + oy) * P + ox;
            for (let x = 0; x < X; x++) {
                const p = dst + x;
                const v = src + x;
                image[3 * p] = (channels[0] as Uint8Array)[v] as number;
                image[3 * p + 1] = (channels[1] as Uint8Array)[v] as number;
                image[3 * p + 2] = (channels[2] as Uint8Array)[v] as number;
                mask[p] = tumour[v] as number;
            }
        }
        const sha256 = await ctx.writer.write(id, image, mask);
        patches.push({ id, patient: c.id, source: c.id, position: { z }, tumourPixels: areas[z] as number, sha256 });
    }
    const modalityFiles: Record<string, string> = {};
    s.modalities.forEach((m, i) => {
        modalityFiles[m] = relativeSource(s.inputDir, c.images[i] as string);
    });
    const source: SourceEntry = {
        id: c.id,
        patient: c.id,
        files: { ...modalityFiles, seg: relativeSource(s.inputDir, c.label) },
        patches: patches.length,
        details: {
            shape: [X, Y, Z],
            pixdim: (label as NiftiVolume).pixdim,
            offset: [ox, oy],
            slicesWithTumour: areas.filter((a) => a > 0).length,
            intensity: intensityDetails,
        },
    };
    return { source, patches };
}
