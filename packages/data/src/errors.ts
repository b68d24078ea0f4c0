/**
 * Error codes of the data package:
 * - ERR_SA_NIFTI: a NIfTI file that cannot be read or written (the message names the file and the problem);
 * - ERR_SA_DATA: bad preparation input (missing files, mismatched shapes, bad options, unwritable output);
 * - ERR_SA_SPLIT: an impossible or inconsistent train/test split;
 * - ERR_SA_MANIFEST: a prepared dataset whose manifest or patch files are invalid.
 */
export type DataErrorCode = "ERR_SA_NIFTI" | "ERR_SA_DATA" | "ERR_SA_SPLIT" | "ERR_SA_MANIFEST";

/** Error thrown by the data package; `code` is stable, the message names the file or option at fault. */
export class DataError extends Error {
    readonly code: DataErrorCode;

    constructor(code: DataErrorCode, message: string, options?: { cause?: unknown }) {
        super(message, options);
        this.name = "DataError";
        this.code = code;
    }
}

/** Message text of an unknown thrown value. */
export function errorText(err: unknown): string {
    return err instanceof Error ? err.message : String(err);
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
