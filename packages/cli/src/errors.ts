/**
 * CLI error handling: every failure ends in one line with the cause and a hint, and an exit code that
 * scripts can rely on.
 */

/** Exit codes of sam-ablate. */
export const EXIT = {
    OK: 0,
    /** A run failed (training diverged, I/O error, native error). */
    FAILURE: 1,
    /** Bad usage or input: unknown option, invalid plan, missing dataset folder. */
    USAGE: 2,
    /** A model or checkpoint problem (corrupt, wrong architecture, missing weights). */
    MODEL: 3,
    /** The native addon is missing or unusable. */
    ADDON: 4,
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

const HINTS: Record<string, string> = {
    ERR_SA_PLAN: "check the plan file against `sam-ablate ablate --help` (fields, strategy ids)",
    ERR_SA_STRATEGY:
        "strategy ids look like points10, points10_box, box_jitter5, pos50_neg50_box, centroid, four_sections",
    ERR_SA_CHECKPOINT_NOT_FOUND: "check the --checkpoint path",
    ERR_SA_CHECKPOINT_TRUNCATED: "the file is incomplete: download it again",
    ERR_SA_CHECKPOINT_CORRUPT: "the file is damaged (or built to expand past its declared sizes): download it again",
    ERR_SA_CHECKPOINT_LIMIT:
        "the file declares more data than a checkpoint needs; raise SA_MAX_DECODE_MB only for a file you trust",
    ERR_SA_CHECKPOINT_NONFINITE:
        "the weights hold NaN or infinity: use an intact checkpoint (or retrain with a lower lr)",
    ERR_SA_CHECKPOINT_INCOMPLETE: "pass a decoder.safetensors written by sam-ablate training for this model",
    ERR_SA_CHECKPOINT_MISMATCH: "evaluate a decoder with the --model and --checkpoint it was trained on",
    ERR_SA_CHECKPOINT_FORMAT: "expected a PyTorch .pth/.pt, a .safetensors or an .onnx file",
    ERR_SA_PICKLE: "the checkpoint's pickle is corrupt: download it again",
    ERR_SA_PICKLE_GLOBAL: "the checkpoint references code that is not allowed to load (only tensors and dicts are)",
    ERR_SA_WEIGHTS: "the weights do not match the model: pass the right --model for this checkpoint",
    ERR_SA_SHAPE: "the weights do not match the model: pass the right --model for this checkpoint",
    ERR_SA_MODEL: "see `sam-ablate doctor` for the models found",
    ERR_SA_ADDON_LOAD: "build the native addon: npm run build:native",
    ERR_SA_RUN_FOLDER: "choose a new --out folder, or rerun the same plan to resume",
    ERR_SA_DIVERGED: "lower the learning rate (training.lr) or set training.gradClipNorm",
    ERR_SA_NIFTI: "check the NIfTI file (it may be truncated or not NIfTI-1)",
    ERR_SA_DATASET: "check the dataset folder layout (see `sam-ablate prepare --help`)",
    ERR_SA_DATA: "check the dataset folder and its layout (see `sam-ablate prepare --help`)",
    ERR_SA_IO: "check that the path exists and is writable",
    ERR_SA_UNSUPPORTED: "run `sam-ablate doctor` to see which backends this build has",
};

function exitCodeFor(code: string): number {
    if (code === "ERR_SA_ABORTED") return EXIT.INTERRUPTED;
    if (code === "ERR_SA_ADDON_LOAD") return EXIT.ADDON;
    if (/CHECKPOINT|PICKLE|SAFETENSORS|ONNX|WEIGHTS|SHAPE|MODEL/.test(code)) return EXIT.MODEL;
    if (
        /USAGE|PLAN|STRATEGY|DATASET|DATA|SPLIT|REPORT_EFFORT|NIFTI|IMAGE|RUN_FOLDER|INVALID_ARG|EMPTY_MASK|MANIFEST/.test(
            code,
        )
    )
        return EXIT.USAGE;
    return EXIT.FAILURE;
}

/** Formats an error as "sam-ablate: <cause> [code]" + "  hint: ..." and returns the exit code. */
export function reportError(e: unknown, json: boolean): number {
    const err = e instanceof Error ? e : new Error(String(e));
    const rawCode = (err as { code?: unknown }).code;
    let code = typeof rawCode === "string" ? rawCode : "ERR_SA_INTERNAL";
    if (code === "ENOENT" || code === "EACCES" || code === "EROFS" || code === "ENOTDIR" || code === "EEXIST")
        code = "ERR_SA_IO";
    const hint = (err as CliError).hint ?? HINTS[code];
    const exit = exitCodeFor(code);
    const message = err.message.split("\n")[0] ?? err.message;
    if (json) {
        process.stdout.write(`${JSON.stringify({ ok: false, error: { code, message: err.message, hint } })}\n`);
    } else {
        process.stderr.write(`sam-ablate: ${message} [${code}]\n`);
        if (hint) process.stderr.write(`  hint: ${hint}\n`);
        if (process.env.SA_DEBUG && err.stack) process.stderr.write(`${err.stack}\n`);
    }
    return exit;
}
