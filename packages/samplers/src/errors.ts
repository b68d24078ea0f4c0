import { SamAblateError } from "@sam-ablate/errors";

/**
 * Errors thrown by the prompt samplers. Every error carries a stable string `code` so callers can
 * branch on the kind of failure without parsing messages.
 */

/** Base class of every error thrown by `@sam-ablate/samplers`. */
export class SamplerError extends SamAblateError {
    constructor(code: string, message: string) {
        super(code, message);
    }
}

/** A prompt was requested for a mask without any foreground pixel. */
export class EmptyMaskError extends SamplerError {
    /** The image the mask belongs to, when the caller named it. */
    readonly imageId: string | number | undefined;

    constructor(imageId?: string | number) {
        const where = imageId === undefined ? "" : ` of image ${JSON.stringify(imageId)}`;
        super(
            "ERR_SA_EMPTY_MASK",
            `the ground-truth mask${where} has no foreground pixel: no prompt can be sampled from it`,
        );
        this.imageId = imageId;
    }
}

/** An argument is out of range or malformed (mask shape, count, seed, ...). */
export class SamplerArgumentError extends SamplerError {
    constructor(message: string) {
        super("ERR_SA_INVALID_ARG", message);
    }
}

/** A strategy id could not be parsed or a prompt plan is inconsistent. */
export class StrategyError extends SamplerError {
    constructor(message: string) {
        super("ERR_SA_STRATEGY", message);
    }
}

/**
 * `text` cut to `max` characters with the number of characters left out, for quoting user-supplied
 * values in messages (an id or value can be megabytes long).
 */
export function clip(text: string, max = 48): string {
    return text.length <= max ? text : `${text.slice(0, max)}... (${text.length - max} more characters)`;
}
