import { Sfc32 } from "@sam-ablate/samplers";
import { blur121, FractalNoise, NormalTable, pixelBox, ValueNoise } from "./noise.js";

/** MR sequences of the radiology phantom (the BraTS modalities). */
export const PHANTOM_MODALITIES = ["flair", "t1", "t1ce", "t2"] as const;
export type PhantomModality = (typeof PHANTOM_MODALITIES)[number];

/** One synthetic patient: int16 MR volumes and a BraTS-style label volume (0, 1, 2, 4), x fastest. */
export interface RadiologyCase {
    size: number;
    slices: number;
    /** Slice spacing in mm (in-plane spacing is 240 / size mm). */
    sliceSpacing: number;
    volumes: Record<PhantomModality, Int16Array>;
    seg: Uint8Array;
}

// Tissue classes of the phantom.
const BG = 0;
const SCALP = 1;
const SKULL = 2;
const CSF = 3;
const GM = 4;
const WM = 5;
const DEEP = 6;
const EDEMA = 7;
const ENH = 8;
const NEC = 9;
const NET = 10;

/** Relative signal of each tissue class per sequence (BG, scalp, skull, CSF, GM, WM, deep GM, oedema, enhancing, necrosis, non-enhancing). */
const SIGNAL: Record<PhantomModality, readonly number[]> = {
    flair: [0, 0.55, 0.07, 0.1, 0.62, 0.48, 0.58, 1.0, 0.85, 0.5, 0.82],
    t1: [0, 0.95, 0.08, 0.16, 0.56, 0.8, 0.62, 0.46, 0.52, 0.22, 0.4],
    t1ce: [0, 0.95, 0.08, 0.16, 0.57, 0.8, 0.63, 0.48, 1.1, 0.22, 0.42],
    t2: [0, 0.7, 0.06, 1.0, 0.62, 0.42, 0.55, 0.86, 0.68, 0.95, 0.84],
};

/** Lateral ventricles are tilted by +-0.26 rad. */
const VENT_COS = Math.cos(0.26);
const VENT_SIN = Math.sin(0.26);

/** BraTS label of each tumour tissue class (others 0). */
const LABEL_OF = new Uint8Array([0, 0, 0, 0, 0, 0, 0, 2, 4, 1, 1]);

interface Lesion {
    cx: number;
    cy: number;
    cz: number;
    r: number;
    rz: number;
    coreFrac: number;
    necFrac: number;
    enhancing: boolean;
    contrast: number;
    edgeNoise: ValueNoise;
    coreNoise: ValueNoise;
}

/**
 * Generates one MRI-like head: scalp, skull, CSF, cortex with gyral texture, white matter, deep grey
 * nuclei, ventricles and the interhemispheric fissure; one to three irregular lesions (oedema ring
 * label 2, enhancing rim label 4 or non-enhancing core label 1, necrosis label 1) with varied size
 * and contrast; per-sequence bias field and Rician noise. Voxels outside the head are exactly 0.
 */
