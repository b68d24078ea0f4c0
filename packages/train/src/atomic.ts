/** Atomic file writes: a temporary file in the same folder, fsync, then rename over the target. */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import path from "node:path";

/** Writes `data` to `file` atomically (readers see the old or the new content, never a torn file). */
export function writeFileAtomicSync(file: string, data: string | Uint8Array): void {
    mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    const fd = openSync(tmp, "w");
    try {
        let off = 0;
        while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
        fsyncSync(fd);
    } catch (e) {
        closeSync(fd);
        rmSync(tmp, { force: true });
        throw e;
    }
    closeSync(fd);
    renameSync(tmp, file);
}

/** Pretty JSON, written atomically. */
export function writeJsonAtomic(file: string, value: unknown): void {
    writeFileAtomicSync(file, `${JSON.stringify(value, null, 2)}\n`);
}
