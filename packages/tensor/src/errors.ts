import { SamAblateError } from "@sam-ablate/errors";

/** Error thrown by `@sam-ablate/tensor` for a bad shape, dtype or data length (`ERR_SA_TENSOR_SHAPE` or `ERR_SA_TENSOR_DTYPE`). */
export class TensorError extends SamAblateError<"ERR_SA_TENSOR_SHAPE" | "ERR_SA_TENSOR_DTYPE"> {
    constructor(code: "ERR_SA_TENSOR_SHAPE" | "ERR_SA_TENSOR_DTYPE", message: string) {
        super(code, message);
    }
}
