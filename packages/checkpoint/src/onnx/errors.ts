/** Error raised for a malformed or unsupported ONNX file; `code` is always `ERR_SA_ONNX`. */
export class OnnxError extends Error {
    /** Machine-readable error code. */
    readonly code = "ERR_SA_ONNX";
    /** The file (or a caller-given label) that was being read. */
    readonly file: string;
    /** Byte offset in the file where the problem was found, when known. */
    readonly offset: number | undefined;

    constructor(file: string, message: string, offset?: number) {
        super(offset === undefined ? `${file}: ${message}` : `${file}: ${message} (at byte ${offset})`);
        this.name = "OnnxError";
        this.file = file;
        this.offset = offset;
    }
}
