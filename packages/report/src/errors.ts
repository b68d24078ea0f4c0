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

/**
 * A value quoted for an error message as JSON, cut to `max` characters: names and values read from
 * a file can be megabytes long, a message line stays short.
 */
export function quoted(value: unknown, max = 48): string {
    if (typeof value === "string") {
        return value.length <= max
            ? JSON.stringify(value)
            : `${JSON.stringify(value.slice(0, max))}... (${value.length} characters)`;
    }
    let text: string;
    try {
        text = String(JSON.stringify(value) ?? value);
    } catch {
        text = String(value);
    }
    return text.length <= max ? text : `${text.slice(0, max)}...`;
}
