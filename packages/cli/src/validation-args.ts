/**
 * The validation, model-selection, early-stopping and learning-rate-schedule options shared by
 * `ablate` and `train`, and their translation into a plan's `validation` and `training.schedule`.
 */
import type { Argv } from "yargs";

export interface ValidationArgs {
    "val-fraction"?: number;
    "val-every"?: number;
    "val-max-images"?: number;
    selection?: "best-val" | "last";
    patience?: number;
    "min-delta"?: number;
    "lr-schedule"?: "constant" | "cosine" | "step";
}

/** Adds the options (no defaults: an option that is not given leaves the plan's value). */
export function validationOptions<T>(y: Argv<T>): Argv<T & ValidationArgs> {
    return y
        .option("val-fraction", {
            type: "number",
            describe:
                "share of the training patients held out for validation (patient-level, seeded); 0: none, the paper's protocol",
        })
        .option("val-every", { type: "number", describe: "validate every N steps (0: at every epoch end)" })
        .option("val-max-images", { type: "number", describe: "use at most N validation patches (0: all)" })
        .option("selection", {
            choices: ["best-val", "last"] as const,
            describe: "decoder.safetensors: the best validation epoch's weights or the last",
        })
        .option("patience", {
            type: "number",
            describe: "early stopping: epochs-end validations without a gain before stopping (0: never)",
        })
        .option("min-delta", {
            type: "number",
            describe: "early stopping: smallest validation Dice gain (fraction) that counts",
        })
        .option("lr-schedule", {
            choices: ["constant", "cosine", "step"] as const,
            describe: "learning-rate schedule (the paper: constant)",
        }) as Argv<T & ValidationArgs>;
}

/** The plan fields the options set (for resolvePlan); empty when none was given. */
export function validationOverrides(
    argv: ValidationArgs,
    current: unknown,
): { validation?: unknown; schedule?: unknown } {
    const out: { validation?: unknown; schedule?: unknown } = {};
    if (argv["lr-schedule"] !== undefined) out.schedule = argv["lr-schedule"];
    const given = {
        ...(argv["val-fraction"] !== undefined ? { fraction: argv["val-fraction"] } : {}),
        ...(argv["val-every"] !== undefined ? { everySteps: argv["val-every"] } : {}),
        ...(argv["val-max-images"] !== undefined ? { maxImages: argv["val-max-images"] } : {}),
        ...(argv.selection !== undefined ? { selection: argv.selection } : {}),
        ...(argv.patience !== undefined ? { patience: argv.patience } : {}),
        ...(argv["min-delta"] !== undefined ? { minDelta: argv["min-delta"] } : {}),
    };
    if (argv["val-fraction"] === 0) out.validation = "none";
    else if (Object.keys(given).length > 0)
        out.validation = { ...(current && typeof current === "object" ? current : {}), ...given };
    return out;
}
