import { randomBytes } from "node:crypto";
import { open, rename, unlink } from "node:fs/promises";
import path from "node:path";

/**
 * Writes `chunks` to `file` atomically: into a temporary file in the same folder, flushed to disk,
 * then renamed over `file`. Readers see either the old file or the complete new one, never a
 * partial write; on failure the temporary file is removed and `file` is left untouched.
 */
export async function writeFileAtomic(file: string, chunks: Iterable<Uint8Array>): Promise<void> {
    const dir = path.dirname(file);
    const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
    const handle = await open(tmp, "wx");
    let ok = false;
    try {
        for (const chunk of chunks) {
            let done = 0;
            while (done < chunk.byteLength) {
                const { bytesWritten } = await handle.write(chunk, done, chunk.byteLength - done);
                done += bytesWritten;
            }
        }
        await handle.sync();
        ok = true;
    } finally {
        await handle.close();
        if (!ok) await unlink(tmp).catch(() => undefined);
    }
    try {
        await rename(tmp, file);
    } catch (err) {
        await unlink(tmp).catch(() => undefined);
        throw err;
    }
}
