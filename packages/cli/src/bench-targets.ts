// The performance targets `bench` prints beside its figures: SPEC section 7's (absolute, for every
// machine) and, on the CPU, the ratio and step time each kernel level is held to (an AVX-512 machine
// to more than an AVX2 one).

/** A CPU kernel level of systemInfo().isa (null: none usable). */
export type CpuLevel = "avx2" | "avx512" | "avx512bf16" | "amx" | null;

export interface BenchTarget {
    text: string;
    maxSeconds?: number; // per image (encoders)
    minRatioVsOnnxruntime?: number; // fp32 encoder against onnxruntime-node in the same run
    minBf16Speedup?: number; // bf16 encoder against our fp32 in the same run
    maxMs?: number; // per train step
}

/** The target of one benchmark on a backend (and CPU level), or undefined where none is set. */
export function benchTarget(what: string, backend: string, level: CpuLevel): BenchTarget | undefined {
    if (backend === "cuda") {
        if (what === "vit_b") return { text: ">= 200 img/s, <= 3 GiB (batch 8, bf16)" };
        if (what === "train-step") return { text: "<= 1.5 ms", maxMs: 1.5 };
        return undefined;
    }
    const avx512 = level === "avx512" || level === "avx512bf16" || level === "amx";
    if (what === "vit_b" || what === "tinyvit") {
        const r = avx512 ? 1.3 : 1.25;
        const s = what === "vit_b" ? 8 : 0.8;
        const bf16 = what === "vit_b" && avx512;
        return {
            text: `<= ${s} s, fp32 >= ${r}x onnxruntime-node in the same run${bf16 ? "; bf16 >= 2x our fp32" : ""}`,
            maxSeconds: s,
            minRatioVsOnnxruntime: r,
            ...(bf16 ? { minBf16Speedup: 2 } : {}),
        };
    }
    if (what === "train-step") {
        const ms = avx512 ? 50 : 100;
        return { text: `<= ${ms} ms`, maxMs: ms };
    }
    return undefined;
}

/**
 * "; target (...): met" or "not met" for the values measured (every comparable bound checked), or
 * the bare target when nothing comparable was measured; notJudged: why one measured value is left out
 * of the verdict, said before it.
 */
export function targetNote(
    t: BenchTarget | undefined,
    value: { seconds?: number; ratio?: number; bf16Speedup?: number; ms?: number; notJudged?: string },
): string {
    if (!t) return "";
    const checks: boolean[] = [];
    if (value.seconds !== undefined && t.maxSeconds !== undefined) checks.push(value.seconds <= t.maxSeconds);
    if (value.ratio !== undefined && t.minRatioVsOnnxruntime !== undefined)
        checks.push(value.ratio >= t.minRatioVsOnnxruntime);
    if (value.bf16Speedup !== undefined && t.minBf16Speedup !== undefined)
        checks.push(value.bf16Speedup >= t.minBf16Speedup);
    if (value.ms !== undefined && t.maxMs !== undefined) checks.push(value.ms <= t.maxMs);
    const met = checks.every(Boolean) ? "met" : "not met";
    if (value.notJudged !== undefined)
        return `; target (${t.text}): ${value.notJudged}${checks.length === 0 ? "" : `; the rest ${met}`}`;
    return `; target (${t.text})${checks.length === 0 ? "" : `: ${met}`}`;
}

/**
 * Why our ratio against onnxruntime-node is not held to the target of the level in use, or undefined
 * when it is: onnxruntime picks its own kernels from the CPU, so with SA_ISA forcing our avx2 level on a
 * CPU with AVX-512 it runs AVX-512 kernels against our AVX2 ones, a comparison the avx2 target (set for
 * AVX2-only CPUs) does not describe.
 */
export function onnxruntimeRatioCaveat(level: CpuLevel, available: string | undefined): string | undefined {
    const avx512Available = available === "avx512" || available === "avx512bf16" || available === "amx";
    if (level === "avx2" && avx512Available)
        return `the ratio is not judged (SA_ISA forces avx2 on a CPU where onnxruntime runs its AVX-512 kernels; this CPU's level: ${available})`;
    return undefined;
}

/**
 * How the PyTorch anchor's BLAS reads beside its time: Debian's python3-torch calls whatever
 * libblas.so.3 points to, and the reference (netlib) BLAS it pulls in alone makes the anchor many times
 * slower than with OpenBLAS, so a ratio against it says nothing about us.
 */
export function torchBlasNote(blas: string | undefined): string {
    if (blas === undefined || blas === "none mapped") return "BLAS not reported";
    const kinds = blas.split(", ").map((entry) => entry.split(" ")[0]);
    if (kinds.includes("reference") && !kinds.some((k) => k === "openblas" || k === "blis" || k === "mkl"))
        return "BLAS: the reference netlib libblas, many times slower than OpenBLAS: not a fair anchor (apt-get install libopenblas0-pthread, then rerun)";
    return `BLAS: ${kinds.join(", ")}`;
}
