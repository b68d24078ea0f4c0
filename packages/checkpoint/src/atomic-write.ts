import { writeFileAtomic as writeAtomic } from "@sam-ablate/run-folder";
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
 * Writes `chunks` to `file` atomically (run-folder's writer: temporary file, flush, rename). The
 * folder must exist; on failure `file` is left untouched and a `CheckpointError` with code
 * `ERR_SA_CHECKPOINT_IO` names `file`.
 */
export async function writeFileAtomic(file: string, chunks: Iterable<Uint8Array>): Promise<void> {
    try {
        await writeAtomic(file, chunks, { mkdir: false });
    } catch (err) {
        throw writeError(file, err);
    }
}
