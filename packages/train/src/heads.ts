/**
 * Prompt-free prediction heads on the cached image embeddings (the paper's Table 1, ID 10): a CNN
 * head of N (3x3 conv, LayerNorm2d, ReLU) blocks or the linear head (a 1x1 conv), each followed by a
 * 1x1 conv to one logit channel and a bilinear upsampling to the decoder's low-res grid (4E x 4E),
 * where SAM's postprocess takes over. The native HeadTrainer holds the parameters and the optimiser;
 * here: its construction for an arm, the seeded initialisation and the saved file.
 */
import type { SamModel } from "@sam-ablate/model";
import { loadAddon, type NativeHeadTrainer, type TrainerOptions } from "@sam-ablate/native";
import { type Arm, rngFor } from "@sam-ablate/samplers";
import { type DecoderProvenance, saveDecoderWeights } from "./checkpointing.js";

/** Channels of the CNN head's blocks: the embedding's width, kept through the blocks. */
export const HEAD_HIDDEN = 256;

/** The head arms: depth N for `head:cnn<N>`, 0 for `head:linear`. */
export function headDepth(arm: Extract<Arm, { kind: "head" }>): number {
    if (arm.head === "autosam") throw new RangeError(`${arm.id} is the prompt-free decoder, not a prediction head`);
    return arm.head === "linear" ? 0 : (arm.depth ?? 1);
}

/**
 * A new head for `arm` on `model`'s embeddings ([256, E, E]) on the model's backend, initialised from
 * `seed` (`initHeadParams`). Loss: dicece or medsam (the SAM loss needs an IoU prediction).
 */
export function newHead(
    model: Pick<SamModel, "embedSize" | "backend">,
    arm: Extract<Arm, { kind: "head" }>,
    options: TrainerOptions,
    seed: number,
): NativeHeadTrainer {
    if (options.loss === "sam") {
        throw Object.assign(
            new Error(
                `strategy '${arm.id}': the SAM loss needs an IoU prediction, which a head does not make; use the dicece or medsam loss`,
            ),
            { code: "ERR_SA_PLAN" },
        );
    }
    const head = new (loadAddon().HeadTrainer)(
        {
            depth: headDepth(arm),
            hidden: HEAD_HIDDEN,
            inChannels: 256,
            embedSize: model.embedSize,
            backend: model.backend,
        },
        options,
    );
    initHeadParams(head, seed);
    return head;
}

/**
 * PyTorch's default initialisation of the layers, drawn from `seed`: convolution weights and biases
 * uniform in +-1/sqrt(fan_in) (kaiming_uniform with a = sqrt(5)), LayerNorm weight 1 and bias 0.
 */
export function initHeadParams(
    head: Pick<NativeHeadTrainer, "paramNames" | "paramShape" | "setParam">,
    seed: number,
): void {
    const names = head.paramNames();
    for (const name of names) {
        const shape = head.paramShape(name);
        const n = shape.reduce((a, b) => a * b, 1);
        const v = new Float32Array(n);
        if (name.endsWith("norm.weight")) v.fill(1);
        else if (!name.endsWith("norm.bias")) {
            const weight = name.replace(/\.bias$/, ".weight");
            const ws = head.paramShape(weight);
            const fanIn = ws.slice(1).reduce((a, b) => a * b, 1);
            const bound = 1 / Math.sqrt(fanIn);
            const rng = rngFor(seed, "head-init", 0, name);
            for (let i = 0; i < n; i++) v[i] = rng.uniform(-bound, bound);
        }
        head.setParam(name, v);
    }
}

/** Saves a head as safetensors (PyTorch-style names) with the model it was trained on and its arm and shape. */
export async function saveHeadWeights(
    file: string,
    head: NativeHeadTrainer,
    arm: Arm,
    provenance: DecoderProvenance,
): Promise<void> {
    await saveDecoderWeights(file, head, provenance, {
        "sam_ablate.arm": arm.id,
        "sam_ablate.head_depth": String(head.info.depth),
        "sam_ablate.head_hidden": String(head.info.hidden),
    });
}
