/**
 * NIfTI geometry: the voxel-to-world affine (sform, else qform, else the voxel sizes), the axis
 * codes it implies, the grid check between an image and its label, and the one canonical voxel
 * orientation patches are cut in.
 *
 * Canonical orientation: voxel axis 0 runs toward the patient's Left, axis 1 toward Posterior,
 * axis 2 toward Superior (axis codes L, P, S in the RAS+ world of NIfTI). That is the orientation
 * BraTS distributes its volumes in, so BraTS slices are used as stored (the array layout MedSAM
 * reads); a volume stored otherwise is permuted and flipped into it. A file without qform and sform
 * has no orientation; its voxels are taken as stored.
 */
import { DataError } from "../errors.js";
import type { NiftiHeader } from "./types.js";

/** Rows of the 3x4 voxel-to-world matrix (world = A * [i, j, k, 1]). */
export type Affine = [number[], number[], number[]];

/** Where an affine came from. */
export type AffineSource = "sform" | "qform" | "pixdim";

/** The canonical axis codes. */
export const CANONICAL_AXES = "LPS";

/** The affine of a header: sform when sform_code > 0, else qform when qform_code > 0, else diag(pixdim). */
export function headerAffine(h: NiftiHeader): { affine: Affine; source: AffineSource } {
    if (h.sformCode > 0 && h.srow.every((r) => r.every(Number.isFinite))) {
        return { affine: h.srow.map((r) => [...r]) as Affine, source: "sform" };
    }
    const px = [1, 2, 3].map((i) => {
        const v = Math.abs(h.pixdim[i] ?? 1);
        return Number.isFinite(v) && v > 0 ? v : 1;
    }) as [number, number, number];
    if (h.qformCode > 0) {
        const [b, c, d] = h.quatern;
        const a = Math.sqrt(Math.max(0, 1 - (b * b + c * c + d * d)));
        const qfac = (h.pixdim[0] ?? 1) < 0 ? -1 : 1;
        const R = [
            [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
            [2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)],
            [2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b],
        ];
        const scale = [px[0], px[1], px[2] * qfac];
        const affine = R.map((row, r) => [
            ...row.map((v, col) => v * (scale[col] as number)),
            h.qoffset[r] as number,
        ]) as Affine;
        return { affine, source: "qform" };
    }
    return {
        affine: [
            [px[0], 0, 0, 0],
            [0, px[1], 0, 0],
            [0, 0, px[2], 0],
        ],
        source: "pixdim",
    };
}

/** Axis codes of an affine (nibabel's convention: the world direction each voxel axis points to), e.g. "LPS". */
export function axisCodes(affine: Affine): string {
    const pos = ["R", "A", "S"];
    const neg = ["L", "P", "I"];
    const used = new Set<number>();
    const codes = ["", "", ""];
    // Assign the strongest (voxel axis, world axis) pairs first so that every world axis is used once.
    const pairs: { v: number; w: number; m: number }[] = [];
    for (let v = 0; v < 3; v++) for (let w = 0; w < 3; w++) pairs.push({ v, w, m: Math.abs(affine[w]?.[v] ?? 0) });
    pairs.sort((x, y) => y.m - x.m);
    const done = new Set<number>();
    for (const { v, w } of pairs) {
        if (done.has(v) || used.has(w)) continue;
        done.add(v);
        used.add(w);
        codes[v] = ((affine[w]?.[v] ?? 0) >= 0 ? pos[w] : neg[w]) as string;
    }
    return codes.join("");
}

/** How to bring stored voxels into the canonical orientation: output axis a reads stored axis perm[a], flipped when flip[a]. */
export interface Reorientation {
    /** Stored axis codes ("LPS", "RAS", ...; "" without qform/sform). */
    stored: string;
    perm: [number, number, number];
    flip: [boolean, boolean, boolean];
    identity: boolean;
}

/** The reorientation of a header's voxels into the canonical orientation. */
export function canonicalReorientation(h: NiftiHeader): Reorientation {
    const { affine, source } = headerAffine(h);
    if (source === "pixdim") return { stored: "", perm: [0, 1, 2], flip: [false, false, false], identity: true };
    const stored = axisCodes(affine);
    const perm: [number, number, number] = [0, 1, 2];
    const flip: [boolean, boolean, boolean] = [false, false, false];
    const opposite: Record<string, string> = { L: "R", P: "A", S: "I" };
    for (let a = 0; a < 3; a++) {
        const want = CANONICAL_AXES[a] as string;
        const at = stored.indexOf(want);
        const atOpp = stored.indexOf(opposite[want] as string);
        if (at >= 0) perm[a] = at;
        else {
            perm[a] = atOpp;
            flip[a] = true;
        }
    }
    const identity = perm[0] === 0 && perm[1] === 1 && perm[2] === 2 && !flip.some(Boolean);
    return { stored, perm, flip, identity };
}

