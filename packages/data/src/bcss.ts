import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { imageSize, type LabelImage, readImage, readLabelImage, resizeImage } from "@sam-ablate/image-io";
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
    refusePreparedInput,
    relativeSource,
    runPreparation,
    safeId,
    splitSettings,
    type UnsplitPatch,
} from "./prepare-common.js";

/**
 * Input layouts: "bcss" is the BCSS release (`<imagesDir>/<name>.png` with `<masksDir>/<name>.png`);
 * "tiles" is a tile set as commonly shared: `image(s)/` (or `img(s)/`) with `mask(s)/` (or `label(s)/`,
 * `gt/`), the mask of `<name>.<ext>` named `<name>.png` or `<name>_mask.png`, optionally in split
 * sub-folders (`train/images/`, `val/masks/` ... or `images/train/` ...); "flat" keeps images and labels
 * in one folder (`<name>.<png|tif|tiff|jpg|jpeg>` with `<name><labelSuffix>.png`); "auto" picks
 * "bcss", then "tiles", then "flat".
 */
export type BcssLayout = "auto" | "bcss" | "tiles" | "flat";

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
    /**
     * Label codes that count as tumour (default [1]; binary 0/255 masks are detected and use 255). Code 0
     * is outside the region of interest, except in binary masks, where every pixel is inside it.
     */
    tumourCodes?: number[];
    /**
     * Patient id from the file name: the first capture group (or the whole match) of this regular
     * expression. Default: the TCGA case id (TCGA-XX-XXXX) found anywhere in the name, else the name.
     */
    patientRegex?: string;
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
    /** The patient id is the first N characters of the file name (instead of the TCGA case id). */
    patientIdLength?: number;
    /** Skip regions without a label file (with a warning) instead of failing (default false). */
    skipIncomplete?: boolean;
}

/** Orientation statement written into BCSS manifests. */
export const BCSS_ORIENTATION =
    "patch pixel (column c, row r) = region pixel (x + c, y + r) after the optional scale, where (x, y) is the tile's position; no flips or rotations";

const IMAGE_EXTENSIONS = [".png", ".tif", ".tiff", ".jpg", ".jpeg"];
const TCGA_CASE = /TCGA-[A-Z0-9]{2}-[A-Z0-9]{4}/i;
const TILE_IMAGE_DIRS = ["images", "image", "imgs", "img"];
const TILE_MASK_DIRS = ["masks", "mask", "labels", "label", "gt", "annotations"];
const SPLIT_DIRS = ["train", "training", "val", "valid", "validation", "test", "testing"];
const MASK_SUFFIXES = ["_mask", "-mask", "_masks", "_label", "_gt", "_anno", ""];

interface RegionFiles {
    id: string;
    patient: string;
    image: string;
    label: string;
}

/** A folder of images and the folder of their masks (one pair per split of a tile set). */
interface FolderPair {
    images: string;
    masks: string;
    /** Split sub-folder name ("" for none); prefixes region ids so that names may repeat across splits. */
    split: string;
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
    const patientIdLength =
        options.patientIdLength === undefined
            ? undefined
            : checkInteger("patientIdLength", options.patientIdLength, 1, 255);
    let patientRegex: RegExp | undefined;
    if (options.patientRegex !== undefined) {
        try {
            patientRegex = new RegExp(options.patientRegex);
        } catch (err) {
            throw new DataError("ERR_SA_DATA", `patientRegex is not a regular expression: ${errorText(err)}`);
        }
    }
    const tumourOption = options.tumourCodes;
    const tumourCodes = tumourOption ?? [1];
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
    await refusePreparedInput(inputDir);
    const { layout, pairs } = await resolveLayout(inputDir, options.layout ?? "auto", imagesDir, masksDir);
    const skipIncomplete = options.skipIncomplete ?? false;

