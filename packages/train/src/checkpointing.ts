/**
 * Saving and resuming: the decoder's weights and the optimiser's moments (safetensors), the step count
 * and the loss history (JSON), written atomically at epoch ends; export of a fine-tuned decoder as
 * safetensors and as a `.pth` state dict with the official key names.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { readSafetensors, writeFileAtomic, writePthFile, writeSafetensors, writeSafetensorsFile } from "@sam-ablate/checkpoint";
import type { NativeSamDecoder } from "@sam-ablate/native";
import { type Tensor, tensor } from "@sam-ablate/tensor";
import { writeJsonAtomic } from "./atomic.js";

/** What an epoch-end checkpoint holds. */
export interface TrainState {
    fingerprint: string;
    epochsDone: number;
    stepCount: number;
    losses: Float32Array;
    params: Map<string, Float32Array>;
    moments: Map<string, { m: Float32Array; v: Float32Array }>;
}

interface StateMeta {
    fingerprint: string;
    epochsDone: number;
    stepCount: number;
    losses: number[];
    tensors: string;
}

/** Writes the state: tensors first (a new file per epoch), then state.json pointing at them. */
export async function saveTrainState(dir: string, s: TrainState): Promise<void> {
    const tensors = new Map<string, Tensor>();
    for (const [k, v] of s.params) tensors.set(`param/${k}`, tensor("float32", [v.length], v));
    for (const [k, { m, v }] of s.moments) {
        tensors.set(`adam_m/${k}`, tensor("float32", [m.length], m));
        tensors.set(`adam_v/${k}`, tensor("float32", [v.length], v));
    }
    mkdirSync(dir, { recursive: true });
    const file = `state-epoch${s.epochsDone}.safetensors`;
    await writeFileAtomic(path.join(dir, file), [writeSafetensors(tensors)]);
    const meta: StateMeta = { fingerprint: s.fingerprint, epochsDone: s.epochsDone, stepCount: s.stepCount, losses: Array.from(s.losses), tensors: file };
    writeJsonAtomic(path.join(dir, "state.json"), meta);
}

/** Reads the last saved state when it matches `fingerprint`; undefined otherwise. */
export function loadTrainState(dir: string, fingerprint: string): TrainState | undefined {
    const metaFile = path.join(dir, "state.json");
    if (!existsSync(metaFile)) return undefined;
    let meta: StateMeta;
    try {
        meta = JSON.parse(readFileSync(metaFile, "utf8")) as StateMeta;
    } catch {
        return undefined;
    }
    if (meta.fingerprint !== fingerprint) return undefined;
    const tfile = path.join(dir, meta.tensors);
    if (!existsSync(tfile)) return undefined;
    const { tensors } = readSafetensors(new Uint8Array(readFileSync(tfile)), tfile);
    const params = new Map<string, Float32Array>();
    const moments = new Map<string, { m: Float32Array; v: Float32Array }>();
    for (const [k, t] of tensors) {
        const data = t.data as Float32Array;
        if (k.startsWith("param/")) params.set(k.slice(6), data);
        else if (k.startsWith("adam_m/")) {
            const name = k.slice(7);
            const v = tensors.get(`adam_v/${name}`);
            if (v) moments.set(name, { m: data, v: v.data as Float32Array });
        }
    }
    return { fingerprint, epochsDone: meta.epochsDone, stepCount: meta.stepCount, losses: Float32Array.from(meta.losses), params, moments };
}

/** The decoder's parameters with their shapes (official key names). */
export function decoderStateDict(decoder: NativeSamDecoder): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const name of decoder.paramNames()) out.set(name, tensor("float32", decoder.paramShape(name), decoder.getParam(name)));
    return out;
}

/** Saves the decoder's weights as safetensors (official key names). */
export async function saveDecoderWeights(file: string, decoder: NativeSamDecoder): Promise<void> {
    await writeSafetensorsFile(file, decoderStateDict(decoder), { format: "pt", producer: "sam-ablate" });
}

/** Exports the decoder as a `.pth` state dict that torch.load + Sam.load_state_dict(strict=False) accept. */
export async function exportDecoderPth(file: string, decoder: NativeSamDecoder): Promise<void> {
    await writePthFile(file, decoderStateDict(decoder));
}
