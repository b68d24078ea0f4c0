import path from "node:path";
import { type AblationPlan, ensureEmbeddings, prepareDataset, presetPlan } from "@sam-ablate/train";
import type { CommandModule } from "yargs";
import { loadModelFor, type ModelArgs, modelOptions, PRECISION_NOTE, writeResult } from "../command-kit.js";
import { onInterrupt } from "../interrupt.js";
import { createReporter } from "../progress.js";

export interface EmbedArgs extends ModelArgs {
    data: string;
    kind: "radiology" | "pathology";
    "cache-dir": string;
    json: boolean;
}

export const embedCommand: CommandModule<object, EmbedArgs> = {
    command: "embed",
    describe: "Encode a prepared dataset once with the frozen image encoder into the fp16 embedding cache",
    builder: (y) =>
        y
            .option("data", {
                type: "string",
                demandOption: true,
                describe: "prepared dataset folder (from `prepare`)",
            })
            .option("kind", { choices: ["radiology", "pathology"] as const, default: "radiology" as const })
            .options(modelOptions(PRECISION_NOTE))
            .option("cache-dir", { type: "string", default: path.join("runs", "cache") }) as never,
    handler: async (argv) => {
        const rep = createReporter({ json: argv.json });
        const model = await loadModelFor(argv);
        const plan: AblationPlan = { ...presetPlan("quick"), validation: "none" };
        const name = path.basename(path.resolve(argv.data));
        const data = await prepareDataset(
            { name, kind: argv.kind, source: { type: "prepared", dir: argv.data } },
            plan,
            argv["cache-dir"],
        );
        const t0 = performance.now();
        const interrupt = onInterrupt(
            (m) => rep.info(m),
            "rerun the same command to go on from the embeddings finished so far",
        );
        const emb = await ensureEmbeddings(
            model,
            data,
            argv["cache-dir"],
            (d, t) => rep.progress("embed", d, t),
            interrupt.signal,
        ).finally(() => interrupt.dispose());
        rep.done();
        const out = {
            ok: true,
            cache: emb.file,
            images: data.train.ids.length + data.test.ids.length,
            fromCache: emb.fromCache,
            seconds: (performance.now() - t0) / 1000,
        };
        writeResult(argv.json, out, () => [
            `${out.images} embeddings ${emb.fromCache ? "already cached" : "written"}: ${emb.file}`,
        ]);
    },
};
