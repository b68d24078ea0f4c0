import path from "node:path";
import { loadDataset } from "@sam-ablate/data";
import { resolvePlan } from "@sam-ablate/train";
import type { CommandModule } from "yargs";
import {
    decoderPrecisionOption,
    type ModelArgs,
    modelOptions,
    modelSelection,
    PRECISION_NOTE,
    type RunArgs,
    runPlanCommand,
} from "../command-kit.js";
import { CliError } from "../errors.js";
import { usageFolds } from "../folds.js";
import { RUN_OPTIONS } from "../run-plan.js";
import { type ValidationArgs, validationOptions, validationOverrides } from "../validation-args.js";

export interface TrainArgs extends ValidationArgs, ModelArgs, RunArgs {
    data: string;
    kind: "radiology" | "pathology";
    strategy: string;
    fold?: string;
    out?: string;
    epochs: number;
    steps: number;
    batch: number;
    lr: number;
    "weight-decay": number;
    optimizer: "adam" | "adamw";
    loss: "dicece" | "medsam" | "sam";
    "grad-clip": number;
    seed: number;
}

export const trainCommand: CommandModule<object, TrainArgs> = {
    command: "train",
    describe: "Fine-tune the mask decoder for one prompt strategy on a prepared dataset (and evaluate it)",
    builder: (y) =>
        validationOptions(y)
            .option("data", {
                type: "string",
                demandOption: true,
                describe: "prepared dataset folder (from `prepare`)",
            })
            .option("kind", { choices: ["radiology", "pathology"] as const, default: "radiology" as const })
            .option("strategy", {
                type: "string",
                demandOption: true,
                describe: "e.g. points10_box, box_jitter5, pos50_neg50_box, centroid",
            })
            .option("fold", {
                type: "string",
                describe:
                    "cross-validation: train and evaluate fold k (or k,l,...) or 'all' of a dataset prepared with --folds K; one run folder holds every fold",
            })
            .option("out", { type: "string", describe: "run folder (default runs/train-<strategy>)" })
            .options(modelOptions(PRECISION_NOTE))
            .option("decoder-precision", decoderPrecisionOption)
            .option("epochs", { type: "number", default: 75 })
            .option("steps", { type: "number", default: 75, describe: "steps per epoch" })
            .option("batch", { type: "number", default: 1 })
            .option("lr", { type: "number", default: 1e-4 })
            .option("weight-decay", { type: "number", default: 1e-4 })
            .option("optimizer", { choices: ["adam", "adamw"] as const, default: "adam" as const })
            .option("loss", { choices: ["dicece", "medsam", "sam"] as const, default: "dicece" as const })
            .option("grad-clip", { type: "number", default: 0 })
            .option("seed", { type: "number", default: 0 })
            .options(RUN_OPTIONS)
            .example(
                "$0 train --data data/brats --strategy points10_box --epochs 75 --steps 75 --val-fraction 0",
                "the paper's protocol for one strategy",
            )
            .example(
                "$0 train --data data/brats --strategy points10_box --fold all",
                "every cross-validation fold of a dataset prepared with --folds K, in one run folder",
            )
            .example(
                "$0 train --data data/brats --strategy box --patience 10 --lr-schedule cosine",
                "validation (15% of the training patients), early stopping, cosine schedule",
            ) as never,
    handler: async (argv) => {
        let folds: "all" | number[] | undefined;
        if (argv.fold !== undefined) {
            const k = (await loadDataset(argv.data)).manifest.folds?.k;
            if (k === undefined)
                throw new CliError(
                    `${argv.data}: --fold ${argv.fold}, but the dataset has no folds (prepare it with --folds K)`,
                    "ERR_SA_USAGE",
                );
            folds = usageFolds(argv.fold, k);
        }
        // Without a plan, train validates on 15% of the training patients unless told otherwise.
        const v = validationOverrides({ ...argv, "val-fraction": argv["val-fraction"] ?? 0.15 }, undefined);
        const { backend, precision, decoderPrecision, ...model } = modelSelection(argv);
        const plan = resolvePlan({
            extends: "paper",
            name: `train-${argv.strategy}`,
            model,
            backend,
            ...(precision ? { precision } : {}),
            ...(decoderPrecision ? { decoderPrecision } : {}),
            datasets: [
                {
                    name: path.basename(path.resolve(argv.data)),
                    kind: argv.kind,
                    source: { type: "prepared", dir: argv.data },
                    strategies: [argv.strategy],
                    ...(folds ? { folds } : {}),
                },
            ],
            training: {
                epochs: argv.epochs,
                stepsPerEpoch: argv.steps,
                batch: argv.batch,
                lr: argv.lr,
                weightDecay: argv["weight-decay"],
                optimizer: argv.optimizer,
                loss: argv.loss,
                gradClipNorm: argv["grad-clip"],
                seeds: [argv.seed],
                ...(v.schedule !== undefined ? { schedule: v.schedule } : {}),
            },
            validation: v.validation,
        });
        const out = argv.out ?? path.join("runs", plan.name);
        await runPlanCommand("train", plan, out, argv);
    },
};
