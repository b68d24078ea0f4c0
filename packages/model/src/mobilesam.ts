// MobileSAM `.pt` state dicts for the native TinyViT: every Conv2d_BN is stored unfolded there
// (`<p>.c.weight` + `<p>.bn.{weight,bias,running_mean,running_var,num_batches_tracked}`); the native
// encoder takes the eval-mode folding `<p>.c.weight` + `<p>.c.bias`, as in MobileSAM's ONNX exports.
import { SamAblateError } from "@sam-ablate/errors";
import type { NativeWeight, NativeWeights } from "@sam-ablate/native";

/** Error raised for an inconsistent MobileSAM state dict; `code` is `ERR_SA_WEIGHTS`. */
export class MobileSamWeightsError extends SamAblateError<"ERR_SA_WEIGHTS"> {
    constructor(message: string) {
        super("ERR_SA_WEIGHTS", message);
    }
}

/** Options of {@link foldTinyVitBatchNorm}. */
export interface FoldOptions {
    /** BatchNorm epsilon (PyTorch BatchNorm2d default 1e-5, as MobileSAM's Conv2d_BN). */
    eps?: number;
    /** Only keys under this prefix are folded (default: all keys). */
    prefix?: string;
    /** Name of the checkpoint for error messages. */
    file?: string;
}

const BN_PARTS = ["weight", "bias", "running_mean", "running_var"] as const;

/**
 * Folds each BatchNorm into the convolution before it: for every `<p>.bn.*` group with a
 * `<p>.c.weight` [O, I, kh, kw], scale = gamma / sqrt(running_var + eps) gives
 * `<p>.c.weight` = W * scale[o] and `<p>.c.bias` = beta - running_mean * scale (the convolutions of
 * Conv2d_BN have no bias of their own). The `bn` entries (incl. `num_batches_tracked`) are dropped;
 * every other entry is passed through unchanged (same objects). The input is not modified.
 * Throws ERR_SA_WEIGHTS for an incomplete BatchNorm group, a missing convolution, mismatched
 * shapes, or a `c.bias` that would be overwritten.
 */
export function foldTinyVitBatchNorm(weights: NativeWeights, options: FoldOptions = {}): NativeWeights {
    const eps = options.eps ?? 1e-5;
    const prefix = options.prefix ?? "";
    const where = options.file ? `${options.file}: ` : "";
    const out: NativeWeights = {};
    const groups = new Set<string>();
    for (const key of Object.keys(weights)) {
        const m = key.startsWith(prefix)
            ? key.match(/^(.*)\.bn\.(weight|bias|running_mean|running_var|num_batches_tracked)$/)
            : null;
        if (m) groups.add(m[1] as string);
    }
    for (const [key, value] of Object.entries(weights)) {
        const m = key.match(/^(.*)\.bn\.[a-z_]+$/);
        if (m && groups.has(m[1] as string)) continue;
        if (key.endsWith(".c.weight") && groups.has(key.slice(0, -".c.weight".length))) continue;
        out[key] = value;
    }
    const problems: string[] = [];
    for (const p of [...groups].sort()) {
        const conv = weights[`${p}.c.weight`];
        const bn: Partial<Record<(typeof BN_PARTS)[number], NativeWeight>> = {};
        for (const part of BN_PARTS) bn[part] = weights[`${p}.bn.${part}`];
        const missing = BN_PARTS.filter((part) => !bn[part]).map((part) => `${p}.bn.${part}`);
        if (!conv) missing.push(`${p}.c.weight`);
        if (missing.length) {
            problems.push(`missing ${missing.join(", ")}`);
            continue;
        }
        if (weights[`${p}.c.bias`]) {
            problems.push(`${p}.c.bias already exists next to ${p}.bn`);
            continue;
        }
        const w = conv as NativeWeight;
        const o = w.shape[0] ?? 0;
        const bad = BN_PARTS.filter((part) => (bn[part] as NativeWeight).data.length !== o);
        if (w.shape.length !== 4 || bad.length) {
            problems.push(
                `${p}: conv weight [${w.shape.join(", ")}] does not match bn ${bad.join("/")} of ${o} channels`,
            );
            continue;
        }
        const gamma = (bn.weight as NativeWeight).data;
        const beta = (bn.bias as NativeWeight).data;
        const mean = (bn.running_mean as NativeWeight).data;
        const variance = (bn.running_var as NativeWeight).data;
        const per = w.data.length / o;
        const folded = new Float32Array(w.data.length);
        const bias = new Float32Array(o);
        for (let c = 0; c < o; c++) {
            // Computed in double precision, rounded once to float32.
            const s = (gamma[c] as number) / Math.sqrt((variance[c] as number) + eps);
            for (let k = 0; k < per; k++) folded[c * per + k] = (w.data[c * per + k] as number) * s;
            bias[c] = (beta[c] as number) - (mean[c] as number) * s;
        }
        out[`${p}.c.weight`] = { shape: [...w.shape], data: folded };
        out[`${p}.c.bias`] = { shape: [o], data: bias };
    }
    if (problems.length) {
        throw new MobileSamWeightsError(
            `${where}cannot fold BatchNorm into the TinyViT convolutions: ${problems.join("; ")}`,
        );
    }
    return out;
}

/**
 * True when a state dict holds a TinyViT image encoder (MobileSAM layout) under `prefix`, folded or
 * not: the patch embedding's first Conv2d_BN is present.
 */
export function isTinyVitStateDict(weights: NativeWeights, prefix = "image_encoder."): boolean {
    return `${prefix}patch_embed.seq.0.c.weight` in weights;
}
