/**
 * Radiology dataset layouts as they are distributed, detected from the input folder: BraTS 2020 and
 * 2021 (`<case>/<case>_flair.nii.gz`, `_seg`), BraTS 2023/2024 (`<case>/<case>-t2f.nii.gz`, `-seg`; GLI,
 * MEN, MET, PED, SSA), the Medical Segmentation Decathlon's Task01_BrainTumour (`imagesTr/<case>.nii.gz`
 * as one 4-D volume, `labelsTr/`, `dataset.json`), nnU-Net raw datasets (`imagesTr/<case>_0000.nii.gz`
 * one file per channel, `labelsTr/`, `dataset.json`), or explicit file-name patterns.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { DataError, errorText } from "./errors.js";

/** Layout names recorded in manifests. */
export type RadiologyLayout = "brats2020" | "brats2021" | "brats2023" | "msd" | "nnunet" | "custom";

/** BraTS label conventions: 2015 (1 necrosis, 2 oedema, 3 non-enhancing, 4 enhancing), 2020 (1, 2, 4), 2023 (1, 2, 3). */
export type LabelConvention = "2015" | "2020" | "2023" | "msd";

/** The tumour regions by name. */
export type TumourRegion = "wt" | "tc" | "et";

/** Label values of each region under each convention. */
export const REGION_LABELS: Readonly<Record<LabelConvention, Readonly<Record<TumourRegion, readonly number[]>>>> = {
    "2015": { wt: [1, 2, 3, 4], tc: [1, 3, 4], et: [4] },
    "2020": { wt: [1, 2, 4], tc: [1, 4], et: [4] },
    "2023": { wt: [1, 2, 3], tc: [1, 3], et: [3] },
    // Decathlon Task01: 1 oedema, 2 non-enhancing tumour, 3 enhancing tumour.
    msd: { wt: [1, 2, 3], tc: [2, 3], et: [3] },
};

/** One image channel of a case: a file, and the 4th-dimension index for 4-D files. */
export interface ChannelSource {
    file: string;
    /** Index along the 4th dimension (undefined: a 3-D file). */
    channel?: number;
}

/** The files of one case. */
export interface RadiologyCase {
    id: string;
    /** The patient (BraTS 2023+: the case id without its time-point suffix, BraTS-GLI-00000 of BraTS-GLI-00000-000). */
    patient: string;
    /** The case's own folder, or the dataset folder for flat layouts (for messages). */
    dir: string;
    /** The channel sources by canonical modality name (flair, t1, t1ce, t2, or the dataset's own names). */
    channels: Record<string, ChannelSource>;
    label: string;
}

/** What detection found. */
export interface DetectedLayout {
    layout: RadiologyLayout;
    /** BraTS 2023 variant (GLI, MEN, MET, PED, SSA ...), else undefined. */
    variant?: string;
    /** Default label convention of the layout. */
    convention: LabelConvention;
    /** Modalities every case offers, canonical names. */
    modalities: string[];
    cases: RadiologyCase[];
    /** Cases left out (missing files), with the reason; they are warnings with skipIncomplete. */
    incomplete: string[];
}

/** Options of explicit (custom) layouts. */
export interface CustomPatterns {
    /**
     * Image path relative to the input folder with `{case}` (once or more) and `*` in folder names,
     * e.g. `images/{case}.nii.gz` or `*\/{case}_t1.nii.gz`.
     */
    image: string;
    /** Label path with `{case}`, e.g. `labels/{case}_seg.nii.gz`. */
    label: string;
    /** For 4-D images: the 4th-dimension index of each of the three channels (or one for all). */
    channels?: number[];
}

/** BraTS 2023+ sequence names -> the 2020 names used throughout. */
const BRATS2023_MODALITIES: Readonly<Record<string, string>> = { t2f: "flair", t1n: "t1", t1c: "t1ce", t2w: "t2" };
const BRATS2020_MODALITIES = ["flair", "t1", "t1ce", "t2"] as const;

/** Channel names as datasets spell them -> canonical names. */
export function canonicalModality(name: string): string {
    const n = name
        .trim()
        .toLowerCase()
        .replace(/[\s_-]+/g, "");
    const table: Record<string, string> = {
        flair: "flair",
        t2f: "flair",
        t2flair: "flair",
        t1: "t1",
        t1w: "t1",
        t1n: "t1",
        t1native: "t1",
        t1ce: "t1ce",
        t1c: "t1ce",
        t1gd: "t1ce",
        t1post: "t1ce",
        t1contrast: "t1ce",
        t2: "t2",
        t2w: "t2",
    };
    return table[n] ?? n;
}

const NIFTI_EXT = /\.nii(\.gz)?$/;

async function isDir(p: string): Promise<boolean> {
    try {
        return (await stat(p)).isDirectory();
    } catch {
        return false;
    }
}

