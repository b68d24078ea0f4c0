import { DataError, quoted } from "./errors.js";
import { type FoldRecord, validateFolds } from "./folds.js";

/** Manifest format identifier and version written by this package. */
export const MANIFEST_FORMAT = "sam-ablate-patches";
export const MANIFEST_VERSION = 1;
/** File name of the manifest inside a prepared dataset folder. */
export const MANIFEST_FILE = "manifest.json";

/**
 * The source format a dataset was prepared from (BraTS NIfTI volumes or BCSS PNG regions); stored
 * as the manifest's `kind` field.
 */
export type DatasetFormat = "brats" | "bcss";

/** A JSON value (what settings and per-source details may hold). */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** Where a patch comes from: an axial slice index (BraTS) or a tile's top-left pixel (BCSS). */
export type PatchPosition = { z: number } | { x: number; y: number };

/** One patch: `images/<id>.png` (RGB) and `masks/<id>.png` (0/255 grey). */
export interface PatchEntry {
    id: string;
    patient: string;
    /** Id of the source (BraTS case, BCSS region) it was cut from. */
    source: string;
    split: "train" | "test";
    position: PatchPosition;
    /** Foreground (tumour) pixels in the mask. */
    tumourPixels: number;
    /** SHA-256 (hex) of the image bytes (RGB, row-major) followed by the mask bytes (0/1). */
    sha256: string;
}

/** One input case or region. */
export interface SourceEntry {
    id: string;
    patient: string;
    /** Input files by role, relative to the input folder, with forward slashes. */
    files: Record<string, string>;
    /** Patches kept from this source. */
    patches: number;
    /** Kind-specific facts (volume shape, intensity window, region size, tiles examined). */
    details: Record<string, JsonValue>;
}

/** How the patients were split. */
export interface SplitRecord {
    method: "seeded-shuffle" | "file";
    seed: number | null;
    trainFraction: number | null;
    /** Base name of the split file for method "file". */
    file: string | null;
    train: string[];
    test: string[];
}

/** The manifest.json of a prepared dataset. */
export interface DatasetManifest {
    format: typeof MANIFEST_FORMAT;
    version: typeof MANIFEST_VERSION;
    kind: DatasetFormat;
    /** Patches are patchSize x patchSize. */
    patchSize: number;
    image: { channels: 3; encoding: "png-rgb8" };
    mask: { encoding: "png-grey-0-255"; foreground: string };
    /** How patch pixels map to the source's axes. */
    orientation: string;
    /** Every setting used to prepare the dataset. */
    settings: Record<string, JsonValue>;
    sources: SourceEntry[];
    /** Patients with at least one patch, sorted. */
    patients: string[];
    split: SplitRecord;
    /** Patient-level cross-validation folds (`prepare --folds K`); absent without folds. */
    folds?: FoldRecord;
    patches: PatchEntry[];
}

/** Patch ids: letters, digits, '.', '_' and '-', not starting with '.'. */
export const PATCH_ID_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

/** Manifest text: two-space JSON with a trailing newline (key order as built, so it is reproducible). */
export function serialiseManifest(manifest: DatasetManifest): string {
    return `${JSON.stringify(manifest, null, 2)}\n`;
}

/**
 * Checks a parsed manifest's structure and consistency (unique ids, every patch's patient on
 * exactly one side of the split and on the side the patch names). Throws DataError ERR_SA_MANIFEST
 * naming `source` and the first problem found.
 */
export function validateManifest(json: unknown, source: string): DatasetManifest {
    const fail = (msg: string): never => {
        throw new DataError("ERR_SA_MANIFEST", `${source}: ${msg}`);
    };
    if (!isObject(json)) fail("manifest is not a JSON object");
    const m = json as Record<string, unknown>;
    if (m.format !== MANIFEST_FORMAT) fail(`format is ${quoted(m.format)}, expected "${MANIFEST_FORMAT}"`);
    if (m.version !== MANIFEST_VERSION)
        fail(`version ${quoted(m.version)} is not supported (expected ${MANIFEST_VERSION})`);
    if (m.kind !== "brats" && m.kind !== "bcss") fail(`kind ${quoted(m.kind)} (expected "brats" or "bcss")`);
    if (!Number.isInteger(m.patchSize) || (m.patchSize as number) <= 0)
        fail(`patchSize ${quoted(m.patchSize)} is not a positive integer`);
    if (!isObject(m.settings)) fail("settings is missing");
    if (typeof m.orientation !== "string") fail("orientation is missing");
    if (!Array.isArray(m.sources)) fail("sources is not an array");
    if (!Array.isArray(m.patients) || !m.patients.every((p) => typeof p === "string"))
        fail("patients is not an array of strings");
    if (!Array.isArray(m.patches)) fail("patches is not an array");
    const split = m.split;
    if (!isObject(split) || !isStringArray(split.train) || !isStringArray(split.test))
        fail("split.train / split.test are missing");
    const sides = new Map<string, "train" | "test">();
    const s = split as { train: string[]; test: string[] };
    for (const p of s.train) sides.set(p, "train");
    for (const p of s.test) {
        if (sides.has(p)) fail(`patient ${p} is on both sides of the split`);
        sides.set(p, "test");
    }
    const patients = new Set(m.patients as string[]);
    if (m.folds !== undefined) validateFolds(m.folds, m.patients as string[], source);
    for (const p of patients) if (!sides.has(p)) fail(`patient ${p} is on neither side of the split`);
    const ids = new Set<string>();
    (m.patches as unknown[]).forEach((entry, i) => {
        if (!isObject(entry)) fail(`patches[${i}] is not an object`);
        const e = entry as Record<string, unknown>;
        if (typeof e.id !== "string" || !PATCH_ID_PATTERN.test(e.id))
            fail(`patches[${i}].id ${quoted(e.id)} is not a valid patch id`);
        const id = e.id as string;
        if (ids.has(id)) fail(`patch id ${id} appears twice`);
        ids.add(id);
        if (typeof e.patient !== "string" || !patients.has(e.patient))
            fail(`patch ${id}: patient ${quoted(e.patient)} is not in patients`);
        if (e.split !== sides.get(e.patient as string))
            fail(`patch ${id}: split ${quoted(e.split)} disagrees with its patient's side`);
        if (typeof e.source !== "string") fail(`patch ${id}: source is missing`);
        if (!Number.isInteger(e.tumourPixels) || (e.tumourPixels as number) < 0)
            fail(`patch ${id}: tumourPixels is not a count`);
        if (typeof e.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(e.sha256))
            fail(`patch ${id}: sha256 is not a hex digest`);
        if (!isObject(e.position)) fail(`patch ${id}: position is missing`);
    });
    return json as DatasetManifest;
}

function isObject(v: unknown): v is Record<string, unknown> {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isStringArray(v: unknown): v is string[] {
    return Array.isArray(v) && v.every((x) => typeof x === "string");
}
