/** Error thrown by `@sam-ablate/tensor` for a bad shape, dtype or data length. */
export class TensorError extends Error {
    /** Stable machine-readable code: `ERR_SA_TENSOR_SHAPE` or `ERR_SA_TENSOR_DTYPE`. */
    readonly code: "ERR_SA_TENSOR_SHAPE" | "ERR_SA_TENSOR_DTYPE";

    constructor(code: "ERR_SA_TENSOR_SHAPE" | "ERR_SA_TENSOR_DTYPE", message: string) {
        super(message);
        this.name = "TensorError";
        this.code = code;
    }
}
