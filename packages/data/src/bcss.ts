import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { type LabelImage, type RawImage, readImage, readLabelImage, resizeImage } from "@sam-ablate/image-io";
import { DataError, errorText } from "./errors.js";
import type { JsonValue, SourceEntry } from "./manifest.js";
import {
    checkInteger,
    checkNumber,
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

/**
 * Input layouts: "bcss" is the BCSS release (`<imagesDir>/<name>.png` with `<masksDir>/<name>.png`);
 * "flat" keeps images and labels in one folder (`<name>.<png|tif|tiff|jpg|jpeg>` with
 * `<name><labelSuffix>.png`); "auto" picks "bcss" when both sub-folders exist, else "flat".
 */
export type BcssLayout = "auto" | "bcss" | "flat";

/** Options of prepareBcss. */
export interface BcssOptions extends PrepareCommonOptions {
    inputDir: string;
    layout?: BcssLayout;
    /** Image folder of the "bcss" layout (default "rgbs_colorNormalized"). */
    imagesDir?: string;
    /** Label folder of the "bcss" layout (default "masks"). */
    masksDir?: string;
    /** Label file suffix of the "flat" layout (default "_mask"). */
    labelSuffix?: string;
    /** Label codes that count as tumour (default [1]). Code 0 is outside the region of interest. */
    tumourCodes?: number[];
    /** Minimum tumour fraction of a tile (default 0.05). */
    minTumourFraction?: number;
    /** Minimum fraction of a tile inside the region of interest (label != 0, default 0.5). */
    minRoiFraction?: number;
    /** Tile side (default 256). */
    patchSize?: number;
    /** Tile step (default patchSize: non-overlapping tiles). */
    stride?: number;
    /** Resize factor applied to each region before tiling (default 1; 0.5 halves the magnification). */
    scale?: number;
    /** The patient id is the first N characters of the file name (default 12: the TCGA case id). */
    patientIdLength?: number;
    /** Skip regions without a label file (with a warning) instead of failing (default false). */
    skipIncomplete?: boolean;
}

/** Orientation statement written into BCSS manifests. */
export const BCSS_ORIENTATION =
    "patch pixel (column c, row r) = region pixel (x + c, y + r) after the optional scale, where (x, y) is the tile's position; no flips or rotations";

const IMAGE_EXTENSIONS = [".png", ".tif", ".tiff", ".jpg", ".jpeg"];
const TCGA_CASE = /^TCGA-[A-Z0-9]{2}-[A-Z0-9]{4}$/i;

interface RegionFiles {
    id: string;
    patient: string;
    image: string;
    label: string;
}

/**
 * Prepares BCSS patches: each region image and its label PNG are cut into a grid of tiles
 * (patchSize, stride) from the top-left corner; a tile is kept when its tumour fraction reaches
 * minTumourFraction and its ROI fraction reaches minRoiFraction. Masks are tumour (tumourCodes) vs rest.
 */
export async function prepareBcss(options: BcssOptions): Promise<PrepareResult> {
    const patchSize = checkInteger("patchSize", options.patchSize ?? 256, 1, 8192);
    const stride = checkInteger("stride", options.stride ?? patchSize, 1, 8192);
    const minTumourFraction = checkNumber("minTumourFraction", options.minTumourFraction ?? 0.05, 0, 1);
    const minRoiFraction = checkNumber("minRoiFraction", options.minRoiFraction ?? 0.5, 0, 1);
    const scale = checkNumber("scale", options.scale ?? 1, 0.01, 16);
    const patientIdLength = checkInteger("patientIdLength", options.patientIdLength ?? 12, 1, 255);
    const tumourCodes = options.tumourCodes ?? [1];
    if (
        !Array.isArray(tumourCodes) ||
        tumourCodes.length === 0 ||
        !tumourCodes.every((c) => Number.isInteger(c) && c >= 1 && c <= 255)
    ) {
        throw new DataError(
            "ERR_SA_DATA",
            `tumourCodes must be a non-empty list of integers in 1..255, got ${JSON.stringify(tumourCodes)}`,
        );
    }
    const imagesDir = options.imagesDir ?? "rgbs_colorNormalized";
    const masksDir = options.masksDir ?? "masks";
    const labelSuffix = options.labelSuffix ?? "_mask";
    if (labelSuffix.length === 0) throw new DataError("ERR_SA_DATA", "labelSuffix must not be empty");
    const inputDir = path.resolve(options.inputDir);
    const layout = await resolveLayout(inputDir, options.layout ?? "auto", imagesDir, masksDir);
    const skipIncomplete = options.skipIncomplete ?? false;

    const settings: Record<string, JsonValue> = {
        layout,
        ...(layout === "bcss" ? { imagesDir, masksDir } : { labelSuffix }),
        tumourCodes: [...tumourCodes].sort((a, b) => a - b),
        roi: "label != 0",
        minTumourFraction,
        minRoiFraction,
        patchSize,
        stride,
        scale,
        patientIdLength,
        skipIncomplete,
        split: splitSettings(options),
    };
    const tumourLut = new Uint8Array(256);
    for (const c of tumourCodes) tumourLut[c] = 1;

    return runPreparation("bcss", patchSize, options, async (ctx) => {
        const regions = await findRegions(
            inputDir,
            layout,
            imagesDir,
            masksDir,
            labelSuffix,
            patientIdLength,
            skipIncomplete,
            ctx,
        );
        const tiling = { inputDir, tumourLut, minTumourFraction, minRoiFraction, patchSize, stride, scale };
        const { sources, patches } = await prepareSources(regions, ctx, (r, usedIds) =>
            tileRegion(r, tiling, ctx, usedIds),
        );
        return {
            settings,
            orientation: BCSS_ORIENTATION,
            foreground: "tumour (label codes of settings.tumourCodes)",
            sources,
            patches,
        };
    });
}

async function resolveLayout(
    inputDir: string,
    layout: BcssLayout,
    imagesDir: string,
    masksDir: string,
): Promise<"bcss" | "flat"> {
    if (layout !== "auto" && layout !== "bcss" && layout !== "flat") {
        throw new DataError("ERR_SA_DATA", `layout must be "auto", "bcss" or "flat", got ${JSON.stringify(layout)}`);
    }
    const isDir = async (p: string) => {
        try {
            return (await stat(p)).isDirectory();
        } catch {
            return false;
        }
    };
    if (!(await isDir(inputDir))) throw new DataError("ERR_SA_DATA", `${inputDir}: BCSS input folder not found`);
    if (layout !== "auto") return layout;
    return (await isDir(path.join(inputDir, imagesDir))) && (await isDir(path.join(inputDir, masksDir)))
        ? "bcss"
        : "flat";
}

async function findRegions(
    inputDir: string,
    layout: "bcss" | "flat",
    imagesDir: string,
    masksDir: string,
    labelSuffix: string,
    patientIdLength: number,
    skipIncomplete: boolean,
    ctx: PrepareContext,
): Promise<RegionFiles[]> {
    const imageDir = layout === "bcss" ? path.join(inputDir, imagesDir) : inputDir;
    const labelDir = layout === "bcss" ? path.join(inputDir, masksDir) : inputDir;
    let names: string[];
    let labels: Set<string>;
    try {
        names = (await readdir(imageDir)).sort();
        labels = new Set(layout === "bcss" ? await readdir(labelDir) : names);
    } catch (err) {
        throw new DataError("ERR_SA_DATA", `${imageDir}: cannot list the BCSS images (${errorText(err)})`, {
            cause: err,
        });
    }
    const regions: RegionFiles[] = [];
    for (const name of names) {
        const ext = path.extname(name).toLowerCase();
        if (name.startsWith(".") || !IMAGE_EXTENSIONS.includes(ext)) continue;
        const stem = name.slice(0, name.length - ext.length);
        if (layout === "flat" && stem.endsWith(labelSuffix)) continue;
        const labelName = layout === "bcss" ? `${stem}.png` : `${stem}${labelSuffix}.png`;
        if (!labels.has(labelName)) {
            const message = `${path.join(imageDir, name)}: label file ${path.join(labelDir, labelName)} not found`;
            if (!skipIncomplete) throw new DataError("ERR_SA_DATA", message);
            ctx.warn(`${message}; region skipped`);
            continue;
        }
        if (stem.length < patientIdLength) {
            throw new DataError(
                "ERR_SA_DATA",
                `${name}: file name is shorter than the ${patientIdLength}-character patient id`,
            );
        }
        const patient = stem.slice(0, patientIdLength);
        if (patientIdLength === 12 && !TCGA_CASE.test(patient)) {
            ctx.warn(
                `${name}: '${patient}' does not look like a TCGA case id (TCGA-XX-XXXX); it is used as the patient id`,
            );
        }
        regions.push({ id: stem, patient, image: path.join(imageDir, name), label: path.join(labelDir, labelName) });
    }
    if (regions.length === 0) throw new DataError("ERR_SA_DATA", `${imageDir}: no region images with labels found`);
    return regions;
}

interface TileSettings {
    inputDir: string;
    tumourLut: Uint8Array;
    minTumourFraction: number;
    minRoiFraction: number;
    patchSize: number;
    stride: number;
    scale: number;
}

async function tileRegion(
    r: RegionFiles,
    s: TileSettings,
    ctx: PrepareContext,
    usedIds: Set<string>,
): Promise<PreparedSource> {
    let [image, label] = await Promise.all([readImage(r.image, { channels: 3 }), readLabelImage(r.label)]);
    if (image.width !== label.width || image.height !== label.height) {
        throw new DataError(
            "ERR_SA_DATA",
            `image ${r.image} is ${image.width}x${image.height} but its label ${r.label} is ${label.width}x${label.height}`,
        );
    }
    const originalSize = [image.width, image.height];
    if (s.scale !== 1) [image, label] = await rescale(image, label, s.scale);
    const { width: W, height: H } = image;
    const P = s.patchSize;
    const area = P * P;
    const patches: UnsplitPatch[] = [];
    let examined = 0;
    const base = safeId(r.id);
    for (let y0 = 0; y0 + P <= H; y0 += s.stride) {
        for (let x0 = 0; x0 + P <= W; x0 += s.stride) {
            examined++;
            let tumour = 0;
            let roi = 0;
            for (let y = y0; y < y0 + P; y++) {
                for (let i = y * W + x0, end = i + P; i < end; i++) {
                    const code = label.data[i] as number;
                    if (code !== 0) roi++;
                    tumour += s.tumourLut[code] as number;
                }
            }
            if (tumour < s.minTumourFraction * area || roi < s.minRoiFraction * area) continue;
            const id = `${base}_x${x0}_y${y0}`;
            if (usedIds.has(id))
                throw new DataError("ERR_SA_DATA", `${r.image}: patch id ${id} collides with another region's`);
            usedIds.add(id);
            const pixels = new Uint8Array(area * 3);
            const mask = new Uint8Array(area);
            for (let y = 0; y < P; y++) {
                const row = (y0 + y) * W + x0;
                pixels.set(image.data.subarray(row * 3, (row + P) * 3), y * P * 3);
                for (let x = 0; x < P; x++) mask[y * P + x] = s.tumourLut[label.data[row + x] as number] as number;
            }
            const sha256 = await ctx.writer.write(id, pixels, mask);
            patches.push({
                id,
                patient: r.patient,
                source: r.id,
                position: { x: x0, y: y0 },
                tumourPixels: tumour,
                sha256,
            });
        }
    }
    if (examined === 0) ctx.warn(`${r.image}: region is ${W}x${H}, smaller than one ${P}x${P} tile`);
    const source: SourceEntry = {
        id: r.id,
        patient: r.patient,
        files: { image: relativeSource(s.inputDir, r.image), label: relativeSource(s.inputDir, r.label) },
        patches: patches.length,
        details: { size: originalSize, scaledSize: [W, H], tilesExamined: examined },
    };
    return { source, patches };
}

async function rescale(image: RawImage, label: LabelImage, scale: number): Promise<[RawImage, LabelImage]> {
    const w = Math.max(1, Math.round(image.width * scale));
    const h = Math.max(1, Math.round(image.height * scale));
    const [img, lab] = await Promise.all([
        resizeImage(image, w, h, "lanczos3"),
        resizeImage({ width: label.width, height: label.height, channels: 1, data: label.data }, w, h, "nearest"),
    ]);
    return [img, { width: w, height: h, data: lab.data }];
}
