/** Error codes thrown by the report package. */
export type ReportErrorCode =
    /** The run results are inconsistent (metric out of range, sample arrays of the wrong size, ...). */
    | "ERR_SA_REPORT_INPUT"
    /** An effort table (Figure 10) is malformed. */
    | "ERR_SA_REPORT_EFFORT"
    /** A report file could not be written. */
    | "ERR_SA_REPORT_WRITE";

/** An error of the report package; `code` says what kind, the message names the input and the problem. */
export class ReportError extends Error {
    readonly code: ReportErrorCode;

    constructor(code: ReportErrorCode, message: string, options?: { cause?: unknown }) {
        super(message, options);
        this.name = "ReportError";
        this.code = code;
    }
}
