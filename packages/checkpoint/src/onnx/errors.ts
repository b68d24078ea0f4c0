import { SamAblateError } from "@sam-ablate/errors";

/** Error raised for a malformed or unsupported ONNX file; `code` is always `ERR_SA_ONNX`. */
export class OnnxError extends SamAblateError<"ERR_SA_ONNX"> {
    /** The file (or a caller-given label) that was being read. */
    declare readonly file: string;
    /** Byte offset in the file where the problem was found, when known. */
    readonly offset: number | undefined;

    constructor(file: string, message: string, offset?: number) {
        super("ERR_SA_ONNX", offset === undefined ? `${file}: ${message}` : `${file}: ${message} (at byte ${offset})`, {
            file,
        });
        this.offset = offset;
    }
}
