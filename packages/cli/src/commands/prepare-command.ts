import {
    type BratsOptions,
    generatePhantoms,
    type IntensityReference,
    type LabelConvention,
    type PathologyPhantomLayout,
    prepareBcss,
    prepareBrats,
    RADIOLOGY_PHANTOM_LAYOUTS,
    type RadiologyPhantomLayout,
    type TumourRegion,
    writeFolds,
} from "@sam-ablate/data";
import type { CommandModule } from "yargs";
import { writeResult } from "../command-kit.js";
import { CliError } from "../errors.js";
import { createReporter } from "../progress.js";

export interface PrepareArgs {
    dataset: "brats" | "bcss" | "phantom-radiology" | "phantom-pathology";
    input?: string;
    out: string;
    seed: number;
    "train-fraction": number;
    modality?: string;
    "image-pattern"?: string;
    "label-pattern"?: string;
    channel?: string;
    "tumour-labels"?: string;
    region?: TumourRegion;
    "label-convention"?: LabelConvention;
    "intensity-reference"?: "auto" | IntensityReference;
    "skip-incomplete": boolean;
    "min-tumour-pixels"?: number;
    "tumour-code"?: number[];
    "patient-regex"?: string;
    layout?: string;
    patients: number;
    folds?: number;
    overwrite: boolean;
    json: boolean;
}

export const prepareCommand: CommandModule<object, PrepareArgs> = {
    command: "prepare <dataset>",
    describe:
        "Dataset -> 256x256 patches + manifest + patient split (brats | bcss | phantom-radiology | phantom-pathology)",
    builder: (y) =>
        y
            .positional("dataset", {
                choices: ["brats", "bcss", "phantom-radiology", "phantom-pathology"] as const,
                demandOption: true,
            })
            .option("input", {
                type: "string",
                describe:
                    "brats: BraTS 2020/2021/2023+ case folders, a Decathlon task or an nnU-Net raw dataset (detected); bcss: the BCSS release, an images/ + masks/ tile set (train/ val/ too) or a flat folder",
            })
            .option("out", {
                type: "string",
                demandOption: true,
                describe: "output folder (images/, masks/, manifest.json)",
            })
            .option("seed", { type: "number", default: 0, describe: "split seed (and phantom seed)" })
            .option("train-fraction", {
                type: "number",
                default: 0.8,
                describe: "fraction of patients in the training split",
            })
            .option("modality", {
                type: "string",
                describe:
                    "brats: modality copied to 3 channels (default flair; t2f/t1c/T1gd... accepted), or three separated by commas",
            })
            .option("image-pattern", {
                type: "string",
                describe: "brats, other layouts: image path with {case} and * folders, e.g. 'imgs/{case}/t1.nii.gz'",
            })
            .option("label-pattern", {
                type: "string",
                describe: "brats, other layouts: label path with {case}, e.g. 'labels/{case}.nii.gz'",
            })
            .option("channel", {
                type: "string",
                describe:
                    "brats with --image-pattern: 4th-dimension index of a 4-D image (one, or three separated by commas)",
            })
            .option("tumour-labels", {
                type: "string",
                describe: "brats: label values that count as tumour, e.g. 1,2,4, or 'nonzero' (default)",
            })
            .option("region", {
                choices: ["wt", "tc", "et"] as const,
                describe: "brats: whole tumour, tumour core or enhancing tumour (instead of --tumour-labels)",
            })
            .option("label-convention", {
                choices: ["2015", "2020", "2023", "msd"] as const,
                describe: "brats: label numbering behind --region (default: the layout's)",
            })
            .option("intensity-reference", {
                choices: ["auto", "positive", "nonzero", "foreground", "all"] as const,
                describe:
                    "brats: voxels the intensity window is taken over (auto: positive for raw volumes, non-background for normalised ones)",
            })
            .option("skip-incomplete", {
                type: "boolean",
                default: false,
                describe: "skip cases/regions with a missing file (with a warning)",
            })
            .option("min-tumour-pixels", {
                type: "number",
                describe: "brats: slices with at least this many tumour pixels (default 100)",
            })
            .option("tumour-code", {
                type: "number",
                array: true,
                describe: "bcss: label codes that count as tumour (default 1; 255 for binary masks, detected)",
            })
            .option("patient-regex", {
                type: "string",
                describe:
                    "bcss: regular expression whose first group (or match) is the patient id (default: the TCGA barcode's case id)",
            })
            .option("layout", {
                type: "string",
                describe: `phantoms: on-disk layout (radiology: ${RADIOLOGY_PHANTOM_LAYOUTS.join(", ")}; pathology: bcss, tiles)`,
            })
            .option("patients", { type: "number", default: 8, describe: "phantoms: number of patients" })
            .option("folds", {
                type: "number",
                describe:
                    "also assign the patients to K cross-validation folds (patient-level, stratified by tumour size; recorded in the manifest)",
            })
            .option("overwrite", { type: "boolean", default: false, describe: "replace an existing output folder" })
            .example("$0 prepare brats --input MICCAI_BraTS2020_TrainingData --out data/brats", "BraTS 2020 -> patches")
            .example("$0 prepare bcss --input BCSS --out data/bcss", "BCSS regions -> patches")
            .example(
                "$0 prepare phantom-radiology --out data/phantom-mri",
                "synthetic MRI phantoms, prepared as BraTS",
            ) as never,
    handler: async (argv) => {
        const rep = createReporter({ json: argv.json });
        const common = {
            outDir: argv.out,
            seed: argv.seed,
            trainFraction: argv["train-fraction"],
            overwrite: argv.overwrite,
            onProgress: (e: { done: number; total: number; source: string }) =>
                rep.progress("prepare", e.done, e.total, e.source),
            onWarning: (m: string) => rep.info(`warning: ${m}`),
        };
        let result: Awaited<ReturnType<typeof prepareBrats>>;
        if (argv.dataset === "brats" || argv.dataset === "bcss") {
            if (!argv.input)
                throw new CliError(`prepare ${argv.dataset}: --input <folder> is required`, "ERR_SA_USAGE");
            result =
                argv.dataset === "brats"
                    ? await prepareBrats({ ...common, inputDir: argv.input, ...bratsOptions(argv) })
                    : await prepareBcss({
                          ...common,
                          inputDir: argv.input,
                          skipIncomplete: argv["skip-incomplete"],
                          ...(argv["tumour-code"] ? { tumourCodes: argv["tumour-code"] } : {}),
                          ...(argv["patient-regex"] ? { patientRegex: argv["patient-regex"] } : {}),
                      });
        } else {
            const kind = argv.dataset === "phantom-radiology" ? "radiology" : "pathology";
            const raw = `${argv.out}.raw`;
            rep.stage(`generating ${kind} phantoms into ${raw}`);
            const phantoms = { outDir: raw, patients: argv.patients, seed: argv.seed, overwrite: argv.overwrite };
            if (kind === "radiology") {
                const layout = (argv.layout ?? "brats2020") as RadiologyPhantomLayout;
                await generatePhantoms({ kind, ...phantoms, layout });
                result = await prepareBrats({ ...common, inputDir: raw, ...bratsOptions(argv) });
            } else {
                const layout = (argv.layout ?? "bcss") as PathologyPhantomLayout;
                await generatePhantoms({ kind, ...phantoms, layout });
                result = await prepareBcss({ ...common, inputDir: raw });
            }
        }
        const folds = argv.folds === undefined ? undefined : await writeFolds(result.outDir, argv.folds, argv.seed);
        rep.done();
        const m = result.manifest;
        const train = m.patches.filter((p) => p.split === "train").length;
        const summary = {
            ok: true,
            out: result.outDir,
            patches: m.patches.length,
            train,
            test: m.patches.length - train,
            ...(folds ? { folds: folds.patients } : {}),
            warnings: result.warnings,
        };
        writeResult(argv.json, summary, () => [
            `${summary.patches} patches (${train} train, ${summary.test} test) -> ${result.outDir}`,
            ...(folds ? [`${folds.k} folds of patients: ${folds.patients.map((f) => f.length).join(" / ")}`] : []),
        ]);
    },
};

