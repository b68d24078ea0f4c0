import { SamAblateError } from "@sam-ablate/errors";

export { errorText, quoted } from "@sam-ablate/errors";

/**
 * Error codes of the data package:
 * - ERR_SA_NIFTI: a NIfTI file that cannot be read or written (the message names the file and the problem);
 * - ERR_SA_DATA: bad preparation input (missing files, mismatched shapes, bad options, unwritable output);
 * - ERR_SA_SPLIT: an impossible or inconsistent train/test split;
 * - ERR_SA_MANIFEST: a prepared dataset whose manifest or patch files are invalid.
 */
export type DataErrorCode = "ERR_SA_NIFTI" | "ERR_SA_DATA" | "ERR_SA_SPLIT" | "ERR_SA_MANIFEST";

/** Error thrown by the data package; `code` is stable, the message names the file or option at fault. */
export class DataError extends SamAblateError<DataErrorCode> {}
