import { Sfc32 } from "@sam-ablate/samplers";
import { NormalTable, pixelBox, ValueNoise } from "./noise.js";

/** BCSS class codes used by the pathology phantom. */
export const BCSS_CODES = { outsideRoi: 0, tumour: 1, stroma: 2, inflammatory: 3, necrosis: 4 } as const;

/** One synthetic H&E region: RGB pixels and BCSS class codes, row-major. */
export interface PathologyRegion {
    width: number;
    height: number;
    rgb: Uint8Array;
    label: Uint8Array;
}

interface Nucleus {
    x: number;
    y: number;
    a: number;
    b: number;
    angle: number;
    stain: number;
    wobble: [number, number, number, number];
    nucleolus: boolean;
}

/**
 * Generates one H&E-like region: pink stroma with wavy fibres and clefts and sparse spindle nuclei;
 * tumour regions (code 1) with irregular borders, nests of dense, large, pleomorphic, hyperchromatic
 * nuclei; inflammatory clusters (3) of small dark round nuclei; sometimes central necrosis (4) with
 * debris; bands outside the region of interest (0) along some borders (glass, fat or more stroma).
 * Colours come from a Beer-Lambert mix of haematoxylin and eosin optical densities.
 */
export function generatePathologyRegion(
    seed: number,
    patient: number,
    region: number,
    width: number,
    height: number,
): PathologyRegion {
    const rng = Sfc32.forKeys(seed, "pathology", patient, region);
    const W = width;
    const H = height;
    const S = Math.min(W, H);
    const label = new Uint8Array(W * H).fill(BCSS_CODES.stroma);
    const coarse = new ValueNoise(rng, W, H, 1, 48).slice(0);
    const fine = new ValueNoise(rng, W, H, 1, 16).slice(0);
    const texture = new ValueNoise(rng, W, H, 1, 5).slice(0);

    // Tumour blobs (and necrosis in the first one).
    const blobs = 1 + rng.int(3);
    for (let n = 0; n < blobs; n++) {
        const bx = rng.uniform(0.15, 0.85) * W;
        const by = rng.uniform(0.15, 0.85) * H;
        const R = rng.uniform(0.12, 0.3) * S;
        const necrosis = n === 0 && rng.float() < 0.45 ? rng.uniform(0.25, 0.45) : 0;
        paintBlob(W, H, bx, by, R, coarse, fine, 0.35, (i, rho) => {
            label[i] = necrosis > 0 && rho < necrosis ? BCSS_CODES.necrosis : BCSS_CODES.tumour;
        });
    }
    // Inflammatory clusters in the stroma.
    const clusters = 2 + rng.int(5);
    for (let n = 0; n < clusters; n++) {
        const r = rng.uniform(18, 55) * (S / 768);
        paintBlob(W, H, rng.uniform(0, W), rng.uniform(0, H), r, fine, texture, 0.3, (i) => {
            if (label[i] === BCSS_CODES.stroma) label[i] = BCSS_CODES.inflammatory;
        });
    }
    // Outside the region of interest along zero to two borders.
    const edges = rng.shuffle([0, 1, 2, 3]).slice(0, rng.int(3));
    for (const edge of edges) {
        const band = rng.uniform(0.04, 0.18) * S;
        for (let y = 0; y < H; y++) {
            for (let x = 0; x < W; x++) {
                const dist = edge === 0 ? x : edge === 1 ? W - 1 - x : edge === 2 ? y : H - 1 - y;
                const i = y * W + x;
                if (dist < band * (1 + 0.6 * (coarse[i] as number))) label[i] = BCSS_CODES.outsideRoi;
            }
        }
    }
    const outsideStyle = rng.int(3); // 0 glass, 1 fat, 2 stroma

    // Stain densities.
    const hem = new Float32Array(W * H);
    const eos = new Float32Array(W * H);
    const theta0 = rng.uniform(0, Math.PI);
    const lambda = rng.uniform(6, 9);
    const warp = new ValueNoise(rng, W, H, 1, 40).slice(0);
    const gaps = new ValueNoise(rng, W, H, 1, 12).slice(0);
    const nests = new ValueNoise(rng, W, H, 1, 28).slice(0);
    const fat = outsideStyle === 1 && edges.length > 0 ? fatMembranes(rng, W, H, 38, label) : undefined;
    const cosT = Math.cos(theta0);
    const sinT = Math.sin(theta0);
    const septum = new Uint8Array(W * H);
    for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
            const i = y * W + x;
            const tx = texture[i] as number;
            const fibre =
                0.5 + 0.5 * Math.sin(((x * cosT + y * sinT) / lambda) * 2 * Math.PI + 14 * (warp[i] as number));
            const stromaE = Math.abs(gaps[i] as number) < 0.035 ? 0.12 : 0.42 + 0.28 * fibre + 0.05 * tx;
            let e = stromaE;
            let h = 0.03;
            switch (label[i]) {
                case BCSS_CODES.tumour:
                    if (Math.abs(nests[i] as number) < 0.06) septum[i] = 1;
                    else {
                        e = 0.3 + 0.08 * tx;
                        h = 0.12 + 0.05 * tx;
                    }
                    break;
                case BCSS_CODES.inflammatory:
                    e = 0.26 + 0.05 * tx;
                    h = 0.06;
                    break;
                case BCSS_CODES.necrosis:
                    e = 0.3 + 0.15 * tx;
                    h = 0.07 + 0.04 * (fine[i] as number);
                    break;
                case BCSS_CODES.outsideRoi:
                    if (outsideStyle === 0) {
                        e = 0.015;
                        h = 0.008;
                    } else if (outsideStyle === 1) {
                        e = (fat ? (fat[i] as number) : 0) * 0.5 + 0.02;
                        h = 0.01;
                    }
                    break;
            }
            eos[i] = e;
            hem[i] = h;
        }
    }

    // Nuclei: candidates everywhere, accepted by the density of the tissue under them.
    const nuclei: Nucleus[] = [];
    const scale = S / 768;
    const candidates = Math.round((W * H) / 100);
    for (let n = 0; n < candidates; n++) {
        const x = rng.uniform(0, W);
        const y = rng.uniform(0, H);
        const i = Math.floor(y) * W + Math.floor(x);
        const code = label[i] as number;
        const u = rng.float();
        const wobble: [number, number, number, number] = [
            rng.uniform(0, 0.15),
            rng.uniform(0, 2 * Math.PI),
            rng.uniform(0, 0.1),
            rng.uniform(0, 2 * Math.PI),
        ];
        const stromaLike =
            code === BCSS_CODES.stroma ||
            (code === BCSS_CODES.tumour && septum[i]) ||
            (code === BCSS_CODES.outsideRoi && outsideStyle === 2);
        if (stromaLike) {
            if (u < 100 / 3200) {
                const a = rng.uniform(6, 10) * Math.max(scale, 0.5);
                nuclei.push({
                    x,
                    y,
                    a,
                    b: rng.uniform(1.8, 2.8),
                    angle: theta0 + Math.PI / 2 + rng.uniform(-0.3, 0.3),
                    stain: rng.uniform(0.8, 1.1),
                    wobble,
                    nucleolus: false,
                });
            }
        } else if (code === BCSS_CODES.tumour) {
            if (u < 100 / 290) {
                const a = rng.uniform(7, 13) * Math.max(scale, 0.5);
                nuclei.push({
                    x,
                    y,
                    a,
                    b: a * rng.uniform(0.6, 0.95),
                    angle: rng.uniform(0, Math.PI),
                    stain: rng.uniform(0.9, 1.6),
                    wobble,
                    nucleolus: rng.float() < 0.4,
                });
            }
        } else if (code === BCSS_CODES.inflammatory) {
            if (u < 100 / 110) {
                const r = rng.uniform(3.5, 5) * Math.max(scale, 0.5);
                nuclei.push({
                    x,
                    y,
                    a: r,
                    b: r * rng.uniform(0.85, 1),
                    angle: rng.uniform(0, Math.PI),
                    stain: rng.uniform(1.5, 1.9),
                    wobble,
                    nucleolus: false,
                });
            }
        } else if (code === BCSS_CODES.necrosis) {
            if (u < 100 / 250) {
                const r = rng.uniform(1, 2.5) * Math.max(scale, 0.5);
                nuclei.push({
                    x,
                    y,
                    a: r,
                    b: r * rng.uniform(0.5, 1),
                    angle: rng.uniform(0, Math.PI),
                    stain: rng.uniform(1.0, 1.6),
                    wobble,
                    nucleolus: false,
                });
            }
        }
    }
    for (const nucleus of nuclei) drawNucleus(nucleus, hem, texture, W, H);

    // Beer-Lambert colour: OD = h * H + e * E + background, RGB = 255 * exp(-OD) + noise.
    const hv = [0.6, 0.75, 0.3].map((v) => v * rng.uniform(0.9, 1.1));
    const ev = [0.1, 0.9, 0.4].map((v) => v * rng.uniform(0.9, 1.1));
    const normals = new NormalTable(rng);
    const rgb = new Uint8Array(W * H * 3);
    const noise = new Float32Array(3 * W);
    for (let i = 0; i < W * H; i++) {
        const h = hem[i] as number;
        const e = eos[i] as number;
        if (i % W === 0) normals.fill(noise);
        for (let c = 0; c < 3; c++) {
            const od = h * (hv[c] as number) + e * (ev[c] as number) + 0.02;
            const v = 255 * Math.exp(-od) + 2.5 * (noise[3 * (i % W) + c] as number);
            rgb[3 * i + c] = v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
        }
    }
    return { width: W, height: H, rgb, label };
}

