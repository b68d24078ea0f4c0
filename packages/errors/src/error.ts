/**
 * The base of every error the TypeScript packages throw: a stable machine-readable `code`
 * (ERR_SA_...), a message that names the input and the problem, and where known the file it is about
 * and a hint for the user. Each package keeps its own subclass and its own codes; the CLI maps codes
 * to exit codes and hints in one table and prefers an error's own `hint`.
 */

export interface SamAblateErrorOptions {
    /** The error this one wraps. */
    cause?: unknown;
    /** The file (or caller-given label) the error is about. */
    file?: string;
    /** What the user can do about it (overrides the CLI's hint for the code). */
    hint?: string;
}

export class SamAblateError<Code extends string = string> extends Error {
    /** Stable machine-readable code. */
    readonly code: Code;
    /** The file (or caller-given label) the error is about, when there is one. */
    declare readonly file?: string;
    /** What the user can do about it, when the thrower knows better than the code's general hint. */
    declare readonly hint?: string;

    constructor(code: Code, message: string, options: SamAblateErrorOptions = {}) {
        super(message, "cause" in options ? { cause: options.cause } : undefined);
        this.name = new.target.name;
        this.code = code;
        if (options.file !== undefined) this.file = options.file;
        if (options.hint !== undefined) this.hint = options.hint;
    }
}

/** Message text of an unknown thrown value. */
export function errorText(err: unknown): string {
    return err instanceof Error ? err.message : String(err);
}
