import { randomBytes } from "node:crypto";
import { type FileHandle, open, rename, unlink } from "node:fs/promises";
import path from "node:path";
import { CheckpointError } from "./errors.js";

const REASONS: Readonly<Record<string, string>> = {
    ENOENT: "its folder does not exist",
    ENOTDIR: "its folder does not exist",
    EACCES: "permission denied",
    EPERM: "permission denied",
    EROFS: "the file system is read-only",
    EISDIR: "a folder of that name is in the way",
    ENOSPC: "no space left on the device",
    EDQUOT: "disk quota exceeded",
};

function writeError(file: string, err: unknown): CheckpointError {
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    const reason =
        (code !== undefined ? REASONS[code] : undefined) ?? (err instanceof Error ? err.message : String(err));
    return new CheckpointError("ERR_SA_CHECKPOINT_IO", file, `cannot write: ${reason}`, { cause: err });
}

/**
 * Writes `chunks` to `file` atomically: into a temporary file in the same folder, flushed to disk,
 * then renamed over `file`. Readers see either the old file or the complete new one, never a
 * partial write; on failure the temporary file is removed, `file` is left untouched, and a
 * `CheckpointError` with code `ERR_SA_CHECKPOINT_IO` names `file`.
 */
export async function writeFileAtomic(file: string, chunks: Iterable<Uint8Array>): Promise<void> {
    const dir = path.dirname(file);
    const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
    let handle: FileHandle;
    try {
        handle = await open(tmp, "wx");
    } catch (err) {
        throw writeError(file, err);
    }
    try {
        try {
            for (const chunk of chunks) {
                let done = 0;
                while (done < chunk.byteLength) {
                    const { bytesWritten } = await handle.write(chunk, done, chunk.byteLength - done);
                    done += bytesWritten;
                }
            }
            await handle.sync();
        } finally {
            await handle.close();
        }
        await rename(tmp, file);
    } catch (err) {
        await unlink(tmp).catch(() => undefined);
        throw writeError(file, err);
    }
}