async function list(dir: string): Promise<string[]> {
    try {
        return (await readdir(dir)).filter((n) => !n.startsWith(".")).sort();
    } catch (err) {
        throw new DataError("ERR_SA_DATA", `${dir}: cannot list the folder (${errorText(err)})`, { cause: err });
    }
}

function stripNifti(name: string): string {
    return name.replace(NIFTI_EXT, "");
}

/**
 * Detects the layout of `inputDir` (or follows `custom`) and lists its cases. A folder that matches
 * no layout is an ERR_SA_DATA that lists what was looked for and what was found.
 */
export async function detectRadiologyLayout(inputDir: string, custom?: CustomPatterns): Promise<DetectedLayout> {
    if (!(await isDir(inputDir))) throw new DataError("ERR_SA_DATA", `${inputDir}: input folder not found`);
    if (custom) return customLayout(inputDir, custom);
    const top = await list(inputDir);
    if (top.includes("imagesTr") && (await isDir(path.join(inputDir, "imagesTr")))) return decathlonLayout(inputDir);
    const perCase = await caseFolderLayout(inputDir, top);
    if (perCase) return perCase;
    // One level down (e.g. the archive's own folder, or Training/ next to Validation/).
    const subdirs: string[] = [];
    for (const name of top) if (await isDir(path.join(inputDir, name))) subdirs.push(name);
    if (subdirs.length <= 3) {
        for (const name of subdirs) {
            const inner = path.join(inputDir, name);
            const innerTop = await list(inner);
            if (innerTop.includes("imagesTr")) return decathlonLayout(inner);
            const found = await caseFolderLayout(inner, innerTop);
            if (found) return found;
        }
    }
    const sample = top.slice(0, 8).join(", ") + (top.length > 8 ? `, ... (${top.length} entries)` : "");
    let inside = "";
    const firstDir = subdirs[0];
    if (firstDir) {
        const files = (await list(path.join(inputDir, firstDir))).slice(0, 6);
        inside = `; ${firstDir}/ holds ${files.join(", ") || "nothing"}`;
    }
    throw new DataError(
        "ERR_SA_DATA",
        `${inputDir}: no known radiology layout. Looked for: BraTS 2020/2021 case folders (<case>/<case>_flair.nii.gz + <case>_seg.nii.gz), ` +
            "BraTS 2023+ case folders (<case>/<case>-t2f.nii.gz + <case>-seg.nii.gz), Decathlon/nnU-Net (imagesTr/ + labelsTr/ + dataset.json). " +
            `Found: ${sample || "an empty folder"}${inside}. Use --image-pattern and --label-pattern for other layouts.`,
    );
}

/** BraTS case folders: <case>/<case>_<mod>.nii(.gz) or <case>/<case>-<mod>.nii(.gz). */
async function caseFolderLayout(inputDir: string, top: string[]): Promise<DetectedLayout | undefined> {
    const cases: RadiologyCase[] = [];
    const incomplete: string[] = [];
    let kind: "2020" | "2023" | undefined;
    const variants = new Set<string>();
    let modalities: string[] | undefined;
    for (const name of top) {
        const dir = path.join(inputDir, name);
        if (!(await isDir(dir))) continue;
        const files = await list(dir);
        const byRole = new Map<string, string>();
        let caseKind: "2020" | "2023" | undefined;
        for (const f of files) {
            if (!NIFTI_EXT.test(f)) continue;
            const stem = stripNifti(f);
            if (stem.startsWith(`${name}_`)) {
                const role = stem.slice(name.length + 1).toLowerCase();
                if (role === "seg" || (BRATS2020_MODALITIES as readonly string[]).includes(role)) {
                    byRole.set(role, path.join(dir, f));
                    caseKind ??= "2020";
                }
            } else if (stem.startsWith(`${name}-`)) {
                const role = stem.slice(name.length + 1).toLowerCase();
                if (role === "seg") byRole.set("seg", path.join(dir, f));
                else if (BRATS2023_MODALITIES[role])
                    byRole.set(BRATS2023_MODALITIES[role] as string, path.join(dir, f));
                else continue;
                caseKind ??= "2023";
            }
        }
        if (!caseKind) continue;
        if (kind && kind !== caseKind) {
            throw new DataError(
                "ERR_SA_DATA",
                `${inputDir}: case folders mix BraTS 2020/2021 and 2023 file names (${name})`,
            );
        }
        kind = caseKind;
        if (kind === "2023") {
            const m = /^BraTS-([A-Za-z]+)-/.exec(name);
            if (m) variants.add((m[1] as string).toUpperCase());
        }
        const label = byRole.get("seg");
        const channels: Record<string, ChannelSource> = {};
        for (const [role, file] of byRole) if (role !== "seg") channels[role] = { file };
        if (!label) {
            const seg = `${name}${caseKind === "2023" ? "-seg" : "_seg"}`;
            incomplete.push(`${dir}: no seg file (looked for ${seg}.nii.gz or ${seg}.nii)`);
            continue;
        }
        const mods = Object.keys(channels).sort();
        modalities = modalities ? modalities.filter((m) => mods.includes(m)) : mods;
        cases.push({ id: name, patient: kind === "2023" ? name.replace(/-\d{3}$/, "") : name, dir, channels, label });
    }
    if (!kind) return undefined;
    const layout: RadiologyLayout =
        kind === "2023" ? "brats2023" : cases.some((c) => c.id.startsWith("BraTS2021_")) ? "brats2021" : "brats2020";
    return {
        layout,
        ...(variants.size ? { variant: [...variants].sort().join("+") } : {}),
        convention: kind === "2023" ? "2023" : "2020",
        modalities: modalities ?? [],
        cases,
        incomplete,
    };
}