/**
 * Reorders `data` (x fastest; `channels` volumes of dims one after the other) into the canonical
 * orientation. Returns the same array when nothing moves.
 */
export function reorientVolume<T extends Float32Array | Uint8Array>(
    data: T,
    dims: readonly [number, number, number],
    r: Reorientation,
    channels = 1,
): { data: T; dims: [number, number, number] } {
    const out = [dims[r.perm[0]], dims[r.perm[1]], dims[r.perm[2]]] as [number, number, number];
    if (r.identity) return { data, dims: [...dims] as [number, number, number] };
    const res = new (data.constructor as new (n: number) => T)(data.length);
    const strides = [1, dims[0], dims[0] * dims[1]];
    const n = dims[0] * dims[1] * dims[2];
    // Stored index of output voxel (i, j, k) = base + i*si + j*sj + k*sk.
    const step = [0, 1, 2].map((a) => (r.flip[a] ? -1 : 1) * (strides[r.perm[a] as number] as number));
    const start = [0, 1, 2].reduce(
        (acc, a) => acc + (r.flip[a] ? ((out[a] as number) - 1) * (strides[r.perm[a] as number] as number) : 0),
        0,
    );
    const [si, sj, sk] = step as [number, number, number];
    for (let c = 0; c < channels; c++) {
        let o = c * n;
        for (let k = 0; k < out[2]; k++) {
            for (let j = 0; j < out[1]; j++) {
                let s = c * n + start + j * sj + k * sk;
                for (let i = 0; i < out[0]; i++, s += si) res[o++] = data[s] as number;
            }
        }
    }
    return { data: res, dims: out };
}

/** The inverse of reorientVolume: canonical voxels back to the stored order of the same header. */
export function restoreVolume<T extends Float32Array | Uint8Array>(
    data: T,
    storedDims: readonly [number, number, number],
    r: Reorientation,
): T {
    if (r.identity) return data;
    const res = new (data.constructor as new (n: number) => T)(data.length);
    const out = [storedDims[r.perm[0]], storedDims[r.perm[1]], storedDims[r.perm[2]]] as [number, number, number];
    const strides = [1, storedDims[0], storedDims[0] * storedDims[1]];
    const step = [0, 1, 2].map((a) => (r.flip[a] ? -1 : 1) * (strides[r.perm[a] as number] as number));
    const start = [0, 1, 2].reduce(
        (acc, a) => acc + (r.flip[a] ? ((out[a] as number) - 1) * (strides[r.perm[a] as number] as number) : 0),
        0,
    );
    const [si, sj, sk] = step as [number, number, number];
    let o = 0;
    for (let k = 0; k < out[2]; k++) {
        for (let j = 0; j < out[1]; j++) {
            let s = start + j * sj + k * sk;
            for (let i = 0; i < out[0]; i++, s += si) res[s] = data[o++] as number;
        }
    }
    return res;
}

/**
 * Throws ERR_SA_DATA naming both files unless the two headers describe the same voxel grid (same
 * dimensions, affines within 1e-3 relative on the matrix and 0.01 mm on the offset).
 */
export function checkSameGrid(
    a: { file: string; dims: readonly number[]; header: NiftiHeader },
    b: { file: string; dims: readonly number[]; header: NiftiHeader },
): void {
    if (a.dims[0] !== b.dims[0] || a.dims[1] !== b.dims[1] || a.dims[2] !== b.dims[2]) {
        throw new DataError(
            "ERR_SA_DATA",
            `label volume ${b.file} has shape ${b.dims.slice(0, 3).join("x")} but image ${a.file} has shape ${a.dims.slice(0, 3).join("x")}`,
        );
    }
    const A = headerAffine(a.header);
    const B = headerAffine(b.header);
    // A file without any orientation is taken to share the other's grid.
    if (A.source === "pixdim" || B.source === "pixdim") return;
    for (let r = 0; r < 3; r++) {
        for (let c = 0; c < 4; c++) {
            const x = A.affine[r]?.[c] as number;
            const y = B.affine[r]?.[c] as number;
            const tol = c === 3 ? 0.01 : 1e-3 * Math.max(1, Math.abs(x), Math.abs(y));
            if (!(Math.abs(x - y) <= tol)) {
                throw new DataError(
                    "ERR_SA_DATA",
                    `image ${a.file} and label ${b.file} are on different grids: voxel-to-world ${A.source} ${fmt(A.affine)} vs ${B.source} ${fmt(B.affine)}`,
                );
            }
        }
    }
}

function fmt(a: Affine): string {
    return `[${a.map((r) => r.map((v) => Number(v.toPrecision(6))).join(" ")).join("; ")}]`;
}