export function generateRadiologyCase(seed: number, patient: number, size: number, slices: number): RadiologyCase {
    const rng = Sfc32.forKeys(seed, "radiology", patient);
    const W = size;
    const H = size;
    const Z = slices;
    const sf = size / 240;
    const sliceSpacing = 150 / Z;
    const pxMm = 240 / size;
    const cx = W / 2 + rng.uniform(-5, 5) * sf;
    const cy = H / 2 + rng.uniform(-4, 6) * sf;
    const ax = rng.uniform(76, 88) * sf;
    const ay = rng.uniform(94, 106) * sf;
    const harmonics = [2, 3, 4].map((k) => ({ k, amp: rng.uniform(0, 0.025), phase: rng.uniform(0, 2 * Math.PI) }));
    const skullT = rng.uniform(5, 7) * sf;
    const scalpT = 4 * sf;
    const csfT = 2.5 * sf;
    const cortexT = rng.uniform(4, 6) * sf;
    const zCell = Math.max(1, 8 / sliceSpacing);
    const gyri = new ValueNoise(rng, W, H, Z, 9 * sf, zCell);
    const texture = new FractalNoise(rng, W, H, Z, 6 * sf, 2, zCell);
    const fissureWave = rng.uniform(25, 40) * sf;
    const lesions = makeLesions(rng, W, H, Z, sf, pxMm, sliceSpacing, cx, cy, ax, ay);
    const bias = PHANTOM_MODALITIES.map(() => Array.from({ length: 6 }, () => rng.uniform(-1, 1)));
    const gain = PHANTOM_MODALITIES.map(() => rng.uniform(700, 2400));
    const sigma = PHANTOM_MODALITIES.map(() => rng.uniform(0.018, 0.035));
    const normals = new NormalTable(rng);
    const noise = new Float32Array(2 * W);
    const biasQuadratic = bias.map((b) =>
        Float32Array.from({ length: W }, (_, x) => Math.exp(0.12 * (b[4] as number) * ((2 * x) / (W - 1) - 1) ** 2)),
    );

    const volumes = Object.fromEntries(PHANTOM_MODALITIES.map((m) => [m, new Int16Array(W * H * Z)])) as Record<
        PhantomModality,
        Int16Array
    >;
    const seg = new Uint8Array(W * H * Z);
    const tissue = new Uint8Array(W * H);
    const contrast = new Float32Array(W * H);
    const signal = new Float32Array(W * H);
    // In-plane distance to the centre and the head boundary's radius along the same ray (full size).
    const radius = new Float32Array(W * H);
    const boundary = new Float32Array(W * H);
    for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
            const dx = x + 0.5 - cx;
            const dy = y + 0.5 - cy;
            const theta = Math.atan2(dy, dx);
            const c = Math.cos(theta);
            const sn = Math.sin(theta);
            let perturb = 1;
            for (const h of harmonics) perturb += h.amp * Math.cos(h.k * theta + h.phase);
            radius[y * W + x] = Math.hypot(dx, dy);
            boundary[y * W + x] = perturb / Math.sqrt((c * c) / (ax * ax) + (sn * sn) / (ay * ay));
        }
    }

    for (let z = 0; z < Z; z++) {
        const t = -0.72 + (1.5 * (z + 0.5)) / Z;
        const s = Math.sqrt(Math.max(0, 1 - t * t));
        const g = gyri.slice(z);
        const tex = texture.slice(z);
        tissue.fill(BG);
        contrast.fill(1);
        const ventricle = t > -0.25 && t < 0.41 ? Math.sqrt(Math.max(0, 1 - ((t - 0.08) / 0.33) ** 2)) : 0;
        const deep = t > -0.3 && t < 0.15 ? Math.sqrt(Math.max(0, 1 - ((t + 0.07) / 0.23) ** 2)) : 0;
        const deepX = 22 * sf * s;
        const deepA = 9 * sf * deep;
        const deepB = 14 * sf * deep;
        const ventX = 11 * sf * s;
        const ventA = 6 * sf * ventricle;
        const ventB = 22 * sf * ventricle;
        for (let y = 0; y < H; y++) {
            const dy = y + 0.5 - cy;
            const fissureX = 2 * sf * Math.sin(dy / fissureWave);
            for (let x = 0; x < W; x++) {
                const i = y * W + x;
                const dx = x + 0.5 - cx;
                const rb = s * (boundary[i] as number);
                const d = rb - (radius[i] as number);
                if (d < 0) continue;
                if (d < scalpT) tissue[i] = SCALP;
                else if (d < scalpT + skullT) tissue[i] = SKULL;
                else if (d < scalpT + skullT + csfT) tissue[i] = CSF;
                else {
                    const db = d - scalpT - skullT - csfT;
                    const gi = g[i] as number;
                    let cls = db < cortexT * (1 + 0.6 * gi) ? GM : WM;
                    if (cls === GM && Math.abs(gi) < 0.05 && db < cortexT * 1.4) cls = CSF;
                    if (Math.abs(dx - fissureX) < 0.9 * sf && db < 0.8 * rb) cls = CSF;
                    if (deep > 0) {
                        for (let side = -1; side <= 1; side += 2) {
                            const u = (dx - side * deepX) / deepA;
                            const v = (dy - 6 * sf) / deepB;
                            if (u * u + v * v < 1) cls = DEEP;
                        }
                    }
                    if (ventricle > 0) {
                        for (let side = -1; side <= 1; side += 2) {
                            const px = dx - side * ventX;
                            const py = dy + 4 * sf;
                            const u = (px * VENT_COS + side * py * VENT_SIN) / ventA;
                            const v = (-side * px * VENT_SIN + py * VENT_COS) / ventB;
                            if (u * u + v * v < 1) cls = CSF;
                        }
                    }
                    tissue[i] = cls;
                }
            }
        }
        for (const les of lesions) paintLesion(les, z, tissue, contrast, W, H);
        const segOffset = z * W * H;
        for (let i = 0; i < W * H; i++) seg[segOffset + i] = LABEL_OF[tissue[i] as number] as number;

        for (let mi = 0; mi < PHANTOM_MODALITIES.length; mi++) {
            const m = PHANTOM_MODALITIES[mi] as PhantomModality;
            const table = SIGNAL[m];
            for (let i = 0; i < W * H; i++) {
                const cls = tissue[i] as number;
                const base = table[cls] as number;
                const texAmp = cls >= CSF ? 0.07 : 0.04;
                const lesionScale = cls >= EDEMA ? (contrast[i] as number) : 1;
                signal[i] = base * lesionScale * (1 + texAmp * (tex[i] as number));
            }
            blur121(signal, W, H);
            const [b0, b1, b2, b3, b4, b5] = bias[mi] as [number, number, number, number, number, number];
            const quadratic = biasQuadratic[mi] as Float32Array;
            const sd = sigma[mi] as number;
            const gm = gain[mi] as number;
            const vol = volumes[m];
            const Zn = (2 * z) / Math.max(1, Z - 1) - 1;
            for (let y = 0; y < H; y++) {
                const Y = (2 * y) / (H - 1) - 1;
                // Smooth multiplicative bias exp(0.12 * (c0 + c1 * X + b4 * X^2)), the linear term by recurrence.
                const c0 = b1 * Y + b2 * Zn - b4 * Y * Y;
                const c1 = b0 + b3 * Y + b5 * Zn;
                let linear = Math.exp(0.12 * (c0 - c1));
                const step = Math.exp((0.12 * c1 * 2) / (W - 1));
                normals.fill(noise, 2 * W);
                const row = y * W;
                for (let x = 0; x < W; x++, linear *= step) {
                    const i = row + x;
                    if (tissue[i] === BG) continue;
                    const v = (signal[i] as number) * linear * (quadratic[x] as number);
                    const re = v + sd * (noise[2 * x] as number);
                    const im = sd * (noise[2 * x + 1] as number);
                    const value = Math.round(Math.sqrt(re * re + im * im) * gm);
                    vol[segOffset + i] = Math.min(Math.max(value, 1), 32767);
                }
            }
        }
    }
    return { size, slices, sliceSpacing, volumes, seg };
}

