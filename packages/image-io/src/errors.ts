import { SamAblateError } from "@sam-ablate/errors";

/** Error raised for unreadable, corrupt or unsupported image files and invalid image buffers (code ERR_SA_IMAGE). */
export class ImageIoError extends SamAblateError<"ERR_SA_IMAGE"> {
    /** The file (or buffer label) the error is about. */
    declare readonly file: string;

    constructor(file: string, message: string, options?: { cause?: unknown }) {
        super("ERR_SA_IMAGE", `${file}: ${message}`, { ...options, file });
    }
}
