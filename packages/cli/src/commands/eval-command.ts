import { existsSync } from "node:fs";
import path from "node:path";
import { loadDataset } from "@sam-ablate/data";
import type { NativeSamDecoder } from "@sam-ablate/native";
import { type RunResults, renderReport, type StrategyResult } from "@sam-ablate/report";
import { writeFileAtomicSync, writeJsonAtomicSync } from "@sam-ablate/run-folder";
import { parseStrategy, type StrategyDefinition } from "@sam-ablate/samplers";
import {
    checkDecoderFile,
    decoderProvenance,
    ensureTestEmbeddings,
    evaluateDecoder,
    evaluationPrompts,
    type ImageRecord,
    kindOfManifest,
    loadDecoderWeights,
    type PreparedData,
    prepareDataset,
    presetPlan,
    promptCounts,
} from "@sam-ablate/train";
import type { CommandModule } from "yargs";
import { decoderPrecisionOption, loadModelFor, type ModelArgs, modelOptions, writeResult } from "../command-kit.js";
import { CliError } from "../errors.js";
import { usageFolds } from "../folds.js";
import { onInterrupt } from "../interrupt.js";
import { LORA_OPTION, loraLoadOption } from "../lora.js";
import { createReporter } from "../progress.js";
import { VERSION } from "../version.js";

const DECODER_HINT =
    "--decoder takes the decoder.safetensors of a run (results/<dataset>/<strategy>/seed<k>/decoder.safetensors)";

const CONTENT_ERRORS = new Set([
    "ERR_SA_CHECKPOINT_MISMATCH",
    "ERR_SA_CHECKPOINT_INCOMPLETE",
    "ERR_SA_CHECKPOINT_NONFINITE",
]);

/** Adds the --decoder hint to an error about the decoder file's format (its content errors keep their own hints). */
function withDecoderHint(e: unknown): Error {
    if (CONTENT_ERRORS.has((e as { code?: string }).code ?? "")) return e as Error;
    return Object.assign(e as Error, { hint: DECODER_HINT });
}

export interface EvalArgs extends ModelArgs {
    data: string;
    kind?: "radiology" | "pathology";
    strategy: string[];
    decoder?: string;
    lora?: string;
    "zero-shot": boolean;
    seed: number;
    "max-test"?: number;
    fold?: number;
    "cache-dir"?: string;
    out?: string;
    json: boolean;
}

/** One evaluation of `eval`: a strategy with one decoder; metrics as fractions. */
interface EvalRecord {
    strategy: string;
    label: string;
    decoder: "fine-tuned" | "pretrained";
    perImage: ImageRecord[];
    excluded: number;
    dice: number;
    iou: number;
}

/**
 * Where a prepared dataset folder sits: `<run>/data/<name>/patches` of an `ablate` run (its cache is
 * `<run>/cache` and its name `<name>`), or anywhere else (its name is the folder's name).
 */
function locate(dataDir: string): { name: string; runDir?: string } {
    const abs = path.resolve(dataDir);
    if (path.basename(abs) === "patches") {
        const named = path.dirname(abs);
        const runDir = path.dirname(path.dirname(named));
        if (path.basename(path.dirname(named)) === "data" && existsSync(path.join(runDir, "config.json"))) {
            return { name: path.basename(named), runDir };
        }
    }
    return { name: path.basename(abs) };
}

async function evaluateOne(
    decoder: NativeSamDecoder,
    data: PreparedData,
    emb: (i: number) => Float32Array,
    strat: StrategyDefinition,
    seed: number,
    imgSize: number,
    kind: EvalRecord["decoder"],
): Promise<EvalRecord> {
    const test = {
        ids: data.test.ids,
        patients: data.test.patients,
        height: data.height,
        width: data.width,
        embedding: emb,
        mask: (i: number) => data.test.mask(i),
    };
    const r = await evaluateDecoder(decoder, test, evaluationPrompts(test, strat.plan, seed), {
        imgSize,
        ignoreEmpty: true,
    });
    return {
        strategy: strat.id,
        label: strat.label,
        decoder: kind,
        perImage: r.perImage.map((p) => ({
            imageId: p.imageId,
            patient: p.patient,
            dice: p.dice,
            iou: p.iou,
            prompt: promptCounts(p.prompt),
        })),
        excluded: r.excluded,
        dice: r.meanDice,
        iou: r.meanIou,
    };
}

const pct = (v: number | null) => (v === null ? "" : String(v * 100));

