/**
 * Exact squared Euclidean distance transform (Felzenszwalb & Huttenlocher, "Distance Transforms of
 * Sampled Functions", 2012): a 1-D lower envelope of parabolas along every column, then along every
 * row. Linear in the number of pixels.
 */

/** Stand-in for "no site" inside the parabola computations (finite, so intersections stay defined). */
const FAR = 1e20;

/**
 * For every pixel, the squared Euclidean distance (in pixels) to the nearest site pixel
 * (`sites[i] !== 0`). Pixels with no site anywhere in the image get `Infinity`.
 * Only pixels inside the image are sites: nothing outside the image is taken into account.
 */
export function squaredDistanceTransform(width: number, height: number, sites: Uint8Array): Float64Array {
    const out = new Float64Array(width * height);
    const n = Math.max(width, height);
    const f = new Float64Array(n);
    const d = new Float64Array(n);
    const v = new Int32Array(n);
    const z = new Float64Array(n + 1);

    for (let x = 0; x < width; x++) {
        for (let y = 0; y < height; y++) f[y] = sites[y * width + x] ? 0 : FAR;
        lowerEnvelope(f, height, d, v, z);
        for (let y = 0; y < height; y++) out[y * width + x] = d[y] as number;
    }
    for (let y = 0; y < height; y++) {
        const row = y * width;
        for (let x = 0; x < width; x++) f[x] = out[row + x] as number;
        lowerEnvelope(f, width, d, v, z);
        for (let x = 0; x < width; x++) {
            const value = d[x] as number;
            out[row + x] = value >= FAR / 2 ? Number.POSITIVE_INFINITY : value;
        }
    }
    return out;
}

/** d[q] = min over p of (q - p)^2 + f[p], for q in [0, n). */
function lowerEnvelope(f: Float64Array, n: number, d: Float64Array, v: Int32Array, z: Float64Array): void {
    let k = 0;
    v[0] = 0;
    z[0] = Number.NEGATIVE_INFINITY;
    z[1] = Number.POSITIVE_INFINITY;
    for (let q = 1; q < n; q++) {
        const fq = (f[q] as number) + q * q;
        let p = v[k] as number;
        let s = (fq - ((f[p] as number) + p * p)) / (2 * (q - p));
        // z[0] is -Infinity, so this stops at k = 0 at the latest (all values are finite).
        while (s <= (z[k] as number)) {
            k--;
            p = v[k] as number;
            s = (fq - ((f[p] as number) + p * p)) / (2 * (q - p));
        }
        k++;
        v[k] = q;
        z[k] = s;
        z[k + 1] = Number.POSITIVE_INFINITY;
    }
    k = 0;
    for (let q = 0; q < n; q++) {
        while ((z[k + 1] as number) < q) k++;
        const p = v[k] as number;
        d[q] = (q - p) * (q - p) + (f[p] as number);
    }
}
