/** Atomic file writes for the report (run-folder's writer with the report's error code). */
import { writeFileAtomic as writeAtomic } from "@sam-ablate/run-folder";
import { ReportError } from "./errors.js";

/**
 * Writes `data` to `file` atomically (readers see the old file or the complete new one, never a
 * partial one), creating the folder if needed. Throws ERR_SA_REPORT_WRITE naming the file.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
    try {
        await writeAtomic(file, data);
    } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        throw new ReportError("ERR_SA_REPORT_WRITE", `${file}: cannot write (${reason})`, { cause: err });
    }
}
