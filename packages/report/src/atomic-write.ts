/** Atomic file writes: a temporary file in the same folder, then a rename over the target. */
import { randomBytes } from "node:crypto";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { ReportError } from "./errors.js";

/**
 * Writes `data` to `file` atomically (readers see the old file or the complete new one, never a
 * partial one), creating the folder if needed. Throws ERR_SA_REPORT_WRITE naming the file.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
    const dir = path.dirname(file);
    const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
    try {
        await mkdir(dir, { recursive: true });
        await writeFile(tmp, data);
        await rename(tmp, file);
    } catch (err) {
        await rm(tmp, { force: true }).catch(() => undefined);
        const reason = err instanceof Error ? err.message : String(err);
        throw new ReportError("ERR_SA_REPORT_WRITE", `${file}: cannot write (${reason})`, { cause: err });
    }
}
