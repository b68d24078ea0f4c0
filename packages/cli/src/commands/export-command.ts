import path from "node:path";
import { exportDecoder } from "@sam-ablate/train";
import type { CommandModule } from "yargs";
import { writeResult } from "../command-kit.js";
import { createReporter } from "../progress.js";

export interface ExportArgs {
    decoder: string;
    to: string;
    "full-checkpoint"?: string;
    lora?: string;
    json: boolean;
}

export const exportCommand: CommandModule<object, ExportArgs> = {
    command: "export",
    describe:
        "Write a fine-tuned decoder for PyTorch and other tools: .pth (torch.load weights_only) or .safetensors, alone or merged into a full SAM checkpoint",
    builder: (y) =>
        y
            .option("decoder", {
                type: "string",
                demandOption: true,
                describe: "decoder.safetensors written by training",
            })
            .option("to", {
                type: "string",
                demandOption: true,
                describe: "output: decoder.pth, sam_finetuned.pth or .safetensors",
            })
            .option("full-checkpoint", {
                type: "string",
                describe:
                    "the SAM checkpoint the decoder was trained on (e.g. sam_vit_b_01ec64.pth): write it whole with the fine-tuned decoder in place",
            })
            .option("lora", {
                type: "string",
                describe:
                    "LoRA adapters of the same run (lora.safetensors of a lora<r>_<prompt> arm): merged into the encoder with --full-checkpoint (W + s B A), else written beside the decoder under PEFT names",
            })
            .example(
                "$0 export --decoder runs/x/results/brats/box/seed0/decoder.safetensors --to decoder.pth",
                "the decoder's state dict",
            )
            .example(
                "$0 export --decoder decoder.safetensors --full-checkpoint sam_vit_b_01ec64.pth --to sam_vit_b_brats_box.pth",
                "a full checkpoint that SAM's build_sam_vit_b(checkpoint=...) loads",
            ) as never,
    handler: async (argv) => {
        const rep = createReporter({ json: argv.json });
        const r = await exportDecoder(argv.decoder, argv.to, {
            ...(argv["full-checkpoint"] ? { fullCheckpoint: argv["full-checkpoint"] } : {}),
            ...(argv.lora ? { lora: argv.lora } : {}),
        });
        rep.done();
        const summary = {
            ok: true,
            to: path.resolve(r.to),
            format: r.format,
            decoderTensors: r.decoderTensors,
            tensors: r.tensors,
            loraTensors: r.loraTensors,
        };
        const lora = r.loraTensors ? `, ${r.loraTensors} with LoRA adapters` : "";
        writeResult(argv.json, summary, () => [
            `${r.tensors} tensors (${r.decoderTensors} from the decoder${lora}) -> ${summary.to}`,
        ]);
    },
};
