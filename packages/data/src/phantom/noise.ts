import type { Sfc32 } from "@sam-ablate/samplers";

/**
 * Smooth value noise on a regular lattice (random values in [-1, 1] at lattice points, smoothstep
 * interpolation), evaluated a whole x-y slice at a time. Lattice spacing is `cell` pixels in x and
 * y and `cellZ` slices in z.
 */
export class ValueNoise {
    private readonly lattice: Float32Array;
    private readonly nx: number;
    private readonly ny: number;
    private readonly nz: number;
    private readonly ix: Int32Array;
    private readonly tx: Float32Array;
    private readonly iy: Int32Array;
    private readonly ty: Float32Array;
    private readonly plane: Float32Array;

    constructor(
        rng: Sfc32,
        private readonly width: number,
        private readonly height: number,
        depth: number,
        cell: number,
        private readonly cellZ = cell,
    ) {
        this.nx = Math.ceil(width / cell) + 2;
        this.ny = Math.ceil(height / cell) + 2;
        this.nz = Math.ceil(depth / cellZ) + 2;
        this.lattice = new Float32Array(this.nx * this.ny * this.nz);
        for (let i = 0; i < this.lattice.length; i++) this.lattice[i] = rng.float() * 2 - 1;
        const offX = rng.float();
        const offY = rng.float();
        [this.ix, this.tx] = axisWeights(width, cell, offX);
        [this.iy, this.ty] = axisWeights(height, cell, offY);
        this.plane = new Float32Array(this.nx * this.ny);
    }

    /** Adds amp * noise(x, y, z) to out[y * width + x] for every pixel of slice z. */
    addSlice(z: number, out: Float32Array, amp = 1): void {
        const gz = z / this.cellZ;
        const k = Math.min(Math.floor(gz), this.nz - 2);
        const tz = smooth(gz - k);
        const planeSize = this.nx * this.ny;
        const a = k * planeSize;
        const b = a + planeSize;
        const L = this.lattice;
        const P = this.plane;
        for (let i = 0; i < planeSize; i++) {
            const v0 = L[a + i] as number;
            P[i] = v0 + ((L[b + i] as number) - v0) * tz;
        }
        const nx = this.nx;
        const W = this.width;
        for (let y = 0; y < this.height; y++) {
            const r0 = (this.iy[y] as number) * nx;
            const r1 = r0 + nx;
            const wy = this.ty[y] as number;
            const row = y * W;
            for (let x = 0; x < W; x++) {
                const i = this.ix[x] as number;
                const wx = this.tx[x] as number;
                const p00 = P[r0 + i] as number;
                const p01 = P[r0 + i + 1] as number;
                const p10 = P[r1 + i] as number;
                const p11 = P[r1 + i + 1] as number;
                const top = p00 + (p01 - p00) * wx;
                const bottom = p10 + (p11 - p10) * wx;
                out[row + x] = (out[row + x] as number) + amp * (top + (bottom - top) * wy);
            }
        }
    }

    /** A fresh slice of noise values. */
    slice(z: number, amp = 1): Float32Array {
        const out = new Float32Array(this.width * this.height);
        this.addSlice(z, out, amp);
        return out;
    }
}

/** Sum of value-noise octaves (each half the cell and half the amplitude), normalised to about [-1, 1]. */
export class FractalNoise {
    private readonly octaves: ValueNoise[] = [];
    private readonly amps: number[] = [];

    constructor(
        rng: Sfc32,
        private readonly width: number,
        private readonly height: number,
        depth: number,
        cell: number,
        octaves: number,
        cellZ = cell,
    ) {
        let total = 0;
        for (let o = 0; o < octaves; o++) total += 0.5 ** o;
        for (let o = 0; o < octaves; o++) {
            const f = 2 ** o;
            this.octaves.push(new ValueNoise(rng, width, height, depth, Math.max(1, cell / f), Math.max(1, cellZ / f)));
            this.amps.push(0.5 ** o / total);
        }
    }

    /** A fresh slice of noise values. */
    slice(z: number, amp = 1): Float32Array {
        const out = new Float32Array(this.width * this.height);
        for (const [o, n] of this.octaves.entries()) n.addSlice(z, out, amp * (this.amps[o] as number));
        return out;
    }
}

/**
 * Gaussian samples drawn once from a seed (a small table that stays in cache), handed out by random
 * index: fast per-voxel noise for phantoms.
 */
export class NormalTable {
    private static readonly BITS = 12;
    private readonly values = new Float32Array(1 << NormalTable.BITS);

    constructor(private readonly rng: Sfc32) {
        for (let i = 0; i < this.values.length; i++) this.values[i] = rng.normal();
    }

    /** Fills out[0..count) with pseudo-random standard normal samples (two per random draw). */
    fill(out: Float32Array, count = out.length): void {
        const mask = (1 << NormalTable.BITS) - 1;
        const v = this.values;
        for (let k = 0; k < count; k += 2) {
            const r = this.rng.uint32();
            out[k] = v[r & mask] as number;
            if (k + 1 < count) out[k + 1] = v[(r >>> 16) & mask] as number;
        }
    }
}

/** Separable [1 2 1] / 4 blur of a width x height float image, in place (edges clamp). */
export function blur121(data: Float32Array, width: number, height: number): void {
    const tmp = new Float32Array(Math.max(width, height));
    for (let y = 0; y < height; y++) {
        const row = y * width;
        for (let x = 0; x < width; x++) {
            const l = data[row + Math.max(0, x - 1)] as number;
            const r = data[row + Math.min(width - 1, x + 1)] as number;
            tmp[x] = 0.25 * l + 0.5 * (data[row + x] as number) + 0.25 * r;
        }
        data.set(tmp.subarray(0, width), row);
    }
    for (let x = 0; x < width; x++) {
        for (let y = 0; y < height; y++) {
            const u = data[Math.max(0, y - 1) * width + x] as number;
            const d = data[Math.min(height - 1, y + 1) * width + x] as number;
            tmp[y] = 0.25 * u + 0.5 * (data[y * width + x] as number) + 0.25 * d;
        }
        for (let y = 0; y < height; y++) data[y * width + x] = tmp[y] as number;
    }
}

function smooth(t: number): number {
    return t * t * (3 - 2 * t);
}

function axisWeights(n: number, cell: number, offset: number): [Int32Array, Float32Array] {
    const idx = new Int32Array(n);
    const w = new Float32Array(n);
    for (let i = 0; i < n; i++) {
        const g = i / cell + offset;
        const k = Math.floor(g);
        idx[i] = k;
        w[i] = smooth(g - k);
    }
    return [idx, w];
}

/** The pixels within `reach` of (cx, cy) on a W x H image: [x0, x1, y0, y1], inclusive and clamped. */
export function pixelBox(
    cx: number,
    cy: number,
    reach: number,
    W: number,
    H: number,
): [number, number, number, number] {
    return [
        Math.max(0, Math.floor(cx - reach)),
        Math.min(W - 1, Math.ceil(cx + reach)),
        Math.max(0, Math.floor(cy - reach)),
        Math.min(H - 1, Math.ceil(cy + reach)),
    ];
}
