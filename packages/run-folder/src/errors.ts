import { SamAblateError } from "@sam-ablate/errors";

/** Errors of the run folder: every one names the file or folder and says what is wrong. */
export type RunFolderErrorCode =
    /** The folder is not a run folder, belongs to another plan, or one of its files is unreadable or invalid. */
    | "ERR_SA_RUN_FOLDER"
    /** Another live process holds the lock of the folder or unit. */
    | "ERR_SA_LOCKED"
    /** A file could not be written (permissions, full disk, missing folder). */
    | "ERR_SA_IO";

export class RunFolderError extends SamAblateError<RunFolderErrorCode> {}

/** Cuts a value quoted in a message to a few dozen characters. */
export function quote(value: unknown, max = 40): string {
    let s: string;
    try {
        s = typeof value === "string" ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
    } catch {
        s = String(value);
    }
    return s.length > max ? `${s.slice(0, max)}...` : s;
}
