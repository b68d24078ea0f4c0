import { SamAblateError } from "@sam-ablate/errors";

export { quoted } from "@sam-ablate/errors";

/** Error codes carried by {@link CheckpointError}. */
export type CheckpointErrorCode =
    /** The file does not exist. */
    | "ERR_SA_CHECKPOINT_NOT_FOUND"
    /** The file could not be read or written (permissions, a directory, a missing folder, an I/O error). */
    | "ERR_SA_CHECKPOINT_IO"
    /** The file ends before the data its own headers describe. */
    | "ERR_SA_CHECKPOINT_TRUNCATED"
    /** A record's bytes do not match their checksum, or compressed data does not inflate. */
    | "ERR_SA_CHECKPOINT_CORRUPT"
    /** Not a checkpoint in a supported format, or a checkpoint with no state dict. */
    | "ERR_SA_CHECKPOINT_FORMAT"
    /** The pickle stream of a `.pth` is malformed. */
    | "ERR_SA_PICKLE"
    /** The pickle stream refers to a Python global outside the allow-list (code execution refused). */
    | "ERR_SA_PICKLE_GLOBAL"
    /** A safetensors header or data section is invalid. */
    | "ERR_SA_SAFETENSORS"
    /** A record or tensor would decode to more than the limit (SA_MAX_DECODE_MB); refused before allocating. */
    | "ERR_SA_CHECKPOINT_LIMIT"
    /** A tensor holds NaN or infinite values (corrupt weights or a diverged training). */
    | "ERR_SA_CHECKPOINT_NONFINITE"
    /** A decoder file lacks tensors of the decoder, has extra or misshapen ones. */
    | "ERR_SA_CHECKPOINT_INCOMPLETE"
    /** A decoder file was trained for another model or checkpoint (its metadata says which). */
    | "ERR_SA_CHECKPOINT_MISMATCH";

/**
 * Error for any problem with a checkpoint file. The message starts with the file name (or the
 * caller's label for in-memory bytes) and says what is wrong.
 */
export class CheckpointError extends SamAblateError<CheckpointErrorCode> {
    /** The file (or caller-given label) being read or written. */
    declare readonly file: string;

    constructor(code: CheckpointErrorCode, file: string, message: string, options?: { cause?: unknown }) {
        super(code, `${file}: ${message}`, { ...options, file });
    }
}

/** Label used in messages when in-memory bytes are read without a file name. */
export const IN_MEMORY = "<bytes>";
