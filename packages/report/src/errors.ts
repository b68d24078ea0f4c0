import { SamAblateError } from "@sam-ablate/errors";

export { quoted } from "@sam-ablate/errors";

/** Error codes thrown by the report package. */
export type ReportErrorCode =
    /** The run results are inconsistent (metric out of range, sample arrays of the wrong size, ...). */
    | "ERR_SA_REPORT_INPUT"
    /** An effort table (Figure 10) is malformed. */
    | "ERR_SA_REPORT_EFFORT"
    /** A report file could not be written. */
    | "ERR_SA_REPORT_WRITE";

/** An error of the report package; `code` says what kind, the message names the input and the problem. */
export class ReportError extends SamAblateError<ReportErrorCode> {}