function numberList(flag: string, text: string): number[] {
    const out = text.split(",").map((t) => Number(t.trim()));
    if (out.length === 0 || out.some((v) => !Number.isInteger(v))) {
        throw new CliError(`${flag} takes integers separated by commas, got '${text}'`, "ERR_SA_USAGE");
    }
    return out;
}

/** The radiology options of the command line. */
function bratsOptions(argv: PrepareArgs): Omit<BratsOptions, "inputDir" | "outDir"> {
    const modality = argv.modality?.includes(",") ? argv.modality.split(",").map((m) => m.trim()) : argv.modality;
    if (Array.isArray(modality) && modality.length !== 3) {
        throw new CliError(
            `--modality takes one name or three separated by commas, got '${argv.modality}'`,
            "ERR_SA_USAGE",
        );
    }
    const labels = argv["tumour-labels"];
    return {
        ...(modality ? { modality: modality as string | [string, string, string] } : {}),
        ...(argv["image-pattern"] ? { imagePattern: argv["image-pattern"] } : {}),
        ...(argv["label-pattern"] ? { labelPattern: argv["label-pattern"] } : {}),
        ...(argv.channel !== undefined ? { channel: numberList("--channel", String(argv.channel)) } : {}),
        ...(labels !== undefined
            ? { tumourLabels: labels === "nonzero" ? "nonzero" : numberList("--tumour-labels", labels) }
            : {}),
        ...(argv.region ? { region: argv.region } : {}),
        ...(argv["label-convention"] ? { labelConvention: argv["label-convention"] } : {}),
        ...(argv["intensity-reference"] ? { intensityReference: argv["intensity-reference"] } : {}),
        ...(argv["min-tumour-pixels"] ? { minTumourPixels: argv["min-tumour-pixels"] } : {}),
        skipIncomplete: argv["skip-incomplete"],
    };
}
