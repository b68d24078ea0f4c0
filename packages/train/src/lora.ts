/**
 * LoRA adapter files (Table 1 ID 11): the adapters trained in the image encoder, saved beside the
 * decoder as safetensors with PEFT's names under the encoder (`image_encoder.blocks.0.attn.qkv.lora_A.weight`,
 * `...lora_B.weight`) and the decoder files' provenance metadata plus rank, alpha and targets; read
 * back with every check (provenance, pairs, shapes, finiteness); merged into encoder weights as
 * W + s B A with s = alpha / rank.
 */
import { CheckpointError, countNonFinite, readSafetensorsFile, writeSafetensorsFile } from "@sam-ablate/checkpoint";
import { hashFiles, type SamFrame } from "@sam-ablate/model";
import type {
    LoraTarget,
    NativeDecoderTrainer,
    NativeSamDecoder,
    NativeTrainableEncoder,
    NativeWeights,
} from "@sam-ablate/native";
import type { Prompt } from "@sam-ablate/samplers";
import { type Tensor, tensor } from "@sam-ablate/tensor";
import { DECODER_METADATA, type DecoderProvenance, provenanceMetadata } from "./checkpointing.js";
import type { BatchStep, TrainedModel, TrainerState } from "./train-decoder.js";

/** Where the adapters' names live beside the decoder's: PEFT's names under the encoder. */
export const LORA_PREFIX = "image_encoder.";

/** Metadata keys of an adapter file (beside DECODER_METADATA's). */
export const LORA_METADATA = {
    rank: "sam_ablate.lora_rank",
    alpha: "sam_ablate.lora_alpha",
    targets: "sam_ablate.lora_targets",
} as const;

/** The LoRA settings of an arm or a file. */
export interface LoraSettings {
    rank: number;
    alpha: number;
    targets: LoraTarget[];
}

/** One adapted layer: `module` ("image_encoder.blocks.0.attn.qkv"), A [r, in], B [out, r]. */
export interface LoraAdapter {
    module: string;
    a: Float32Array;
    b: Float32Array;
    inFeatures: number;
    outFeatures: number;
}

/** An adapter file's contents. */
export interface LoraFile extends LoraSettings {
    provenance: DecoderProvenance;
    adapters: LoraAdapter[];
}

/** The adapters' tensors with their file names (`image_encoder.` + the encoder's names). */
export function loraStateDict(encoder: NativeTrainableEncoder): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const name of encoder.loraNames())
        out.set(LORA_PREFIX + name, tensor("float32", encoder.paramShape(name), encoder.getParam(name)));
    return out;
}

/** Saves the encoder's adapters (see the file's comment). */
export async function saveLoraWeights(
    file: string,
    encoder: NativeTrainableEncoder,
    provenance: DecoderProvenance,
): Promise<void> {
    const { rank, alpha, targets } = encoder.info;
    await writeSafetensorsFile(file, loraStateDict(encoder), {
        ...provenanceMetadata(provenance),
        [LORA_METADATA.rank]: String(rank),
        [LORA_METADATA.alpha]: String(alpha),
        [LORA_METADATA.targets]: targets.join(","),
    });
}

const FACTOR = /^(image_encoder\..+)\.lora_([AB])\.weight$/;

/**
 * Reads and checks an adapter file: the provenance metadata (and, with `expected`, that it matches
 * the loaded model and checkpoint), rank / alpha / targets, every name a PEFT factor under
 * `image_encoder.`, A and B in pairs with shapes [r, in] and [out, r], float32 and finite. Errors
 * name the file: ERR_SA_CHECKPOINT_MISMATCH, ERR_SA_CHECKPOINT_INCOMPLETE, ERR_SA_CHECKPOINT_NONFINITE.
 */