interface DatasetJson {
    channel_names?: Record<string, string>;
    modality?: Record<string, string>;
    labels?: Record<string, string | number | number[]>;
    file_ending?: string;
}

/** Decathlon (one 4-D file per case) or nnU-Net raw (one file per channel, _0000 suffixes). */
async function decathlonLayout(dir: string): Promise<DetectedLayout> {
    const imagesDir = path.join(dir, "imagesTr");
    const labelsDir = path.join(dir, "labelsTr");
    let meta: DatasetJson = {};
    const metaFile = path.join(dir, "dataset.json");
    try {
        meta = JSON.parse(await readFile(metaFile, "utf8")) as DatasetJson;
    } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
            throw new DataError("ERR_SA_DATA", `${metaFile}: not readable JSON (${errorText(err)})`, { cause: err });
        }
    }
    if (!(await isDir(labelsDir))) {
        throw new DataError("ERR_SA_DATA", `${dir}: imagesTr/ found but no labelsTr/ next to it (labels are needed)`);
    }
    const names = (await list(imagesDir)).filter((n) => NIFTI_EXT.test(n));
    const labels = new Set((await list(labelsDir)).filter((n) => NIFTI_EXT.test(n)));
    const channelNames = meta.channel_names ?? meta.modality ?? {};
    const nameOf = (i: number) => canonicalModality(channelNames[String(i)] ?? `channel${i}`);
    const suffixed = names.filter((n) => /_\d{4}$/.test(stripNifti(n)));
    const cases: RadiologyCase[] = [];
    const incomplete: string[] = [];
    let layout: RadiologyLayout;
    let modalities: string[];
    if (suffixed.length > 0 && suffixed.length === names.length) {
        layout = "nnunet";
        const byCase = new Map<string, Map<number, string>>();
        for (const n of names) {
            const stem = stripNifti(n);
            const id = stem.slice(0, -5);
            const ch = Number(stem.slice(-4));
            if (!byCase.has(id)) byCase.set(id, new Map());
            byCase.get(id)?.set(ch, path.join(imagesDir, n));
        }
        const nChannels = Math.max(...[...byCase.values()].map((m) => m.size));
        modalities = Array.from({ length: nChannels }, (_, i) => nameOf(i));
        for (const [id, chans] of [...byCase].sort(([a], [b]) => (a < b ? -1 : 1))) {
            const label = [...labels].find((l) => stripNifti(l) === id);
            if (!label) {
                incomplete.push(`${path.join(imagesDir, `${id}_0000`)}: no label ${id} in labelsTr/`);
                continue;
            }
            const channels: Record<string, ChannelSource> = {};
            for (let i = 0; i < nChannels; i++) {
                const f = chans.get(i);
                if (f) channels[nameOf(i)] = { file: f };
            }
            cases.push({ id, patient: id, dir: imagesDir, channels, label: path.join(labelsDir, label) });
        }
    } else {
        layout = "msd";
        const n = Math.max(1, Object.keys(channelNames).length);
        modalities = Array.from({ length: n }, (_, i) => nameOf(i));
        for (const f of names) {
            const id = stripNifti(f);
            if (!labels.has(f)) {
                incomplete.push(`${path.join(imagesDir, f)}: no label ${f} in labelsTr/`);
                continue;
            }
            const channels: Record<string, ChannelSource> = {};
            modalities.forEach((m, i) => {
                channels[m] = { file: path.join(imagesDir, f), channel: i };
            });
            cases.push({ id, patient: id, dir: imagesDir, channels, label: path.join(labelsDir, f) });
        }
    }
    if (cases.length === 0 && incomplete.length === 0) {
        throw new DataError("ERR_SA_DATA", `${imagesDir}: no .nii or .nii.gz images found`);
    }
    return { layout, convention: conventionFromLabels(meta.labels), modalities, cases, incomplete };
}

