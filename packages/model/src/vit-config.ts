/**
 * SAM ViT presets (vit_b, vit_l, vit_h) and the official state-dict shapes of their image encoders,
 * for random-weight benchmarks and architecture checks.
 */
import type { SamDecoderConfig } from "./onnx-mapping-sam-decoder.js";

export interface VitConfig {
    embedDim: number;
    depth: number;
    heads: number;
    globalAttn: number[];
    window: number;
    imgSize: number;
    patch: number;
    outChans: number;
    mlpRatio: number;
}

export const VIT_PRESETS: Readonly<Record<"vit_b" | "vit_l" | "vit_h", VitConfig>> = {
    vit_b: {
        embedDim: 768,
        depth: 12,
        heads: 12,
        globalAttn: [2, 5, 8, 11],
        window: 14,
        imgSize: 1024,
        patch: 16,
        outChans: 256,
        mlpRatio: 4,
    },
    vit_l: {
        embedDim: 1024,
        depth: 24,
        heads: 16,
        globalAttn: [5, 11, 17, 23],
        window: 14,
        imgSize: 1024,
        patch: 16,
        outChans: 256,
        mlpRatio: 4,
    },
    vit_h: {
        embedDim: 1280,
        depth: 32,
        heads: 16,
        globalAttn: [7, 15, 23, 31],
        window: 14,
        imgSize: 1024,
        patch: 16,
        outChans: 256,
        mlpRatio: 4,
    },
};

/** The official SAM prompt encoder / mask decoder sizes. */
export const SAM_DECODER_CONFIG: SamDecoderConfig = {
    dim: 256,
    depth: 2,
    mlpDim: 2048,
    numMaskTokens: 4,
    crossAttnDim: 128,
    iouHiddenDim: 256,
    maskInChans: 16,
};

/** `image_encoder.*` keys and shapes of a SAM ViT. */
export function vitStateDictShapes(c: VitConfig, prefix = "image_encoder."): Map<string, number[]> {
    const m = new Map<string, number[]>();
    const D = c.embedDim;
    const grid = c.imgSize / c.patch;
    const hd = D / c.heads;
    m.set(`${prefix}pos_embed`, [1, grid, grid, D]);
    m.set(`${prefix}patch_embed.proj.weight`, [D, 3, c.patch, c.patch]);
    m.set(`${prefix}patch_embed.proj.bias`, [D]);
    for (let i = 0; i < c.depth; i++) {
        const b = `${prefix}blocks.${i}.`;
        const size = c.globalAttn.includes(i) ? grid : c.window;
        m.set(`${b}norm1.weight`, [D]);
        m.set(`${b}norm1.bias`, [D]);
        m.set(`${b}attn.qkv.weight`, [3 * D, D]);
        m.set(`${b}attn.qkv.bias`, [3 * D]);
        m.set(`${b}attn.proj.weight`, [D, D]);
        m.set(`${b}attn.proj.bias`, [D]);
        m.set(`${b}attn.rel_pos_h`, [2 * size - 1, hd]);
        m.set(`${b}attn.rel_pos_w`, [2 * size - 1, hd]);
        m.set(`${b}norm2.weight`, [D]);
        m.set(`${b}norm2.bias`, [D]);
        m.set(`${b}mlp.lin1.weight`, [D * c.mlpRatio, D]);
        m.set(`${b}mlp.lin1.bias`, [D * c.mlpRatio]);
        m.set(`${b}mlp.lin2.weight`, [D, D * c.mlpRatio]);
        m.set(`${b}mlp.lin2.bias`, [D]);
    }
    m.set(`${prefix}neck.0.weight`, [c.outChans, D, 1, 1]);
    m.set(`${prefix}neck.1.weight`, [c.outChans]);
    m.set(`${prefix}neck.1.bias`, [c.outChans]);
    m.set(`${prefix}neck.2.weight`, [c.outChans, c.outChans, 3, 3]);
    m.set(`${prefix}neck.3.weight`, [c.outChans]);
    m.set(`${prefix}neck.3.bias`, [c.outChans]);
    return m;
}

/**
 * Random weights of the given shapes (uniform +-scale/sqrt(fan_in), norms around 1), deterministic
 * from a seed: for benchmarks only.
 */
export function randomWeights(
    shapes: Map<string, number[]>,
    seed = 1,
): Record<string, { shape: number[]; data: Float32Array }> {
    let s = seed >>> 0 || 1;
    const next = () => {
        s ^= s << 13;
        s >>>= 0;
        s ^= s >>> 17;
        s ^= s << 5;
        s >>>= 0;
        return s / 4294967296;
    };
    const out: Record<string, { shape: number[]; data: Float32Array }> = {};
    for (const [name, shape] of shapes) {
        const n = shape.reduce((a, b) => a * b, 1);
        const data = new Float32Array(n);
        const fanIn = shape.length > 1 ? shape.slice(1).reduce((a, b) => a * b, 1) : 1;
        const isNormWeight = /norm.*\.weight$|neck\.[13]\.weight$/.test(name);
        const scale = isNormWeight ? 0.1 : 1 / Math.sqrt(fanIn);
        for (let i = 0; i < n; i++) data[i] = (isNormWeight ? 1 : 0) + (next() * 2 - 1) * scale;
        out[name] = { shape: [...shape], data };
    }
    return out;
}
