import path from "node:path";
import { DataError } from "./errors.js";
import {
    DEFAULT_MR_INTENSITY,
    type IntensityReference,
    intensityProfile,
    type MrIntensityOptions,
    normaliseWindow,
} from "./intensity.js";
import type { JsonValue, SourceEntry } from "./manifest.js";
import { CANONICAL_AXES, canonicalReorientation, checkSameGrid, reorientVolume } from "./nifti/geometry.js";
import { readNifti } from "./nifti/read.js";
import type { NiftiVolume } from "./nifti/types.js";
import {
    checkInteger,
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
import {
    type ChannelSource,
    canonicalModality,
    detectRadiologyLayout,
    type LabelConvention,
    type RadiologyCase,
    REGION_LABELS,
    type TumourRegion,
} from "./radiology-layouts.js";

/** How 240x240 slices are placed in the larger patch. */
export type PaddingMode = "symmetric" | "end";

/** Options of prepareBrats. */
export interface BratsOptions extends PrepareCommonOptions {
    /**
     * The dataset folder: BraTS 2020/2021/2023+ case folders, a Decathlon task or an nnU-Net raw
     * dataset (detected), or any layout described by imagePattern and labelPattern.
     */
    inputDir: string;
    /**
     * Modality copied to the 3 channels (default "flair"), or three names, one per channel. BraTS 2020
     * names (flair, t1, t1ce, t2) or the dataset's own (t2f, t1n, t1c, t2w, T1gd ...).
     */
    modality?: string | [string, string, string];
    /** Image path with {case} and * (folders), relative to inputDir; with labelPattern, replaces detection. */
    imagePattern?: string;
    /** Label path with {case}, relative to inputDir. */
    labelPattern?: string;
    /** For 4-D images of a custom layout: the channel index (one for all three, or three). */
    channel?: number[];
    /** Label values that count as tumour, or "nonzero" (default: every label > 0). */
    tumourLabels?: number[] | "nonzero";
    /** A BraTS region instead of tumourLabels: whole tumour, tumour core or enhancing tumour. */
    region?: TumourRegion;
    /** Label convention of `region` (default: the layout's: 2020 for BraTS 2020/2021, 2023 for 2023+, dataset.json otherwise). */
    labelConvention?: LabelConvention;
    /** Minimum tumour pixels for an axial slice to become a patch (default 100). */
    minTumourPixels?: number;
    /** Percentile window of the per-volume intensity normalisation (default 0.5 / 99.5). */
    intensity?: Partial<MrIntensityOptions>;
    /**
     * Voxels the window is taken over: "auto" (default) takes MedSAM's positive voxels for raw volumes
     * and the non-background voxels for normalised ones (negative values, or a constant non-zero background).
     */
    intensityReference?: "auto" | IntensityReference;
    /** "symmetric" centres the slice (240 -> 8 px each side, default); "end" pads bottom and right. */
    padding?: PaddingMode;
    /** Patch side (default 256); slices larger than this are an error. */
    patchSize?: number;
    /** Skip cases with a missing file (with a warning) instead of failing (default false). */
    skipIncomplete?: boolean;
}

/** Orientation statement written into BraTS manifests. */
export const BRATS_ORIENTATION =
    "volumes are brought into the canonical voxel orientation L, P, S (axis 0 toward the patient's left, axis 1 toward posterior, " +
    "axis 2 toward superior; BraTS's own, so BraTS volumes are used as stored) from their sform/qform; then patch column = axis 0, " +
    "patch row = axis 1, one patch per axial slice (axis 2); the slice is padded with zeros into the patch";

const INTENSITY_REFERENCES = ["auto", "positive", "nonzero", "foreground", "all"] as const;
const REGIONS = ["wt", "tc", "et"] as const;
const CONVENTIONS = ["2015", "2020", "2023", "msd"] as const;

/**
 * Prepares radiology patches: for every case, the axial slices whose tumour area reaches
 * minTumourPixels become 256x256 RGB patches (MedSAM MR normalisation of the chosen modality,
 * copied to 3 channels, zero-padded) with binary tumour masks; patients are split 80:20.
 */
export async function prepareBrats(options: BratsOptions): Promise<PrepareResult> {
    const patchSize = checkInteger("patchSize", options.patchSize ?? 256, 1, 8192);
    const minTumourPixels = checkInteger("minTumourPixels", options.minTumourPixels ?? 100, 1);
    const requested = resolveModalities(options.modality ?? "flair");
    if (options.region !== undefined && !(REGIONS as readonly string[]).includes(options.region)) {
        throw new DataError(
            "ERR_SA_DATA",
            `region must be one of ${REGIONS.join(", ")}, got ${JSON.stringify(options.region)}`,
        );
    }
    if (
        options.labelConvention !== undefined &&
        !(CONVENTIONS as readonly string[]).includes(options.labelConvention)
    ) {
        throw new DataError(
            "ERR_SA_DATA",
            `labelConvention must be one of ${CONVENTIONS.join(", ")}, got ${JSON.stringify(options.labelConvention)}`,
        );
    }
    if (options.region !== undefined && options.tumourLabels !== undefined) {
        throw new DataError("ERR_SA_DATA", "give either tumourLabels or region, not both");
    }
    const tumourOption = options.tumourLabels ?? "nonzero";
    if (
        tumourOption !== "nonzero" &&
        (!Array.isArray(tumourOption) || tumourOption.length === 0 || !tumourOption.every(Number.isInteger))
    ) {
        throw new DataError(
            "ERR_SA_DATA",
            `tumourLabels must be "nonzero" or a non-empty list of integers, got ${JSON.stringify(tumourOption)}`,
        );
    }
    const reference = options.intensityReference ?? "auto";
    if (!(INTENSITY_REFERENCES as readonly string[]).includes(reference)) {
        throw new DataError(
            "ERR_SA_DATA",
            `intensityReference must be one of ${INTENSITY_REFERENCES.join(", ")}, got ${JSON.stringify(reference)}`,
        );
    }
    const custom =
        options.imagePattern !== undefined || options.labelPattern !== undefined
            ? {
                  image: options.imagePattern ?? "",
                  label: options.labelPattern ?? "",
                  ...(options.channel ? { channels: options.channel } : {}),
              }
            : undefined;
    if (options.channel && !(options.channel.length === 1 || options.channel.length === 3)) {
        throw new DataError("ERR_SA_DATA", `channel takes one index or three, got ${options.channel.length}`);
    }
    if (options.channel && !options.channel.every((c) => Number.isInteger(c) && c >= 0)) {
        throw new DataError(
            "ERR_SA_DATA",
            `channel indices must be integers >= 0, got ${JSON.stringify(options.channel)}`,
        );
    }
    const intensity: MrIntensityOptions = { ...DEFAULT_MR_INTENSITY, ...(options.intensity ?? {}) };
    const padding = options.padding ?? "symmetric";
    if (padding !== "symmetric" && padding !== "end")
        throw new DataError("ERR_SA_DATA", `padding must be "symmetric" or "end", got ${JSON.stringify(padding)}`);
    const skipIncomplete = options.skipIncomplete ?? false;
    const inputDir = path.resolve(options.inputDir);
    await refusePreparedInput(inputDir);

    return runPreparation("brats", patchSize, options, async (ctx) => {
        const detected = await detectRadiologyLayout(inputDir, custom);
        // Custom layouts name their channels themselves (image, or channel<i> for 4-D files).
        const modalities = custom
            ? custom.channels?.length
                ? (custom.channels.length === 1
                      ? [0, 0, 0].map(() => custom.channels?.[0] as number)
                      : custom.channels
                  ).map((c) => `channel${c}`)
                : ["image", "image", "image"]
            : requested.map(canonicalModality);
        const cases: RadiologyCase[] = [];
        for (const c of detected.cases) {
            const missing = modalities.find((m) => !c.channels[m]);
            if (missing) {
                const message = `${c.dir}: no ${missing} file for ${c.id} (it has ${Object.keys(c.channels).join(", ") || "none"})`;
                if (!skipIncomplete) throw new DataError("ERR_SA_DATA", message);
                ctx.warn(`${message}; patient skipped`);
                continue;
            }
            cases.push(c);
        }
        for (const m of detected.incomplete) {
            if (!skipIncomplete) throw new DataError("ERR_SA_DATA", m);
            ctx.warn(`${m}; patient skipped`);
        }
        if (cases.length === 0)
            throw new DataError("ERR_SA_DATA", `${inputDir}: no complete cases found (${detected.layout} layout)`);
        const convention = options.labelConvention ?? detected.convention;
        const tumourLabels: number[] | "nonzero" = options.region
            ? [...REGION_LABELS[convention][options.region]]
            : tumourOption;
        const isTumour =
            tumourLabels === "nonzero"
                ? (v: number) => v > 0
                : (() => {
                      const set = new Set(tumourLabels);
                      return (v: number) => set.has(v);
                  })();
        const settings: Record<string, JsonValue> = {
            layout: detected.layout,
            ...(detected.variant ? { variant: detected.variant } : {}),
            ...(custom
                ? {
                      imagePattern: custom.image,
                      labelPattern: custom.label,
                      ...(custom.channels ? { channel: custom.channels } : {}),
                  }
                : {}),
            modalities,
            labelConvention: convention,
            ...(options.region ? { region: options.region } : {}),
            tumourLabels: tumourLabels === "nonzero" ? "nonzero" : [...tumourLabels].sort((a, b) => a - b),
            minTumourPixels,
            intensity: { method: "medsam-mr-percentile-clip", reference, ...intensity },
            orientation: CANONICAL_AXES,
            padding,
            patchSize,
            skipIncomplete,
            split: splitSettings(options),
        };
        const caseSettings = {
            inputDir,
            modalities,
            isTumour,
            minTumourPixels,
            intensity,
            reference,
            padding,
            patchSize,
        };
        // While a case is cut, the next one's files are read and inflated (file I/O and gunzip run off
        // the JS thread).
        const ahead = new ReadAhead();
        const order = new Map(cases.map((c, i) => [c, i]));
        const { sources, patches } = await prepareSources(cases, ctx, (c, usedIds) => {
            const next = cases[(order.get(c) as number) + 1];
            if (next) ahead.start(caseFiles(next, modalities));
            return prepareCase(c, caseSettings, ctx, usedIds, (file) => ahead.read(file));
        });
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

interface CaseSettings {
    inputDir: string;
    modalities: string[];
    isTumour: (label: number) => boolean;
    minTumourPixels: number;
    intensity: MrIntensityOptions;
    reference: "auto" | IntensityReference;
    padding: PaddingMode;
    patchSize: number;
}

/** The files a case reads: its label, then each file its modalities come from, once. */
function caseFiles(c: RadiologyCase, modalities: readonly string[]): string[] {
    return [c.label, ...new Set(modalities.map((m) => (c.channels[m] as ChannelSource).file))];
}

/**
 * NIfTI volumes read ahead of their use: start() begins reading files, read() hands out a started read
 * (once) or reads the file now. A failed read ahead surfaces, with its file's name, where the file is read.
 */
class ReadAhead {
    private readonly started = new Map<string, Promise<NiftiVolume>>();

    start(files: readonly string[]): void {
        for (const file of files) {
            if (this.started.has(file)) continue;
            const p = readNifti(file);
            p.catch(() => {}); // reported by read(), or dropped with the preparation that failed first
            this.started.set(file, p);
        }
    }

    read(file: string): Promise<NiftiVolume> {
        const p = this.started.get(file);
        if (!p) return readNifti(file);
        this.started.delete(file);
        return p;
    }
}

/** Share of the non-background voxels the positive-voxel rule may drop before a warning. */
const POSITIVE_RULE_WARN_FRACTION = 0.2;

async function prepareCase(
    c: RadiologyCase,
    s: CaseSettings,
    ctx: PrepareContext,
    usedIds: Set<string>,
    read: (file: string) => Promise<NiftiVolume>,
): Promise<PreparedSource> {
    const label = await read(c.label);
    if (label.channels !== 1) {
        throw new DataError(
            "ERR_SA_DATA",
            `${c.label}: a label volume must be 3-D, this one has ${label.channels} channels`,
        );
    }
    const grid = canonicalReorientation(label.header);
    const rawDims = label.dims;
    checkIntegralLabels(label.data, rawDims, c.label);
    const { data: labelData, dims } = reorientVolume(label.data, rawDims, grid);
    const [X, Y, Z] = dims;
    const P = s.patchSize;
    if (X > P || Y > P) {
        throw new DataError("ERR_SA_DATA", `${c.label}: slices are ${X}x${Y}, larger than the patch size ${P}`);
    }
    const sliceSize = X * Y;
    const tumour = new Uint8Array(X * Y * Z);
    const areas = new Array<number>(Z).fill(0);
    for (let z = 0; z < Z; z++) {
        let area = 0;
        for (let i = z * sliceSize, end = i + sliceSize; i < end; i++) {
            if (s.isTumour(labelData[i] as number)) {
                tumour[i] = 1;
                area++;
            }
        }
        areas[z] = area;
    }
    const keptSlices = areas.flatMap((a, z) => (a >= s.minTumourPixels ? [z] : []));
    // Each file is read once (a 4-D file serves several channels); each used channel is normalised once.
    const sources = [...new Set(s.modalities)].map((m) => ({ m, src: c.channels[m] as ChannelSource }));
    const files = [...new Set(sources.map((x) => x.src.file))];
    const normalised = new Map<string, Uint8Array>();
    const intensityDetails: JsonValue[] = [];
    for (const file of files) {
        const v = await read(file);
        checkSameGrid({ file, dims: v.dims, header: v.header }, { file: c.label, dims: rawDims, header: label.header });
        for (const { m, src } of sources.filter((x) => x.src.file === file)) {
            const ch = src.channel;
            if (ch === undefined && v.channels > 1) {
                throw new DataError(
                    "ERR_SA_DATA",
                    `${file}: a 4-D volume with ${v.channels} channels; choose one (--channel)`,
                );
            }
            if (ch !== undefined && ch >= v.channels) {
                throw new DataError(
                    "ERR_SA_DATA",
                    `${file}: channel ${ch} asked for ${m}, the file has ${v.channels} (0-${v.channels - 1})`,
                );
            }
            const n = rawDims[0] * rawDims[1] * rawDims[2];
            const raw = ch === undefined ? v.data : v.data.subarray(ch * n, (ch + 1) * n);
            const volume = reorientVolume(raw, rawDims, grid).data;
            const profile = intensityProfile(volume, dims);
            const reference: IntensityReference =
                s.reference === "auto" ? (profile.raw ? "positive" : "foreground") : s.reference;
            const w = normaliseWindow(volume, dims, reference, s.intensity, profile);
            const dropped =
                profile.foregroundVoxels > 0 ? 1 - profile.positiveForegroundVoxels / profile.foregroundVoxels : 0;
            const where = `${file}${ch !== undefined ? ` (channel ${ch})` : ""}`;
            if (w.referenceVoxels === 0)
                ctx.warn(`${where}: no voxels in the intensity reference (${reference}); the image is blank`);
            if (reference === "positive" && dropped > POSITIVE_RULE_WARN_FRACTION) {
                ctx.warn(
                    `${where}: the positive-voxel window leaves out ${(dropped * 100).toFixed(1)}% of the non-background voxels ` +
                        "(already normalised?); --intensity-reference foreground takes them in",
                );
            }
            normalised.set(m, w.data);
            intensityDetails.push({
                file: relativeSource(s.inputDir, file),
                ...(ch !== undefined ? { channel: ch } : {}),
                modality: m,
                detected: profile.raw ? "raw" : "normalised",
                background: profile.background,
                reference,
                referenceVoxels: w.referenceVoxels,
                positiveRuleDrops: Number(dropped.toFixed(4)),
                lower: w.lower,
                upper: w.upper,
            });
        }
    }
    const channels = s.modalities.map((m) => normalised.get(m) as Uint8Array);
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
        patches.push({
            id,
            patient: c.patient,
            source: c.id,
            position: { z },
            tumourPixels: areas[z] as number,
            sha256,
        });
    }
    const modalityFiles: Record<string, string> = {};
    for (const { m, src } of sources) modalityFiles[m] = relativeSource(s.inputDir, src.file);
    const source: SourceEntry = {
        id: c.id,
        patient: c.patient,
        files: { ...modalityFiles, seg: relativeSource(s.inputDir, c.label) },
        patches: patches.length,
        details: {
            shape: [X, Y, Z],
            storedOrientation: grid.stored || "none (no qform/sform; taken as stored)",
            pixdim: [0, 1, 2].map((a) => label.pixdim[grid.perm[a] as number] as number),
            offset: [ox, oy],
            slicesWithTumour: areas.filter((a) => a > 0).length,
            intensity: intensityDetails,
        },
    };
    return { source, patches };
}

/** Throws ERR_SA_DATA naming the first voxel whose label is not an integer. */
function checkIntegralLabels(data: Float32Array, dims: readonly [number, number, number], file: string): void {
    for (let i = 0; i < data.length; i++) {
        const v = data[i] as number;
        if (!Number.isInteger(v)) {
            const x = i % dims[0];
            const y = Math.floor(i / dims[0]) % dims[1];
            const z = Math.floor(i / (dims[0] * dims[1]));
            throw new DataError(
                "ERR_SA_DATA",
                `${file}: label ${v} at voxel (${x}, ${y}, ${z}) is not an integer; labels must be whole numbers`,
            );
        }
    }
}
