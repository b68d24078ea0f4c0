import type { CommandModule } from "yargs";
import { generatePhantoms, prepareBcss, prepareBrats } from "@sam-ablate/data";
import { CliError } from "../errors.js";
import { createReporter } from "../progress.js";

export interface PrepareArgs {
    dataset: "brats" | "bcss" | "phantom-radiology" | "phantom-pathology";
    input?: string;
    out: string;
    seed: number;
    "train-fraction": number;
    modality?: string;
    "min-tumour-pixels"?: number;
    "tumour-code"?: number[];
    patients: number;
    overwrite: boolean;
    json: boolean;
}

export const prepareCommand: CommandModule<object, PrepareArgs> = {
    command: "prepare <dataset>",
    describe: "Dataset -> 256x256 patches + manifest + patient split (brats | bcss | phantom-radiology | phantom-pathology)",
    builder: (y) =>
        y
            .positional("dataset", { choices: ["brats", "bcss", "phantom-radiology", "phantom-pathology"] as const, demandOption: true })
            .option("input", { type: "string", describe: "BraTS: folder of patient folders; BCSS: folder with rgbs_colorNormalized/ and masks/ (or a flat folder)" })
            .option("out", { type: "string", demandOption: true, describe: "output folder (images/, masks/, manifest.json)" })
            .option("seed", { type: "number", default: 0, describe: "split seed (and phantom seed)" })
            .option("train-fraction", { type: "number", default: 0.8, describe: "fraction of patients in the training split" })
            .option("modality", { type: "string", describe: "BraTS modality copied to 3 channels (default flair)" })
            .option("min-tumour-pixels", { type: "number", describe: "BraTS: slices with at least this many tumour pixels (default 100)" })
            .option("tumour-code", { type: "number", array: true, describe: "BCSS: label codes that count as tumour (default 1)" })
            .option("patients", { type: "number", default: 8, describe: "phantoms: number of patients" })
            .option("overwrite", { type: "boolean", default: false, describe: "replace an existing output folder" })
            .example("$0 prepare brats --input MICCAI_BraTS2020_TrainingData --out data/brats", "BraTS 2020 -> patches")
            .example("$0 prepare bcss --input BCSS --out data/bcss", "BCSS regions -> patches")
            .example("$0 prepare phantom-radiology --out data/phantom-mri", "synthetic MRI phantoms, prepared as BraTS") as never,
    handler: async (argv) => {
        const rep = createReporter({ json: argv.json });
        const common = {
            outDir: argv.out,
            seed: argv.seed,
            trainFraction: argv["train-fraction"],
            overwrite: argv.overwrite,
            onProgress: (e: { done: number; total: number; source: string }) => rep.progress("prepare", e.done, e.total, e.source),
            onWarning: (m: string) => rep.info(`warning: ${m}`),
        };
        let result;
        if (argv.dataset === "brats" || argv.dataset === "bcss") {
            if (!argv.input) throw new CliError(`prepare ${argv.dataset}: --input <folder> is required`, "ERR_SA_USAGE");
            result =
                argv.dataset === "brats"
                    ? await prepareBrats({ ...common, inputDir: argv.input, ...(argv.modality ? { modality: argv.modality } : {}), ...(argv["min-tumour-pixels"] ? { minTumourPixels: argv["min-tumour-pixels"] } : {}) })
                    : await prepareBcss({ ...common, inputDir: argv.input, ...(argv["tumour-code"] ? { tumourCodes: argv["tumour-code"] } : {}) });
        } else {
            const kind = argv.dataset === "phantom-radiology" ? "radiology" : "pathology";
            const raw = `${argv.out}.raw`;
            rep.stage(`generating ${kind} phantoms into ${raw}`);
            await generatePhantoms({ kind, outDir: raw, patients: argv.patients, seed: argv.seed, overwrite: argv.overwrite });
            result = kind === "radiology" ? await prepareBrats({ ...common, inputDir: raw }) : await prepareBcss({ ...common, inputDir: raw });
        }
        rep.done();
        const m = result.manifest;
        const train = m.patches.filter((p) => p.split === "train").length;
        const summary = { ok: true, out: result.outDir, patches: m.patches.length, train, test: m.patches.length - train, warnings: result.warnings };
        if (argv.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
        else process.stdout.write(`${summary.patches} patches (${train} train, ${summary.test} test) -> ${result.outDir}\n`);
    },
};
