import { SamAblateError } from "@sam-ablate/errors";

/**
 * Errors thrown by the metrics. Every error carries a stable string `code`.
 */

/** Base class of every error thrown by `@sam-ablate/metrics`. */
export class MetricError extends SamAblateError {
    constructor(code: string, message: string) {
        super(code, message);
    }
}

/** An argument is malformed or out of range (code `ERR_SA_INVALID_ARG`). */
export class MetricArgumentError extends MetricError {
    constructor(message: string) {
        super("ERR_SA_INVALID_ARG", message);
    }
}

/** A prediction and its ground truth (or two paired samples) differ in size (code `ERR_SA_SHAPE`). */
export class ShapeMismatchError extends MetricError {
    constructor(message: string) {
        super("ERR_SA_SHAPE", message);
    }
}