/**
 * The label convention a dataset.json describes: MSD-style names (oedema 1, non-enhancing 2, enhancing 3),
 * BraTS 2023 style (necrosis 1, oedema 2, enhancing 3), else 2020 when a label 4 exists, else 2023.
 */
function conventionFromLabels(labels: DatasetJson["labels"]): LabelConvention {
    if (!labels) return "2023";
    // nnU-Net region entries: {"tumor core": [2, 3]} tells the convention directly.
    for (const [k, v] of Object.entries(labels)) {
        if (Array.isArray(v) && /core/i.test(k)) {
            const key = [...v].sort((x, y) => x - y).join(",");
            if (key === "2,3") return "msd";
            if (key === "1,3") return "2023";
            if (key === "1,4") return "2020";
            if (key === "1,3,4") return "2015";
        }
    }
    const byValue = new Map<number, string>();
    for (const [k, v] of Object.entries(labels)) {
        // Decathlon: {"1": "edema"}; nnU-Net v2: {"edema": 1}.
        if (typeof v === "string" && /^\d+$/.test(k)) byValue.set(Number(k), v.toLowerCase());
        else if (typeof v === "number") byValue.set(v, k.toLowerCase());
    }
    const one = byValue.get(1) ?? "";
    if (byValue.has(4)) return "2020";
    if (/edema|oedema/.test(one)) return "msd";
    return "2023";
}

/** Explicit patterns: `{case}` and `*` (within one path segment). */
async function customLayout(inputDir: string, custom: CustomPatterns): Promise<DetectedLayout> {
    for (const [what, p] of [
        ["--image-pattern", custom.image],
        ["--label-pattern", custom.label],
    ] as const) {
        if (typeof p !== "string" || !p.includes("{case}")) {
            throw new DataError("ERR_SA_DATA", `${what} must contain {case}, got ${JSON.stringify(p)}`);
        }
    }
    const depth = Math.max(custom.image.split("/").length, custom.label.split("/").length);
    const files = await listFiles(inputDir, depth);
    const imageRe = patternRegex(custom.image);
    const cases: RadiologyCase[] = [];
    const incomplete: string[] = [];
    const seen = new Set<string>();
    for (const rel of files) {
        const m = imageRe.exec(rel);
        if (!m) continue;
        const id = m.groups?.case as string;
        if (seen.has(id))
            throw new DataError("ERR_SA_DATA", `${inputDir}: --image-pattern matches two files for case '${id}'`);
        seen.add(id);
        const labelRe = patternRegex(custom.label, id);
        const label = files.find((f) => labelRe.test(f));
        if (!label) {
            incomplete.push(`${path.join(inputDir, rel)}: no label matching ${custom.label.split("{case}").join(id)}`);
            continue;
        }
        const file = path.join(inputDir, rel);
        const channels: Record<string, ChannelSource> = {};
        if (custom.channels?.length) {
            custom.channels.forEach((c, i) => {
                channels[`channel${c}`] = { file, channel: c };
                if (i === 0) channels.image = { file, channel: c };
            });
        } else {
            channels.image = { file };
        }
        cases.push({ id, patient: id, dir: path.dirname(file), channels, label: path.join(inputDir, label) });
    }
    if (cases.length === 0 && incomplete.length === 0) {
        const sample = files.slice(0, 8).join(", ");
        throw new DataError(
            "ERR_SA_DATA",
            `${inputDir}: no file matches --image-pattern ${custom.image}. Found: ${sample || "no files"}${files.length > 8 ? ", ..." : ""}`,
        );
    }
    const modalities = custom.channels?.length ? custom.channels.map((c) => `channel${c}`) : ["image"];
    return { layout: "custom", convention: "2023", modalities, cases, incomplete };
}

function patternRegex(pattern: string, caseId?: string): RegExp {
    let re = "";
    let first = true;
    for (const part of pattern.split(/(\{case\}|\*)/)) {
        if (part === "{case}") {
            if (caseId !== undefined) re += escapeRe(caseId);
            else if (first) {
                re += "(?<case>[^/]+?)";
                first = false;
            } else re += "\\k<case>";
        } else if (part === "*") re += "[^/]*";
        else re += escapeRe(part);
    }
    return new RegExp(`^${re}$`);
}

function escapeRe(s: string): string {
    return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

async function listFiles(root: string, depth: number, prefix = ""): Promise<string[]> {
    const out: string[] = [];
    for (const name of await list(path.join(root, prefix))) {
        const rel = prefix ? `${prefix}/${name}` : name;
        if (await isDir(path.join(root, rel))) {
            if (depth > 1) out.push(...(await listFiles(root, depth - 1, rel)));
        } else out.push(rel);
    }
    return out;
}
