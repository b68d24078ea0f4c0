/**
 * SAM's preprocessing and postprocessing, as the official implementation:
 * ResizeLongestSide (PIL bilinear on uint8), pixel mean/std normalisation, zero padding at the
 * bottom/right to a square, point/box coordinate transforms, and mask postprocessing (bilinear up to
 * the model input size, crop to the resized image, bilinear to the original size).
 */

/** SAM's pixel mean and std (RGB, 0-255). */
export const PIXEL_MEAN = [123.675, 116.28, 103.53] as const;
export const PIXEL_STD = [58.395, 57.12, 57.375] as const;

/** The (height, width) an image of size h x w gets under ResizeLongestSide(target). */
export function resizeLongestSideShape(h: number, w: number, target: number): [number, number] {
    const scale = target / Math.max(h, w);
    return [Math.floor(h * scale + 0.5), Math.floor(w * scale + 0.5)];
}

/** Triangle-filter coefficients of one axis as Pillow computes them (antialiased when shrinking). */
function pilCoefficients(inSize: number, outSize: number): { bounds: Int32Array; weights: Float64Array; k: number } {
    const scale = inSize / outSize;
    const filterScale = Math.max(scale, 1);
    const support = 1 * filterScale;
    const k = Math.ceil(support) * 2 + 1;
    const bounds = new Int32Array(outSize * 2);
    const weights = new Float64Array(outSize * k);
    for (let i = 0; i < outSize; i++) {
        const center = (i + 0.5) * scale;
        let xmin = Math.floor(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        let xmax = Math.floor(center + support + 0.5);
        if (xmax > inSize) xmax = inSize;
        xmax -= xmin;
        let total = 0;
        for (let x = 0; x < xmax; x++) {
            const t = Math.abs((x + xmin - center + 0.5) / filterScale);
            const w = t < 1 ? 1 - t : 0;
            weights[i * k + x] = w;
            total += w;
        }
        if (total !== 0) for (let x = 0; x < xmax; x++) weights[i * k + x] = (weights[i * k + x] ?? 0) / total;
        bounds[i * 2] = xmin;
        bounds[i * 2 + 1] = xmax;
    }
    return { bounds, weights, k };
}

const PRECISION_BITS = 32 - 8 - 2;
const HALF = 1 << (PRECISION_BITS - 1);

/** Pillow's fixed-point rounding of normalised coefficients (8-bit images). */
function toFixed(weights: Float64Array): Int32Array {
    const out = new Int32Array(weights.length);
    for (let i = 0; i < weights.length; i++) {
        const w = weights[i] as number;
        out[i] = Math.trunc(w < 0 ? w * (1 << PRECISION_BITS) - 0.5 : w * (1 << PRECISION_BITS) + 0.5);
    }
    return out;
}

/** A fixed-point sum shifted back and clamped to 0..255, as Pillow's clip8. */
function clip8(ss: number): number {
    const v = ss >> PRECISION_BITS;
    return v < 0 ? 0 : Math.min(v, 255);
}

// The horizontal pass: every row of an interleaved h x w x c image to nw columns.
function resizeRows(src: Uint8Array, h: number, w: number, c: number, nw: number): Uint8Array {
    const { bounds, weights, k } = pilCoefficients(w, nw);
    const kk = toFixed(weights);
    const out = new Uint8Array(h * nw * c);
    let o = 0;
    for (let y = 0; y < h; y++) {
        const row = y * w * c;
        for (let x = 0; x < nw; x++) {
            const first = row + (bounds[2 * x] as number) * c;
            const n = bounds[2 * x + 1] as number;
            const wk = x * k;
            for (let ch = 0; ch < c; ch++) {
                let ss = HALF;
                for (let i = 0, s = first + ch; i < n; i++, s += c) ss += (src[s] as number) * (kk[wk + i] as number);
                out[o++] = clip8(ss);
            }
        }
    }
    return out;
}

// The vertical pass: rows of `len` bytes (width x channels), h of them, to nh rows. Each output row is
// a weighted sum of whole input rows, so the inner loop runs along contiguous bytes.
function resizeColumns(src: Uint8Array, h: number, len: number, nh: number): Uint8Array {
    const { bounds, weights, k } = pilCoefficients(h, nh);
    const kk = toFixed(weights);
    const out = new Uint8Array(nh * len);
    for (let y = 0; y < nh; y++) {
        const r0 = (bounds[2 * y] as number) * len;
        const n = bounds[2 * y + 1] as number;
        const wk = y * k;
        const o = y * len;
        if (n === 2) {
            // Upsampling: two source rows per output row.
            const w0 = kk[wk] as number;
            const w1 = kk[wk + 1] as number;
            const r1 = r0 + len;
            for (let i = 0; i < len; i++)
                out[o + i] = clip8(HALF + (src[r0 + i] as number) * w0 + (src[r1 + i] as number) * w1);
            continue;
        }
        for (let i = 0; i < len; i++) {
            let ss = HALF;
            for (let t = 0, s = r0 + i; t < n; t++, s += len) ss += (src[s] as number) * (kk[wk + t] as number);
            out[o + i] = clip8(ss);
        }
    }
    return out;
}

/**
 * Resizes an interleaved uint8 image (h x w x c) to nh x nw with Pillow's BILINEAR filter
 * (horizontal pass, then vertical, each rounded to uint8), which is what SAM's ResizeLongestSide
 * does through PIL. Integer arithmetic throughout (the sums stay below 2^31), so the bytes do not
 * depend on the order of the additions.
 */
export function resizeBilinearU8(src: Uint8Array, h: number, w: number, c: number, nh: number, nw: number): Uint8Array {
    if (src.length !== h * w * c)
        throw new RangeError(`resizeBilinearU8: expected ${h * w * c} bytes, got ${src.length}`);
    let cur = src;
    let cw = w;
    if (nw !== w) {
        cur = resizeRows(cur, h, w, c, nw);
        cw = nw;
    }
    if (nh !== h) cur = resizeColumns(cur, h, cw * c, nh);
    return cur === src ? src.slice() : cur;
}

// (v - mean) / std for every byte value v of each channel, as float32: a lookup per pixel gives the
// bits of the division.
let normalizeTable: Float32Array | undefined;
function normalizeLut(): Float32Array {
    if (!normalizeTable) {
        normalizeTable = new Float32Array(3 * 256);
        for (let ch = 0; ch < 3; ch++)
            for (let v = 0; v < 256; v++)
                normalizeTable[ch * 256 + v] = (v - (PIXEL_MEAN[ch] as number)) / (PIXEL_STD[ch] as number);
    }
    return normalizeTable;
}

/**
 * Normalises an RGB uint8 image (h x w x 3, already resized) with SAM's mean/std and zero-pads it at the
 * bottom and right to size x size. Returns [3, size, size] (CHW): `out` when given (3 * size * size
 * floats, every one written, so a buffer can be reused), else a new array.
 */
export function normalizeAndPad(rgb: Uint8Array, h: number, w: number, size: number, out?: Float32Array): Float32Array {
    if (h > size || w > size) throw new RangeError(`normalizeAndPad: image ${h}x${w} larger than ${size}`);
    if (rgb.length !== h * w * 3)
        throw new RangeError(`normalizeAndPad: expected ${h * w * 3} bytes, got ${rgb.length}`);
    const plane = size * size;
    if (out && out.length !== 3 * plane)
        throw new RangeError(`normalizeAndPad: out holds ${out.length} floats, expected ${3 * plane}`);
    const dst = out ?? new Float32Array(3 * plane);
    const lut = normalizeLut();
    for (let y = 0; y < h; y++) {
        let s = y * w * 3;
        const o = y * size;
        for (let x = 0; x < w; x++, s += 3) {
            dst[o + x] = lut[rgb[s] as number] as number;
            dst[plane + o + x] = lut[256 + (rgb[s + 1] as number)] as number;
            dst[2 * plane + o + x] = lut[512 + (rgb[s + 2] as number)] as number;
        }
        if (out && w < size) for (let ch = 0; ch < 3; ch++) dst.fill(0, ch * plane + o + w, ch * plane + o + size);
    }
    if (out && h < size) for (let ch = 0; ch < 3; ch++) dst.fill(0, ch * plane + h * size, (ch + 1) * plane);
    return dst;
}

/**
 * The model input for an RGB image: ResizeLongestSide(size) + normalise + pad (into `out` when given,
 * see normalizeAndPad).
 */
export function preprocessImage(
    rgb: Uint8Array,
    h: number,
    w: number,
    size: number,
    out?: Float32Array,
): { input: Float32Array; inputSize: [number, number]; resized: Uint8Array } {
    const [nh, nw] = resizeLongestSideShape(h, w, size);
    const resized = nh === h && nw === w ? rgb : resizeBilinearU8(rgb, h, w, 3, nh, nw);
    return { input: normalizeAndPad(resized, nh, nw, size, out), inputSize: [nh, nw], resized };
}

/**
 * Bilinear resize of [C, H, W] float maps with align_corners=false (torch.nn.functional.interpolate
 * mode="bilinear", no antialias).
 */
export function resizeBilinearF32(
    src: Float32Array,
    C: number,
    H: number,
    W: number,
    OH: number,
    OW: number,
): Float32Array {
    if (src.length < C * H * W)
        throw new RangeError(`resizeBilinearF32: expected ${C * H * W} values, got ${src.length}`);
    const out = new Float32Array(C * OH * OW);
    const sy = H / OH;
    const sx = W / OW;
    const xi0 = new Int32Array(OW);
    const xi1 = new Int32Array(OW);
    const xl = new Float32Array(OW);
    for (let x = 0; x < OW; x++) {
        let fx = (x + 0.5) * sx - 0.5;
        if (fx < 0) fx = 0;
        const x0 = Math.min(Math.floor(fx), W - 1);
        xi0[x] = x0;
        xi1[x] = Math.min(x0 + 1, W - 1);
        xl[x] = fx - x0;
    }
    for (let c = 0; c < C; c++) {
        const base = c * H * W;
        for (let y = 0; y < OH; y++) {
            let fy = (y + 0.5) * sy - 0.5;
            if (fy < 0) fy = 0;
            const y0 = Math.min(Math.floor(fy), H - 1);
            const y1 = Math.min(y0 + 1, H - 1);
            const ly = fy - y0;
            const r0 = base + y0 * W;
            const r1 = base + y1 * W;
            const o = c * OH * OW + y * OW;
            for (let x = 0; x < OW; x++) {
                const a = xi0[x] as number;
                const b = xi1[x] as number;
                const lx = xl[x] as number;
                const top = (src[r0 + a] as number) * (1 - lx) + (src[r0 + b] as number) * lx;
                const bot = (src[r1 + a] as number) * (1 - lx) + (src[r1 + b] as number) * lx;
                out[o + x] = top * (1 - ly) + bot * ly;
            }
        }
    }
    return out;
}

// One axis of resizeBilinearF32 (align_corners=false) from `inLen` to `outLen` samples, at the output
// indices `at`: the two source indices and the weight of the second, as resizeBilinearF32 computes them
// (the weight rounded to float32 along x, kept in double along y).
function bilinearAxis(
    inLen: number,
    outLen: number,
    at: ArrayLike<number>,
    roundWeight: boolean,
): { i0: Int32Array; i1: Int32Array; l: Float64Array } {
    const s = inLen / outLen;
    const i0 = new Int32Array(at.length);
    const i1 = new Int32Array(at.length);
    const l = new Float64Array(at.length);
    for (let k = 0; k < at.length; k++) {
        let f = ((at[k] as number) + 0.5) * s - 0.5;
        if (f < 0) f = 0;
        const a = Math.min(Math.floor(f), inLen - 1);
        i0[k] = a;
        i1[k] = Math.min(a + 1, inLen - 1);
        l[k] = roundWeight ? Math.fround(f - a) : f - a;
    }
    return { i0, i1, l };
}

const range = (n: number) => Int32Array.from({ length: n }, (_, i) => i);

/**
 * SAM's postprocess_masks: low-res logits [N, lh, lw] -> bilinear to size x size -> crop to the
 * resized input (inputH x inputW) -> bilinear to the original size. Returns [N, origH, origW].
 * The values of resizeBilinearF32 -> crop -> resizeBilinearF32, bit for bit, but the size x size
 * map is computed only at the rows and columns the second resize reads (about 2 per output pixel
 * per axis: a quarter of it for a 256 x 256 patch in a 1024 model input).
 */
export function postprocessMasks(
    lowRes: Float32Array,
    N: number,
    lh: number,
    lw: number,
    size: number,
    inputSize: [number, number],
    originalSize: [number, number],
): Float32Array {
    if (lowRes.length < N * lh * lw)
        throw new RangeError(`postprocessMasks: expected ${N * lh * lw} values, got ${lowRes.length}`);
    const [ih, iw] = inputSize;
    const [oh, ow] = originalSize;
    const second = oh !== ih || ow !== iw;
    // The second resize's source rows and columns in the crop (all of them when there is none).
    const rows2 = second ? bilinearAxis(ih, oh, range(oh), false) : undefined;
    const cols2 = second ? bilinearAxis(iw, ow, range(ow), true) : undefined;
    const needed = (n: number, axis?: { i0: Int32Array; i1: Int32Array }) => {
        if (!axis) return range(n);
        const used = new Uint8Array(n);
        for (let k = 0; k < axis.i0.length; k++) used[axis.i0[k] as number] = used[axis.i1[k] as number] = 1;
        return Int32Array.from(range(n).filter((i) => used[i] === 1));
    };
    const ys = needed(ih, rows2);
    const xs = needed(iw, cols2);
    // The upsampled map at rows ys and columns xs, as resizeBilinearF32(lowRes, N, lh, lw, size, size) has it.
    const ry = bilinearAxis(lh, size, ys, false);
    const rx = bilinearAxis(lw, size, xs, true);
    const nx = xs.length;
    const up = new Float32Array(N * ys.length * nx);
    for (let n = 0; n < N; n++) {
        const base = n * lh * lw;
        for (let k = 0; k < ys.length; k++) {
            const r0 = base + (ry.i0[k] as number) * lw;
            const r1 = base + (ry.i1[k] as number) * lw;
            const ly = ry.l[k] as number;
            const o = (n * ys.length + k) * nx;
            for (let j = 0; j < nx; j++) {
                const a = rx.i0[j] as number;
                const b = rx.i1[j] as number;
                const lx = rx.l[j] as number;
                const top = (lowRes[r0 + a] as number) * (1 - lx) + (lowRes[r0 + b] as number) * lx;
                const bot = (lowRes[r1 + a] as number) * (1 - lx) + (lowRes[r1 + b] as number) * lx;
                up[o + j] = top * (1 - ly) + bot * ly;
            }
        }
    }
    if (!rows2 || !cols2) return up; // the crop itself: ys and xs are every row and column of it
    // Crop row / column index -> position in `up`.
    const rowAt = new Int32Array(ih);
    ys.forEach((y, k) => {
        rowAt[y] = k;
    });
    const colAt = new Int32Array(iw);
    xs.forEach((x, k) => {
        colAt[x] = k;
    });
    const out = new Float32Array(N * oh * ow);
    for (let n = 0; n < N; n++) {
        for (let y = 0; y < oh; y++) {
            const r0 = (n * ys.length + (rowAt[rows2.i0[y] as number] as number)) * nx;
            const r1 = (n * ys.length + (rowAt[rows2.i1[y] as number] as number)) * nx;
            const ly = rows2.l[y] as number;
            const o = (n * oh + y) * ow;
            for (let x = 0; x < ow; x++) {
                const a = colAt[cols2.i0[x] as number] as number;
                const b = colAt[cols2.i1[x] as number] as number;
                const lx = cols2.l[x] as number;
                const top = (up[r0 + a] as number) * (1 - lx) + (up[r0 + b] as number) * lx;
                const bot = (up[r1 + a] as number) * (1 - lx) + (up[r1 + b] as number) * lx;
                out[o + x] = top * (1 - ly) + bot * ly;
            }
        }
    }
    return out;
}
