import { access, readFile } from "node:fs/promises";
import path from "node:path";
import { readImage, readLabelImage } from "@sam-ablate/image-io";
import { DataError, errorText } from "./errors.js";
import { type DatasetManifest, MANIFEST_FILE, type PatchEntry, validateManifest } from "./manifest.js";
import { patchDigest } from "./patch-writer.js";

/** Pixels of one patch. */
export interface PatchPixels {
    /** patchSize x patchSize x 3 RGB bytes, row-major. */
    image: Uint8Array;
    /** patchSize x patchSize bytes, 1 = tumour, 0 = rest. */
    mask: Uint8Array;
    size: number;
}

/** Options of loadDataset. */
export interface LoadDatasetOptions {
    /** Check each patch's pixels against the manifest's SHA-256 when it is read (default true). */
    verify?: boolean;
}

/**
 * A prepared dataset: the validated manifest, its patch records in manifest order, and lazy access
 * to each patch's pixels.
 */
export class PreparedDataset {
    /** All patches, manifest order. */
    readonly patches: readonly PatchEntry[];
    /** Training patches (patients on the train side). */
    readonly train: readonly PatchEntry[];
    /** Test patches (patients on the test side). */
    readonly test: readonly PatchEntry[];
    private readonly byId: ReadonlyMap<string, PatchEntry>;

    constructor(
        /** Absolute path of the dataset folder. */
        readonly dir: string,
        readonly manifest: DatasetManifest,
        private readonly verify: boolean,
    ) {
        this.patches = manifest.patches;
        this.train = manifest.patches.filter((p) => p.split === "train");
        this.test = manifest.patches.filter((p) => p.split === "test");
        this.byId = new Map(manifest.patches.map((p) => [p.id, p]));
    }

    /** The patch with this id; throws ERR_SA_MANIFEST if there is none. */
    patch(id: string): PatchEntry {
        const p = this.byId.get(id);
        if (!p) throw new DataError("ERR_SA_MANIFEST", `${this.dir}: no patch with id ${id}`);
        return p;
    }

    /** Path of a patch's RGB image. */
    imagePath(id: string): string {
        return path.join(this.dir, "images", `${this.patch(id).id}.png`);
    }

    /** Path of a patch's 0/255 mask. */
    maskPath(id: string): string {
        return path.join(this.dir, "masks", `${this.patch(id).id}.png`);
    }

    /** Reads and checks one patch's pixels (size, mask values, and the digest unless verify is off). */
    async read(patch: PatchEntry | string): Promise<PatchPixels> {
        const entry = typeof patch === "string" ? this.patch(patch) : this.patch(patch.id);
        const size = this.manifest.patchSize;
        const imageFile = this.imagePath(entry.id);
        const maskFile = this.maskPath(entry.id);
        const [image, mask] = await Promise.all([readImage(imageFile, { channels: 3 }), readLabelImage(maskFile)]);
        for (const [file, img] of [
            [imageFile, image],
            [maskFile, mask],
        ] as const) {
            if (img.width !== size || img.height !== size) {
                throw new DataError(
                    "ERR_SA_MANIFEST",
                    `${file}: patch is ${img.width}x${img.height}, the manifest says ${size}x${size}`,
                );
            }
        }
        const mask01 = new Uint8Array(size * size);
        for (let i = 0; i < mask01.length; i++) {
            const v = mask.data[i] as number;
            if (v !== 0 && v !== 255) {
                throw new DataError(
                    "ERR_SA_MANIFEST",
                    `${maskFile}: mask value ${v} at pixel (${i % size}, ${Math.floor(i / size)}); expected 0 or 255`,
                );
            }
            mask01[i] = v === 255 ? 1 : 0;
        }
        if (this.verify && patchDigest(image.data, mask01) !== entry.sha256) {
            throw new DataError(
                "ERR_SA_MANIFEST",
                `${imageFile}: pixels differ from the manifest's digest (the patch changed after preparation)`,
            );
        }
        return { image: image.data, mask: mask01, size };
    }
}

/**
 * Opens a prepared dataset folder: parses and validates manifest.json and checks that every patch's
 * image and mask files exist. Pixels are read later, one patch at a time, by read(). Errors are
 * DataError ERR_SA_MANIFEST naming the file and the problem.
 */
export async function loadDataset(dir: string, options: LoadDatasetOptions = {}): Promise<PreparedDataset> {
    const root = path.resolve(dir);
    const file = path.join(root, MANIFEST_FILE);
    let text: string;
    try {
        text = await readFile(file, "utf8");
    } catch (err) {
        const why =
            (err as NodeJS.ErrnoException).code === "ENOENT"
                ? "no manifest.json (not a prepared dataset folder)"
                : `cannot read (${errorText(err)})`;
        throw new DataError("ERR_SA_MANIFEST", `${file}: ${why}`, { cause: err });
    }
    let json: unknown;
    try {
        json = JSON.parse(text);
    } catch (err) {
        throw new DataError("ERR_SA_MANIFEST", `${file}: not valid JSON (${errorText(err)})`, { cause: err });
    }
    const manifest = validateManifest(json, file);
    const missing: string[] = [];
    const batch = 64;
    for (let i = 0; i < manifest.patches.length; i += batch) {
        await Promise.all(
            manifest.patches.slice(i, i + batch).flatMap((p) =>
                ["images", "masks"].map(async (sub) => {
                    const f = path.join(root, sub, `${p.id}.png`);
                    await access(f).catch(() => missing.push(f));
                }),
            ),
        );
    }
    if (missing.length > 0) {
        missing.sort();
        throw new DataError(
            "ERR_SA_MANIFEST",
            `${root}: ${missing.length} patch file(s) listed in the manifest are missing, e.g. ${missing[0]}`,
        );
    }
    return new PreparedDataset(root, manifest, options.verify ?? true);
}
