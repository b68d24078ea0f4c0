/** Error raised for unreadable, corrupt or unsupported image files and invalid image buffers. */
export class ImageIoError extends Error {
    /** Stable machine-readable code. */
    readonly code = "ERR_SA_IMAGE";
    /** The file (or buffer label) the error is about. */
    readonly file: string;

    constructor(file: string, message: string, options?: { cause?: unknown }) {
        super(`${file}: ${message}`, options);
        this.name = "ImageIoError";
        this.file = file;
    }
}