function makeLesions(
    rng: Sfc32,
    W: number,
    H: number,
    Z: number,
    sf: number,
    pxMm: number,
    sliceSpacing: number,
    cx: number,
    cy: number,
    ax: number,
    ay: number,
): Lesion[] {
    const u = rng.float();
    const count = u < 0.65 ? 1 : u < 0.92 ? 2 : 3;
    const lesions: Lesion[] = [];
    for (let n = 0; n < count; n++) {
        const r = (n === 0 ? rng.uniform(14, 32) : rng.uniform(8, 22)) * sf;
        const angle = rng.uniform(0, 2 * Math.PI);
        const radial = rng.uniform(0.1, 0.55);
        const tc = rng.uniform(-0.35, 0.45);
        const rzMm = r * pxMm * rng.uniform(0.7, 1.2);
        const necFrac = rng.uniform(0, 0.65);
        lesions.push({
            cx: cx + Math.cos(angle) * radial * (ax - 18 * sf),
            cy: cy + Math.sin(angle) * radial * (ay - 18 * sf),
            cz: ((tc + 0.72) / 1.5) * Z - 0.5,
            r,
            rz: Math.max(0.75, rzMm / sliceSpacing),
            coreFrac: rng.uniform(0.35, 0.7),
            necFrac: necFrac < 0.15 ? 0 : necFrac,
            enhancing: rng.float() < 0.85,
            contrast: rng.uniform(0.8, 1.15),
            edgeNoise: new ValueNoise(rng, W, H, Z, Math.max(3, r * 0.6), Math.max(1, (r * 0.6 * pxMm) / sliceSpacing)),
            coreNoise: new ValueNoise(
                rng,
                W,
                H,
                Z,
                Math.max(3, r * 0.45),
                Math.max(1, (r * 0.45 * pxMm) / sliceSpacing),
            ),
        });
    }
    return lesions;
}

/** Paints one lesion's tissue classes into slice z (brain tissue only). */
function paintLesion(les: Lesion, z: number, tissue: Uint8Array, contrast: Float32Array, W: number, H: number): void {
    const dz = (z - les.cz) / les.rz;
    if (Math.abs(dz) > 1.5) return;
    const edge = les.edgeNoise.slice(z);
    const core = les.coreNoise.slice(z);
    const reach = les.r * 1.6;
    const [x0, x1, y0, y1] = pixelBox(les.cx, les.cy, reach, W, H);
    for (let y = y0; y <= y1; y++) {
        for (let x = x0; x <= x1; x++) {
            const i = y * W + x;
            const cls = tissue[i] as number;
            if (cls < CSF) continue;
            const ddx = (x + 0.5 - les.cx) / les.r;
            const ddy = (y + 0.5 - les.cy) / les.r;
            const rho = Math.sqrt(ddx * ddx + ddy * ddy + dz * dz);
            if (rho / (1 + 0.45 * (edge[i] as number)) >= 1) continue;
            const rc = rho / (les.coreFrac * (1 + 0.3 * (core[i] as number)));
            let next = EDEMA;
            if (rc < 1) next = les.enhancing ? (les.necFrac > 0 && rc < les.necFrac ? NEC : ENH) : NET;
            if (next > cls || cls < EDEMA) {
                tissue[i] = next;
                contrast[i] = les.contrast;
            }
        }
    }
}