function perImageCsv(dataset: string, records: readonly EvalRecord[]): string {
    const lines = [
        "dataset,strategy,decoder,image_id,patient,dice_pct,iou_pct,excluded,prompt_positives,prompt_negatives,prompt_box",
    ];
    for (const r of records) {
        for (const p of r.perImage) {
            const pr = p.prompt;
            lines.push(
                [
                    dataset,
                    r.strategy,
                    r.decoder,
                    p.imageId,
                    p.patient,
                    pct(p.dice),
                    pct(p.iou),
                    p.dice === null ? 1 : 0,
                    pr?.positives ?? "",
                    pr?.negatives ?? "",
                    pr ? (pr.box ? 1 : 0) : "",
                ]
                    .map((v) => (/[",\n]/.test(String(v)) ? `"${String(v).replace(/"/g, '""')}"` : String(v)))
                    .join(","),
            );
        }
    }
    return `${lines.join("\n")}\n`;
}

export const evalCommand: CommandModule<object, EvalArgs> = {
    command: "eval",
    describe: "Evaluate a decoder (pretrained or fine-tuned) with prompt strategies on a prepared dataset's test split",
    builder: (y) =>
        y
            .option("data", {
                type: "string",
                demandOption: true,
                describe: "prepared dataset folder (its manifest gives the kind)",
            })
            .option("kind", {
                choices: ["radiology", "pathology"] as const,
                describe: "expected kind; an error when the manifest says otherwise",
            })
            .option("strategy", {
                type: "string",
                array: true,
                demandOption: true,
                describe: "one or more strategy ids",
            })
            .option("decoder", {
                type: "string",
                describe: "fine-tuned decoder weights (decoder.safetensors of a run); default: the pretrained decoder",
            })
            .option("lora", LORA_OPTION)
            .option("zero-shot", {
                type: "boolean",
                default: false,
                describe:
                    "with --decoder: also evaluate the pretrained decoder with the same prompts (paired baseline)",
            })
            .options(modelOptions("must match the one the embedding cache was made with"))
            .option("decoder-precision", decoderPrecisionOption)
            .option("seed", {
                type: "number",
                default: 1234,
                describe: "evaluation prompt seed (a run's evaluation.seed)",
            })
            .option("fold", {
                type: "number",
                describe: "cross-validation: evaluate on fold k's test patients (a dataset prepared with --folds K)",
            })
            .option("max-test", {
                type: "number",
                describe: "evaluate an evenly spaced subset of this many test patches (a plan's maxTest)",
            })
            .option("cache-dir", {
                type: "string",
                describe:
                    "embedding cache folder (default: the run's cache for <run>/data/<name>/patches, else runs/cache)",
            })
            .option("out", {
                type: "string",
                describe: "folder for per-image.csv, result.json and the report's tables and figures",
            })
            .example(
                "$0 eval --data runs/demo/data/radiology-phantom/patches --strategy box points3",
                "the pretrained decoder, reusing the run's embeddings",
            )
            .example(
                "$0 eval --data runs/demo/data/radiology-phantom/patches --strategy box --decoder runs/demo/results/radiology-phantom/box/seed0/decoder.safetensors --zero-shot --out eval-box",
                "a fine-tuned decoder beside the pretrained one, with tables",
            ) as never,
    handler: async (argv) => {
        const rep = createReporter({ json: argv.json });
        const strategies = argv.strategy.map((s) => parseStrategy(String(s)));
        if (argv["zero-shot"] && !argv.decoder)
            throw new CliError(
                "eval: --zero-shot compares a --decoder with the pretrained one; give --decoder",
                "ERR_SA_USAGE",
            );
        if (argv.decoder && !existsSync(argv.decoder))
            throw new CliError(`${argv.decoder}: no such decoder file`, "ERR_SA_USAGE", DECODER_HINT);
        if (argv.decoder) {
            try {
                checkDecoderFile(argv.decoder);
            } catch (e) {
                throw withDecoderHint(e);
            }
        }
        const manifest = (await loadDataset(argv.data)).manifest;
        const kind = kindOfManifest(manifest.kind);
        if (argv.fold !== undefined) {
            if (!manifest.folds)
                throw new CliError(
                    `${argv.data}: --fold ${argv.fold}, but the dataset has no folds (prepare it with --folds K)`,
                    "ERR_SA_USAGE",
                );
            usageFolds(argv.fold, manifest.folds.k);
        }
        if (argv.kind && argv.kind !== kind) {
            throw new CliError(
                `${argv.data}: --kind ${argv.kind}, but its manifest describes a ${kind} dataset`,
                "ERR_SA_USAGE",
            );
        }
        const where = locate(argv.data);
        const cacheDir =
            argv["cache-dir"] ?? (where.runDir ? path.join(where.runDir, "cache") : path.join("runs", "cache"));
        const lora = await loraLoadOption(argv.lora, argv.decoder);
        const model = await loadModelFor(argv, lora.load);
        lora.check(model);
        const data = await prepareDataset(
            {
                name: where.name,
                kind,
                source: { type: "prepared", dir: argv.data },
                ...(argv.fold !== undefined ? { folds: [argv.fold] } : {}),
                ...(argv["max-test"] ? { maxTest: argv["max-test"] } : {}),
            },
            { ...presetPlan("quick"), validation: "none" },
            cacheDir,
            argv.fold,
        );
        const interrupt = onInterrupt((m) => rep.info(m), "rerun the same command to evaluate");
        const emb = await ensureTestEmbeddings(
            model,
            data,
            cacheDir,
            (d, t) => rep.progress(`embed ${data.test.ids.length} test patches`, d, t),
            interrupt.signal,
        ).finally(() => interrupt.dispose());
        if (emb.fromCache) rep.info(`embeddings from ${emb.file}`);
        const pretrained = model.newDecoder();
        let tuned: NativeSamDecoder | undefined;
        if (argv.decoder) {
            tuned = model.newDecoder();
            await loadDecoderWeights(argv.decoder, tuned, decoderProvenance(model)).catch((e) => {
                throw withDecoderHint(e);
            });
        }
        const records: EvalRecord[] = [];
        for (const [k, strat] of strategies.entries()) {
            rep.progress("evaluate", k, strategies.length, strat.id);
            if (tuned)
                records.push(await evaluateOne(tuned, data, emb.test, strat, argv.seed, model.imgSize, "fine-tuned"));
            if (!tuned || argv["zero-shot"])
                records.push(
                    await evaluateOne(pretrained, data, emb.test, strat, argv.seed, model.imgSize, "pretrained"),
                );
        }
        rep.done();
        const main = records.filter((r) => r.decoder === (tuned ? "fine-tuned" : "pretrained"));
        const summary = {
            ok: true,
            dataset: data.name,
            kind,
            ...(argv.fold === undefined ? {} : { fold: argv.fold }),
            decoder: argv.decoder ? path.resolve(argv.decoder) : "pretrained",
            units: "fractions in [0, 1]",
            embeddings: { file: emb.file, reused: emb.fromCache },
            results: main.map((r) => {
                const zs = records.find(
                    (z) => z.decoder === "pretrained" && z.strategy === r.strategy && r.decoder === "fine-tuned",
                );
                return {
                    strategy: r.strategy,
                    dice: r.dice,
                    iou: r.iou,
                    n: r.perImage.length - r.excluded,
                    excluded: r.excluded,
                    ...(zs ? { zeroShot: { dice: zs.dice, iou: zs.iou } } : {}),
                };
            }),
            ...(argv.out ? { out: path.resolve(argv.out) } : {}),
        };
        if (argv.out) {
            const out = argv.out;
            writeFileAtomicSync(path.join(out, "per-image.csv"), perImageCsv(data.name, records));
            writeJsonAtomicSync(path.join(out, "result.json"), {
                ...summary,
                seed: argv.seed,
                model: model.name,
                records,
            });
            const strategiesOut: StrategyResult[] = main.map((r) => {
                const zs = records.find(
                    (z) => z.decoder === "pretrained" && z.strategy === r.strategy && r.decoder === "fine-tuned",
                );
                return {
                    id: r.strategy,
                    label: r.label,
                    seeds: [],
                    perImage: r.perImage.map(({ imageId, patient, dice, iou }) => ({ imageId, patient, dice, iou })),
                    excluded: r.excluded,
                    ...(zs
                        ? {
                              zeroShot: {
                                  perImage: zs.perImage.map(({ imageId, patient, dice, iou }) => ({
                                      imageId,
                                      patient,
                                      dice,
                                      iou,
                                  })),
                                  excluded: zs.excluded,
                              },
                          }
                        : {}),
                };
            });
            const results: RunResults = {
                title: `sam-ablate eval: ${data.name} (${tuned ? "fine-tuned decoder" : "pretrained decoder"})`,
                createdBy: `sam-ablate ${VERSION}`,
                config: {
                    data: path.resolve(argv.data),
                    kind,
                    model: model.name,
                    decoder: summary.decoder,
                    seed: argv.seed,
                    strategies: strategies.map((s) => s.id),
                },
                datasets: [
                    {
                        name: data.name,
                        kind,
                        nTrain: data.train.ids.length,
                        nTest: data.test.ids.length,
                        strategies: strategiesOut,
                    },
                ],
            };
            await renderReport(results, path.join(out, "report"));
        }
        writeResult(argv.json, summary, () => [
            ...summary.results.map((r) => {
                const zs = r.zeroShot ? `  zero-shot Dice ${(r.zeroShot.dice * 100).toFixed(3)}` : "";
                return `${r.strategy}: Dice ${(r.dice * 100).toFixed(3)}  IoU ${(r.iou * 100).toFixed(3)}  (n=${r.n}, excluded ${r.excluded})${zs}`;
            }),
            ...(argv.out ? [`results: ${path.resolve(argv.out)}`] : []),
        ]);
    },
};