function paintBlob(
    W: number,
    H: number,
    bx: number,
    by: number,
    R: number,
    coarse: Float32Array,
    fine: Float32Array,
    roughness: number,
    paint: (i: number, rho: number) => void,
): void {
    const reach = R * (1 + roughness + 0.2);
    const [x0, x1, y0, y1] = pixelBox(bx, by, reach, W, H);
    for (let y = y0; y <= y1; y++) {
        for (let x = x0; x <= x1; x++) {
            const i = y * W + x;
            const dx = x - bx;
            const dy = y - by;
            const rho =
                Math.sqrt(dx * dx + dy * dy) / R - roughness * (coarse[i] as number) - 0.12 * (fine[i] as number);
            if (rho < 1) paint(i, rho);
        }
    }
}

function drawNucleus(n: Nucleus, hem: Float32Array, texture: Float32Array, W: number, H: number): void {
    const reach = Math.ceil(n.a * 1.3) + 1;
    const cos = Math.cos(n.angle);
    const sin = Math.sin(n.angle);
    const [w2, p2, w3, p3] = n.wobble;
    const [x0, x1, y0, y1] = pixelBox(n.x, n.y, reach, W, H);
    for (let y = y0; y <= y1; y++) {
        for (let x = x0; x <= x1; x++) {
            const dx = x + 0.5 - n.x;
            const dy = y + 0.5 - n.y;
            const u = (dx * cos + dy * sin) / n.a;
            const v = (-dx * sin + dy * cos) / n.b;
            const phi = Math.atan2(v, u);
            const rho = Math.sqrt(u * u + v * v) / (1 + w2 * Math.cos(2 * phi + p2) + w3 * Math.cos(3 * phi + p3));
            if (rho >= 1) continue;
            const i = y * W + x;
            const edge = Math.min(1, (1 - rho) * n.b * 1.2);
            let h = n.stain * edge * (0.85 + 0.3 * (0.5 + 0.5 * (texture[i] as number)));
            if (n.nucleolus && (u - 0.25) * (u - 0.25) + v * v < 0.0484) h += 0.6;
            if (h > (hem[i] as number)) hem[i] = h;
        }
    }
}