export async function readLoraFile(file: string, expected?: DecoderProvenance): Promise<LoraFile> {
    const { tensors, metadata } = await readSafetensorsFile(file);
    const fail = (code: "ERR_SA_CHECKPOINT_MISMATCH" | "ERR_SA_CHECKPOINT_INCOMPLETE", why: string): never => {
        throw new CheckpointError(code, file, why);
    };
    const provenance = {
        model: metadata[DECODER_METADATA.model],
        encoder: metadata[DECODER_METADATA.encoder],
        checkpointDigest: metadata[DECODER_METADATA.checkpointDigest],
    };
    const rank = Number(metadata[LORA_METADATA.rank]);
    const alpha = Number(metadata[LORA_METADATA.alpha]);
    const targets = (metadata[LORA_METADATA.targets] ?? "").split(",").filter(Boolean) as LoraTarget[];
    if (provenance.model === undefined || provenance.checkpointDigest === undefined || provenance.encoder === undefined)
        fail(
            "ERR_SA_CHECKPOINT_MISMATCH",
            `does not record the model and checkpoint digest it was trained on (metadata ${DECODER_METADATA.model}, ${DECODER_METADATA.checkpointDigest}); only adapters written by sam-ablate training are read`,
        );
    if (!(Number.isInteger(rank) && rank >= 1) || !(Number.isFinite(alpha) && alpha > 0) || targets.length === 0)
        fail(
            "ERR_SA_CHECKPOINT_INCOMPLETE",
            `does not record a valid LoRA rank, alpha and targets (metadata ${LORA_METADATA.rank}, ${LORA_METADATA.alpha}, ${LORA_METADATA.targets})`,
        );
    const prov = provenance as DecoderProvenance;
    if (expected) checkLoraProvenance(file, { rank, alpha, targets, provenance: prov, adapters: [] }, expected);
    const factors = new Map<string, { A?: Tensor; B?: Tensor }>();
    for (const [name, t] of tensors) {
        const m = FACTOR.exec(name);
        if (!m)
            fail(
                "ERR_SA_CHECKPOINT_INCOMPLETE",
                `tensor ${name.slice(0, 80)} is not a LoRA factor (image_encoder.<module>.lora_A.weight / lora_B.weight)`,
            );
        const entry = factors.get((m as RegExpExecArray)[1] as string) ?? {};
        entry[(m as RegExpExecArray)[2] as "A" | "B"] = t;
        factors.set((m as RegExpExecArray)[1] as string, entry);
    }
    if (factors.size === 0) fail("ERR_SA_CHECKPOINT_INCOMPLETE", "holds no adapter");
    const adapters: LoraAdapter[] = [];
    for (const [module, { A, B }] of factors) {
        if (!A || !B)
            fail("ERR_SA_CHECKPOINT_INCOMPLETE", `${module} has lora_${A ? "A" : "B"} without lora_${A ? "B" : "A"}`);
        const a = A as Tensor;
        const b = B as Tensor;
        if (a.shape.length !== 2 || b.shape.length !== 2 || a.shape[0] !== rank || b.shape[1] !== rank)
            fail(
                "ERR_SA_CHECKPOINT_INCOMPLETE",
                `${module}: lora_A is [${a.shape.join(", ")}] and lora_B [${b.shape.join(", ")}]; rank ${rank} needs [${rank}, in] and [out, ${rank}]`,
            );
        for (const [which, t] of [
            ["lora_A", a],
            ["lora_B", b],
        ] as const) {
            if (t.dtype !== "float32")
                fail(
                    "ERR_SA_CHECKPOINT_INCOMPLETE",
                    `${module}.${which}.weight is ${t.dtype}; adapter files hold float32`,
                );
            const { count, first } = countNonFinite(t.data as Float32Array);
            if (count > 0)
                throw new CheckpointError(
                    "ERR_SA_CHECKPOINT_NONFINITE",
                    file,
                    `tensor ${module}.${which}.weight holds ${count} non-finite value${count === 1 ? "" : "s"} (the first at element ${first})`,
                );
        }
        adapters.push({
            module,
            a: a.data as Float32Array,
            b: b.data as Float32Array,
            inFeatures: a.shape[1] as number,
            outFeatures: b.shape[0] as number,
        });
    }
    return { rank, alpha, targets, provenance: prov, adapters };
}

/**
 * W + s B A for every adapted layer of `weights` (key `<module>.weight`, [out, in]); returns the merged
 * weights by key (the others are left out). Throws ERR_SA_CHECKPOINT_INCOMPLETE naming `source` when a
 * layer is missing or of another shape.
 */
export function mergeLora(
    lora: Pick<LoraFile, "rank" | "alpha" | "adapters">,
    weightOf: (key: string) => { shape: readonly number[]; data: Float32Array } | undefined,
    source: string,
): Map<string, { shape: number[]; data: Float32Array }> {
    const s = lora.alpha / lora.rank;
    const r = lora.rank;
    const out = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const ad of lora.adapters) {
        const key = `${ad.module}.weight`;
        const w = weightOf(key);
        if (w?.shape.length !== 2 || w.shape[0] !== ad.outFeatures || w.shape[1] !== ad.inFeatures)
            throw new CheckpointError(
                "ERR_SA_CHECKPOINT_INCOMPLETE",
                source,
                w
                    ? `${key} is [${w.shape.join(", ")}], the adapter needs [${ad.outFeatures}, ${ad.inFeatures}]`
                    : `has no ${key} for the adapter`,
            );
        const n = ad.inFeatures;
        const merged = Float32Array.from(w.data);
        const row = new Float64Array(n);
        for (let o = 0; o < ad.outFeatures; o++) {
            row.fill(0);
            for (let k = 0; k < r; k++) {
                const bk = s * (ad.b[o * r + k] as number);
                if (bk === 0) continue;
                for (let i = 0; i < n; i++) row[i] = (row[i] as number) + bk * (ad.a[k * n + i] as number);
            }
            for (let i = 0; i < n; i++) merged[o * n + i] = (merged[o * n + i] as number) + (row[i] as number);
        }
        out.set(key, { shape: [ad.outFeatures, n], data: merged });
    }
    return out;
}

