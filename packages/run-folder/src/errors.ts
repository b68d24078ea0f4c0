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