/**
 * Adipocyte membranes outside the region of interest: 1 near the boundary between jittered-grid
 * cells (Worley F2 - F1 small), else 0.
 */
function fatMembranes(rng: Sfc32, W: number, H: number, cell: number, label: Uint8Array): Float32Array {
    const gx = Math.ceil(W / cell) + 2;
    const gy = Math.ceil(H / cell) + 2;
    const px = new Float32Array(gx * gy);
    const py = new Float32Array(gx * gy);
    for (let j = 0; j < gy; j++) {
        for (let i = 0; i < gx; i++) {
            px[j * gx + i] = (i - 1 + rng.uniform(0.15, 0.85)) * cell;
            py[j * gx + i] = (j - 1 + rng.uniform(0.15, 0.85)) * cell;
        }
    }
    const out = new Float32Array(W * H);
    for (let y = 0; y < H; y++) {
        const cj = Math.floor(y / cell) + 1;
        for (let x = 0; x < W; x++) {
            if (label[y * W + x] !== BCSS_CODES.outsideRoi) continue;
            const ci = Math.floor(x / cell) + 1;
            let f1 = Infinity;
            let f2 = Infinity;
            for (let j = cj - 1; j <= cj + 1; j++) {
                for (let i = ci - 1; i <= ci + 1; i++) {
                    const k = j * gx + i;
                    const ex = x - (px[k] as number);
                    const ey = y - (py[k] as number);
                    const d = ex * ex + ey * ey;
                    if (d < f1) {
                        f2 = f1;
                        f1 = d;
                    } else if (d < f2) f2 = d;
                }
            }
            out[y * W + x] = Math.sqrt(f2) - Math.sqrt(f1) < 2.2 ? 1 : 0;
        }
    }
    return out;
}