    return runPreparation("bcss", patchSize, options, async (ctx) => {
        const patientOf = (stem: string, name: string): string => {
            if (patientRegex) {
                const m = patientRegex.exec(stem);
                if (!m)
                    throw new DataError(
                        "ERR_SA_DATA",
                        `${name}: --patient-regex ${patientRegex.source} does not match`,
                    );
                return m[1] ?? m[0];
            }
            if (patientIdLength !== undefined) {
                if (stem.length < patientIdLength) {
                    throw new DataError(
                        "ERR_SA_DATA",
                        `${name}: file name is shorter than the ${patientIdLength}-character patient id`,
                    );
                }
                return stem.slice(0, patientIdLength);
            }
            const tcga = TCGA_CASE.exec(stem);
            return tcga ? tcga[0].toUpperCase() : stem;
        };
        const regions = await findRegions(inputDir, layout, pairs, labelSuffix, patientOf, skipIncomplete, ctx);
        const own = regions.filter((r) => r.patient === r.id.slice(r.id.lastIndexOf("/") + 1)).length;
        if (!patientRegex && patientIdLength === undefined && own > 0) {
            ctx.warn(
                `${own} region name(s) hold no TCGA case id (TCGA-XX-XXXX), e.g. '${regions.find((r) => !TCGA_CASE.test(r.id))?.id}'; ` +
                    "each is taken as its own patient (--patient-regex names the patient part)",
            );
        }
        // Binary masks (0/255) are detected from the first label unless tumour codes were given.
        const first = regions[0] ? await readLabelImage(regions[0].label) : undefined;
        const binary =
            tumourOption === undefined ? isBinary255(first?.data) : tumourCodes.length === 1 && tumourCodes[0] === 255;
        const codes = tumourOption === undefined && binary ? [255] : tumourCodes;
        const tumourLut = new Uint8Array(256);
        for (const c of codes) tumourLut[c] = 1;
        const settings: Record<string, JsonValue> = {
            layout,
            ...(layout === "bcss" ? { imagesDir, masksDir } : layout === "flat" ? { labelSuffix } : {}),
            ...(layout === "tiles" ? { folders: pairs.map((p) => relativeSource(inputDir, p.images)) } : {}),
            maskType: binary ? "binary-0-255" : "codes",
            tumourCodes: [...codes].sort((a, b) => a - b),
            roi: binary ? "every pixel" : "label != 0",
            minTumourFraction,
            minRoiFraction,
            patchSize,
            stride,
            scale,
            patient: patientRegex
                ? { regex: patientRegex.source }
                : patientIdLength !== undefined
                  ? { prefixLength: patientIdLength }
                  : "tcga-case-id",
            skipIncomplete,
            split: splitSettings(options),
        };
        const tiling = { inputDir, tumourLut, binary, minTumourFraction, minRoiFraction, patchSize, stride, scale };
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
): Promise<{ layout: "bcss" | "tiles" | "flat"; pairs: FolderPair[] }> {
    if (layout !== "auto" && layout !== "bcss" && layout !== "tiles" && layout !== "flat") {
        throw new DataError(
            "ERR_SA_DATA",
            `layout must be "auto", "bcss", "tiles" or "flat", got ${JSON.stringify(layout)}`,
        );
    }
    if (!(await isDir(inputDir))) throw new DataError("ERR_SA_DATA", `${inputDir}: BCSS input folder not found`);
    const bcss: FolderPair = {
        images: path.join(inputDir, imagesDir),
        masks: path.join(inputDir, masksDir),
        split: "",
    };
    if (layout === "bcss") return { layout, pairs: [bcss] };
    if (layout === "flat") return { layout, pairs: [{ images: inputDir, masks: inputDir, split: "" }] };
    if (layout === "auto" && (await isDir(bcss.images)) && (await isDir(bcss.masks)))
        return { layout: "bcss", pairs: [bcss] };
    const pairs = await tilePairs(inputDir);
    if (pairs.length > 0) return { layout: "tiles", pairs };
    if (layout === "tiles") {
        throw new DataError(
            "ERR_SA_DATA",
            `${inputDir}: no tile set found (looked for ${TILE_IMAGE_DIRS.join("|")}/ with ${TILE_MASK_DIRS.join("|")}/, also under ${SPLIT_DIRS.join("|")}/)`,
        );
    }
    return { layout: "flat", pairs: [{ images: inputDir, masks: inputDir, split: "" }] };
}

async function isDir(p: string): Promise<boolean> {
    try {
        return (await stat(p)).isDirectory();
    } catch {
        return false;
    }
}

/** Image/mask folder pairs of a tile set: at the top, under split folders, or split inside each. */
async function tilePairs(root: string): Promise<FolderPair[]> {
    const pairAt = async (dir: string, split: string): Promise<FolderPair | undefined> => {
        let images: string | undefined;
        let masks: string | undefined;
        for (const n of TILE_IMAGE_DIRS) if (!images && (await isDir(path.join(dir, n)))) images = path.join(dir, n);
        for (const n of TILE_MASK_DIRS) if (!masks && (await isDir(path.join(dir, n)))) masks = path.join(dir, n);
        return images && masks ? { images, masks, split } : undefined;
    };
    const entries = (await readdir(root)).sort();
    const splits = entries.filter((e) => SPLIT_DIRS.includes(e.toLowerCase()));
    const out: FolderPair[] = [];
    for (const sp of splits) {
        const p = await pairAt(path.join(root, sp), sp);
        if (p) out.push(p);
    }
    if (out.length > 0) return out;
    const top = await pairAt(root, "");
    if (!top) return [];
    // images/train + masks/train ...
    const inner = (await readdir(top.images)).filter((e) => SPLIT_DIRS.includes(e.toLowerCase())).sort();
    for (const sp of inner) {
        if ((await isDir(path.join(top.images, sp))) && (await isDir(path.join(top.masks, sp)))) {
            out.push({ images: path.join(top.images, sp), masks: path.join(top.masks, sp), split: sp });
        }
    }
    return out.length > 0 ? out : [top];
}

async function findRegions(
    inputDir: string,
    layout: "bcss" | "tiles" | "flat",
    pairs: FolderPair[],
    labelSuffix: string,
    patientOf: (stem: string, name: string) => string,
    skipIncomplete: boolean,
    ctx: PrepareContext,
): Promise<RegionFiles[]> {
    const regions: RegionFiles[] = [];
    for (const pair of pairs) {
        let names: string[];
        let labels: Set<string>;
        try {
            names = (await readdir(pair.images)).sort();
            labels = new Set(pair.masks === pair.images ? names : await readdir(pair.masks));
        } catch (err) {
            throw new DataError("ERR_SA_DATA", `${pair.images}: cannot list the BCSS images (${errorText(err)})`, {
                cause: err,
            });
        }
        for (const name of names) {
            const ext = path.extname(name).toLowerCase();
            if (name.startsWith(".") || !IMAGE_EXTENSIONS.includes(ext)) continue;
            const stem = name.slice(0, name.length - ext.length);
            if (layout === "flat" && stem.endsWith(labelSuffix)) continue;
            const candidates =
                layout === "bcss"
                    ? [`${stem}.png`]
                    : layout === "flat"
                      ? [`${stem}${labelSuffix}.png`]
                      : MASK_SUFFIXES.flatMap((sfx) => [
                            `${stem}${sfx}.png`,
                            `${stem}${sfx}${ext}`,
                            `${stem}${sfx}.tif`,
                        ]);
            const labelName = candidates.find((c) => labels.has(c));
            if (!labelName) {
                const message = `${path.join(pair.images, name)}: label file ${path.join(pair.masks, candidates[0] as string)} not found`;
                if (!skipIncomplete) throw new DataError("ERR_SA_DATA", message);
                ctx.warn(`${message}; region skipped`);
                continue;
            }
            regions.push({
                id: pair.split ? `${pair.split}/${stem}` : stem,
                patient: patientOf(stem, name),
                image: path.join(pair.images, name),
                label: path.join(pair.masks, labelName),
            });
        }
    }
    if (regions.length === 0) {
        throw new DataError("ERR_SA_DATA", `${pairs[0]?.images ?? inputDir}: no region images with labels found`);
    }
    return regions;
}

/** True when a label image holds only 0 and 255 (a binary mask as tile sets ship them). */
function isBinary255(data: Uint8Array | undefined): boolean {
    if (!data) return false;
    let has255 = false;
    for (let i = 0; i < data.length; i++) {
        const v = data[i] as number;
        if (v === 255) has255 = true;
        else if (v !== 0) return false;
    }
    return has255;
}

interface TileSettings {
    inputDir: string;
    tumourLut: Uint8Array;
    /** Binary 0/255 masks: every pixel is inside the region of interest. */
    binary: boolean;
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
    // The label first (1 byte a pixel): the tiles to keep are chosen on it, and the RGB region is
    // decoded only when some tile is kept, then cut and dropped (one RGB copy at a time).
    let label = await readLabelImage(r.label);
    const originalSize = [label.width, label.height];
    if (s.scale !== 1) label = await rescaleLabel(label, s.scale);
    const { width: W, height: H } = label;
    const P = s.patchSize;
    const area = P * P;
    const kept: { x0: number; y0: number; tumour: number }[] = [];
    let examined = 0;
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
            if (s.binary) roi = area;
            if (tumour < s.minTumourFraction * area || roi < s.minRoiFraction * area) continue;
            kept.push({ x0, y0, tumour });
        }
    }
    const patches: UnsplitPatch[] = [];
    const base = safeId(r.id);
    if (kept.length > 0) {
        const meta = await imageSize(r.image);
        if (meta.width !== originalSize[0] || meta.height !== originalSize[1]) {
            throw new DataError(
                "ERR_SA_DATA",
                `image ${r.image} is ${meta.width}x${meta.height} but its label ${r.label} is ${originalSize[0]}x${originalSize[1]}`,
            );
        }
        // Resized while decoding: a large region is never held at full size next to its scaled copy.
        const image = await readImage(r.image, {
            channels: 3,
            ...(s.scale !== 1 ? { resize: { width: W, height: H, kernel: "lanczos3" as const } } : {}),
        });
        for (const { x0, y0, tumour } of kept) {
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
    } else {
        // Still check the image's size, without decoding it.
        const meta = await imageSize(r.image);
        if (meta.width !== originalSize[0] || meta.height !== originalSize[1]) {
            throw new DataError(
                "ERR_SA_DATA",
                `image ${r.image} is ${meta.width}x${meta.height} but its label ${r.label} is ${originalSize[0]}x${originalSize[1]}`,
            );
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

async function rescaleLabel(label: LabelImage, scale: number): Promise<LabelImage> {
    const w = Math.max(1, Math.round(label.width * scale));
    const h = Math.max(1, Math.round(label.height * scale));
    const lab = await resizeImage(
        { width: label.width, height: label.height, channels: 1, data: label.data },
        w,
        h,
        "nearest",
    );
    return { width: w, height: h, data: lab.data };
}
