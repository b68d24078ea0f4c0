/**
 * `--lora FILE` of predict and eval: LoRA adapters trained in the image encoder (a LoRA arm's
 * lora.safetensors) merged into the encoder at load, beside the --decoder they were trained with.
 */
import { existsSync } from "node:fs";
import type { LoadModelOptions, SamModel } from "@sam-ablate/model";
import { checkLoraProvenance, decoderProvenance, loraEncoderAdaptation } from "@sam-ablate/train";
import { CliError } from "./errors.js";

/** The yargs option. */
export const LORA_OPTION = {
    type: "string",
    describe:
        "LoRA adapters of the image encoder (lora.safetensors of a lora<r>_<prompt> run), merged at load; goes with that run's --decoder",
} as const;

/**
 * Reads `--lora` (absent: nothing to do): the model-load option that merges the adapters and a check
 * of their provenance against the loaded model. ERR_SA_USAGE for a missing file or a missing --decoder.
 */
export async function loraLoadOption(
    file: string | undefined,
    decoder: string | undefined,
): Promise<{ load: Pick<LoadModelOptions, "adaptEncoder">; check(model: SamModel): void }> {
    if (file === undefined) return { load: {}, check: () => {} };
    if (!existsSync(file)) throw new CliError(`${file}: no such adapter file (--lora)`, "ERR_SA_USAGE");
    if (!decoder)
        throw new CliError(
            "--lora goes with the --decoder trained with it (decoder.safetensors beside lora.safetensors)",
            "ERR_SA_USAGE",
        );
    const { lora, adaptEncoder } = await loraEncoderAdaptation(file);
    return { load: { adaptEncoder }, check: (model) => checkLoraProvenance(file, lora, decoderProvenance(model)) };
}
