import { createHash } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { encodePng } from "@sam-ablate/image-io";
import { DataError, errorText } from "./errors.js";

/** SHA-256 (hex) of a patch: image bytes then mask bytes (0/1), as recorded in the manifest. */
export function patchDigest(image: Uint8Array, mask01: Uint8Array): string {
    return createHash("sha256").update(image).update(mask01).digest("hex");
}

/**
 * Writes patch PNG pairs (`images/<id>.png` RGB, `masks/<id>.png` 0/255) into a folder, a few
 * encodes in flight at a time. The first failure is rethrown by the next write() or by finish().
 */
export class PatchWriter {
    private readonly pending = new Set<Promise<void>>();
    private failure: unknown;

    constructor(
        private readonly dir: string,
        private readonly patchSize: number,
        private readonly maxInFlight = 4,
    ) {}

    /** Creates the images/ and masks/ folders. */
    async init(): Promise<void> {
        await mkdir(path.join(this.dir, "images"), { recursive: true });
        await mkdir(path.join(this.dir, "masks"), { recursive: true });
    }

    /** Queues one patch (image RGB patchSize^2*3 bytes, mask 0/1 patchSize^2 bytes); returns its digest. */
    async write(id: string, image: Uint8Array, mask01: Uint8Array): Promise<string> {
        if (this.failure) throw this.failure;
        const n = this.patchSize * this.patchSize;
        if (image.length !== n * 3 || mask01.length !== n) {
            throw new DataError("ERR_SA_DATA", `patch ${id}: expected ${n * 3} image and ${n} mask bytes`);
        }
        const digest = patchDigest(image, mask01);
        const mask255 = new Uint8Array(n);
        for (let i = 0; i < n; i++) mask255[i] = mask01[i] ? 255 : 0;
        while (this.pending.size >= this.maxInFlight) await Promise.race(this.pending);
        if (this.failure) throw this.failure;
        const job = this.writePair(id, image, mask255).then(
            () => {
                this.pending.delete(job);
            },
            (err: unknown) => {
                this.pending.delete(job);
                this.failure ??= err;
            },
        );
        this.pending.add(job);
        return digest;
    }

    /** Waits for every queued patch to end, failed or not (before its folder is removed). */
    async settle(): Promise<void> {
        await Promise.allSettled(this.pending);
    }

    /** Waits for every queued patch; rethrows the first failure. */
    async finish(): Promise<void> {
        await Promise.all(this.pending);
        if (this.failure) throw this.failure;
    }

    private async writePair(id: string, image: Uint8Array, mask255: Uint8Array): Promise<void> {
        const size = this.patchSize;
        const [png, maskPng] = await Promise.all([
            encodePng({ width: size, height: size, channels: 3, data: image }),
            encodePng({ width: size, height: size, channels: 1, data: mask255 }),
        ]);
        try {
            await writeFile(path.join(this.dir, "images", `${id}.png`), png);
            await writeFile(path.join(this.dir, "masks", `${id}.png`), maskPng);
        } catch (err) {
            throw new DataError("ERR_SA_DATA", `${this.dir}: cannot write patch ${id} (${errorText(err)})`, {
                cause: err,
            });
        }
    }
}
