/**
 * Atomic file writes, the only implementation in the project: the data goes to a temporary sibling
 * `.<name>.<pid>.<random>.tmp`, is flushed to disk, and is renamed over the target, so readers see
 * the old file or the complete new one, never a torn one. On failure the temporary file is removed
 * and the target is left untouched. A temporary file left by a killed process carries its pid, so
 * `removeStaleTemps` can tell it from the file of a live writer.
 */
import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { type FileHandle, mkdir, open, rename, rm } from "node:fs/promises";
import path from "node:path";

/** What an atomic write accepts: text (UTF-8), bytes, or a sequence of byte chunks. */
export type AtomicData = string | Uint8Array | Iterable<Uint8Array>;

/** The temporary sibling of `file` used while it is written. */
export function tempPathFor(file: string): string {
    return path.join(
        path.dirname(file),
        `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`,
    );
}

function chunksOf(data: AtomicData): Iterable<Uint8Array> {
    if (typeof data === "string") return [Buffer.from(data, "utf8")];
    if (data instanceof Uint8Array) return [data];
    return data;
}

export interface AtomicWriteOptions {
    /** Create the folder when missing (default true); false: a missing folder is an error. */
    mkdir?: boolean;
}

/** Writes `data` to `file` atomically and synchronously, creating the folder when needed. */
export function writeFileAtomicSync(file: string, data: AtomicData, opts: AtomicWriteOptions = {}): void {
    if (opts.mkdir !== false) mkdirSync(path.dirname(file), { recursive: true });
    const tmp = tempPathFor(file);
    const fd = openSync(tmp, "wx");
    try {
        try {
            for (const chunk of chunksOf(data)) {
                let off = 0;
                while (off < chunk.byteLength) off += writeSync(fd, chunk, off, chunk.byteLength - off);
            }
            fsyncSync(fd);
        } finally {
            closeSync(fd);
        }
        renameSync(tmp, file);
    } catch (e) {
        rmSync(tmp, { force: true });
        throw e;
    }
}

/** Writes `data` to `file` atomically, creating the folder when needed. Node's errors (naming the path) pass through. */
export async function writeFileAtomic(file: string, data: AtomicData, opts: AtomicWriteOptions = {}): Promise<void> {
    if (opts.mkdir !== false) await mkdir(path.dirname(file), { recursive: true });
    const tmp = tempPathFor(file);
    let handle: FileHandle | undefined;
    try {
        handle = await open(tmp, "wx");
        for (const chunk of chunksOf(data)) {
            let done = 0;
            while (done < chunk.byteLength) {
                const { bytesWritten } = await handle.write(chunk, done, chunk.byteLength - done);
                done += bytesWritten;
            }
        }
        await handle.sync();
        await handle.close();
        handle = undefined;
        await rename(tmp, file);
    } catch (e) {
        await handle?.close().catch(() => undefined);
        await rm(tmp, { force: true }).catch(() => undefined);
        throw e;
    }
}

/** Pretty JSON (two-space indent, final newline), written atomically. */
export function writeJsonAtomicSync(file: string, value: unknown): void {
    writeFileAtomicSync(file, `${JSON.stringify(value, null, 2)}\n`);
}
