/**
 * Export of a fine-tuned decoder for other tools: a `.pth` state dict that PyTorch loads with
 * `torch.load(..., weights_only=True)` (the decoder's tensors alone, or merged into a full SAM
 * checkpoint in place of its decoder), or safetensors. The decoder file must be one written by
 * sam-ablate training (its provenance metadata); a full checkpoint must be the one it was trained on.
 * LoRA adapters of the image encoder (a LoRA arm's lora.safetensors, trained on the same checkpoint)
 * are merged into a full checkpoint's encoder (W + s B A), or written beside the decoder's tensors
 * under their PEFT names.
 */
import {
    CheckpointError,
    readCheckpoint,
    readSafetensorsFile,
    stateDictToFloat32Record,
    writePthFile,
    writeSafetensorsFile,
} from "@sam-ablate/checkpoint";
import { hashFiles } from "@sam-ablate/model";
import { type Tensor, tensor } from "@sam-ablate/tensor";
import { DECODER_METADATA } from "./checkpointing.js";
import { type LoraFile, mergeLora, readLoraFile } from "./lora.js";

/** What exportDecoder wrote. */
export interface DecoderExport {
    to: string;
    format: "pth" | "safetensors";
    /** Decoder tensors written (or replaced in the full checkpoint). */
    decoderTensors: number;
    /** Tensors in the file. */
    tensors: number;
    /** Encoder weights merged with LoRA adapters, or adapter tensors written (0 without --lora). */
    loraTensors: number;
}

/**
 * Writes `decoderFile`'s tensors to `to` (.pth or .safetensors). With `fullCheckpoint`, the file is
 * that checkpoint with every decoder tensor replaced (names and shapes must match, and the checkpoint's
 * SHA-256 must be the one the decoder records).
 */
export async function exportDecoder(
    decoderFile: string,
    to: string,
    options: { fullCheckpoint?: string; lora?: string } = {},
): Promise<DecoderExport> {
    const format =
        to.endsWith(".pth") || to.endsWith(".pt") ? "pth" : to.endsWith(".safetensors") ? "safetensors" : undefined;
    if (!format)
        throw new CheckpointError("ERR_SA_CHECKPOINT_FORMAT", to, "the output must end in .pth, .pt or .safetensors");
    const { tensors, metadata } = await readSafetensorsFile(decoderFile);
    const digest = metadata[DECODER_METADATA.checkpointDigest];
    if (metadata[DECODER_METADATA.model] === undefined || digest === undefined) {
        throw new CheckpointError(
            "ERR_SA_CHECKPOINT_MISMATCH",
            decoderFile,
            "does not record the model and checkpoint it was trained on; only decoders written by sam-ablate training are exported",
        );
    }
    const foreign = [...tensors.keys()].filter(
        (k) => !k.startsWith("mask_decoder.") && !k.startsWith("prompt_encoder."),
    );
    if (foreign.length > 0 || tensors.size === 0) {
        throw new CheckpointError(
            "ERR_SA_CHECKPOINT_INCOMPLETE",
            decoderFile,
            tensors.size === 0
                ? "holds no tensor"
                : `holds tensors that are not the decoder's (${foreign.slice(0, 3).join(", ")})`,
        );
    }
    let lora: LoraFile | undefined;
    if (options.lora) {
        lora = await readLoraFile(options.lora);
        if (lora.provenance.checkpointDigest !== digest || lora.provenance.model !== metadata[DECODER_METADATA.model])
            throw new CheckpointError(
                "ERR_SA_CHECKPOINT_MISMATCH",
                options.lora,
                `was trained for ${lora.provenance.model} on sha256 ${lora.provenance.checkpointDigest.slice(0, 16)}..., the decoder ${decoderFile} for ${metadata[DECODER_METADATA.model]} on ${digest.slice(0, 16)}...; pass the adapters of the same run`,
            );
    }
    let loraTensors = 0;
    let out: Map<string, Tensor> = tensors;
    if (options.fullCheckpoint) {
        const full = options.fullCheckpoint;
        const fullDigest = await hashFiles([full]);
        if (fullDigest !== digest) {
            throw new CheckpointError(
                "ERR_SA_CHECKPOINT_MISMATCH",
                full,
                `has sha256 ${fullDigest.slice(0, 16)}..., the decoder ${decoderFile} was trained on ${digest.slice(0, 16)}...; merge it into the checkpoint it was trained on`,
            );
        }
        const base = await readCheckpoint(full);
        const missing = [...tensors.keys()].filter((k) => !base.tensors.has(k));
        const misshapen = [...tensors].filter(([k, t]) => {
            const b = base.tensors.get(k);
            return b !== undefined && (b.shape.length !== t.shape.length || b.shape.some((d, i) => d !== t.shape[i]));
        });
        if (missing.length || misshapen.length) {
            throw new CheckpointError(
                "ERR_SA_CHECKPOINT_INCOMPLETE",
                full,
                `cannot take the decoder: ${missing.length} name(s) missing (${missing.slice(0, 3).join(", ")}), ${misshapen.length} of another shape (${misshapen
                    .slice(0, 3)
                    .map(([k]) => k)
                    .join(", ")})`,
            );
        }
        out = new Map(base.tensors);
        for (const [k, t] of tensors) out.set(k, t);
        if (lora) {
            const weightOf = (k: string) => {
                const t = base.tensors.get(k);
                return t ? stateDictToFloat32Record(new Map([[k, t]]))[k] : undefined;
            };
            for (const [k, w] of mergeLora(lora, weightOf, full)) {
                out.set(k, tensor("float32", w.shape, w.data));
                loraTensors++;
            }
        }
    } else if (lora) {
        out = new Map(tensors);
        for (const ad of lora.adapters) {
            out.set(`${ad.module}.lora_A.weight`, tensor("float32", [lora.rank, ad.inFeatures], ad.a));
            out.set(`${ad.module}.lora_B.weight`, tensor("float32", [ad.outFeatures, lora.rank], ad.b));
            loraTensors += 2;
        }
    }
    if (format === "pth") await writePthFile(to, out);
    else
        await writeSafetensorsFile(to, out, {
            format: "pt",
            producer: "sam-ablate",
            ...(options.fullCheckpoint ? {} : metadata),
        });
    return { to, format, decoderTensors: tensors.size, tensors: out.size, loraTensors };
}