/**
 * An adapter file as a model-load adaptation (LoadModelOptions.adaptEncoder): merges its adapters
 * into the encoder's weights; the tag carries the file's SHA-256. Check the returned file's
 * provenance against the loaded model with `checkLoraProvenance`.
 */
export async function loraEncoderAdaptation(
    file: string,
): Promise<{ lora: LoraFile; adaptEncoder: { tag: string; apply(weights: NativeWeights): void } }> {
    const lora = await readLoraFile(file);
    const tag = `lora:${await hashFiles([file])}`;
    const apply = (weights: NativeWeights) => {
        for (const [key, w] of mergeLora(lora, (k) => weights[k], file)) weights[key] = w;
    };
    return { lora, adaptEncoder: { tag, apply } };
}

/** Throws ERR_SA_CHECKPOINT_MISMATCH naming `file` unless the adapters were trained on `expected`'s model and checkpoint. */
export function checkLoraProvenance(file: string, lora: LoraFile, expected: DecoderProvenance): void {
    const p = lora.provenance;
    if (p.model !== expected.model || p.encoder !== expected.encoder)
        throw new CheckpointError(
            "ERR_SA_CHECKPOINT_MISMATCH",
            file,
            `holds adapters for --model ${p.model.slice(0, 40)} (${p.encoder.slice(0, 40)}), not ${expected.model} (${expected.encoder}); pass the model they were trained on`,
        );
    if (p.checkpointDigest !== expected.checkpointDigest)
        throw new CheckpointError(
            "ERR_SA_CHECKPOINT_MISMATCH",
            file,
            `was trained on checkpoint sha256 ${p.checkpointDigest.slice(0, 16)}..., the loaded ${expected.model} checkpoint is ${expected.checkpointDigest.slice(0, 16)}...; pass the --checkpoint it was trained on`,
        );
}

/**
 * LoRA adapters in the image encoder trained with the decoder, as the training loop sees them
 * (`trainLoop`): the parameters (the decoder's, then the adapters as `image_encoder.<module>.lora_A.weight`
 * etc.), the optimiser state of both, and a step that takes the batch's preprocessed images
 * ([B, 3, S, S], where the decoder-only step takes cached embeddings), encodes them with the adapted
 * encoder and updates decoder and adapters (`trainer` made with embeddingGrad).
 */
export function loraTraining(
    encoder: NativeTrainableEncoder,
    decoder: NativeSamDecoder,
    trainer: NativeDecoderTrainer,
    frame: SamFrame,
    promptFor: (sample: number, globalStep: number) => Prompt,
): { model: TrainedModel; trainer: TrainerState; step: BatchStep } {
    const adapters = encoder.loraNames();
    const own = new Set(adapters.map((n) => LORA_PREFIX + n));
    const local = (n: string) => n.slice(LORA_PREFIX.length);
    const prefixed = () => adapters.map((n) => LORA_PREFIX + n);
    const model: TrainedModel = {
        paramNames: () => [...decoder.paramNames(), ...prefixed()],
        getParam: (n) => (own.has(n) ? encoder.getParam(local(n)) : decoder.getParam(n)),
        setParam: (n, v) => (own.has(n) ? encoder.setParam(local(n), v) : decoder.setParam(n, v)),
    };
    const state: TrainerState = {
        get stepCount() {
            return trainer.stepCount;
        },
        set stepCount(t: number) {
            trainer.stepCount = t;
            encoder.stepCount = t;
        },
        trainedParams: () => [...trainer.trainedParams(), ...prefixed()],
        getState: (n) => (own.has(n) ? encoder.getState(local(n)) : trainer.getState(n)),
        setState: (n, m, v) => (own.has(n) ? encoder.setState(local(n), m, v) : trainer.setState(n, m, v)),
    };
    const step: BatchStep = (images, targets, samples, globalStep, lr) =>
        encoder.trainStep(
            trainer,
            images,
            frame.toNative(samples.map((s) => promptFor(s, globalStep))),
            targets,
            lr === undefined ? undefined : { lr },
        );
    return { model, trainer: state, step };
}
