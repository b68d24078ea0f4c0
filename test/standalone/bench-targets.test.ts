// The targets `bench` prints: SPEC section 7's on every machine, the stricter ones of an AVX-512 CPU
// level, and the met / not met verdict over every bound that was measured.
import assert from "node:assert/strict";
import { test } from "uvu";
import {
    benchTarget,
    onnxruntimeRatioCaveat,
    targetNote,
    torchBlasNote,
} from "../../packages/cli/src/bench-targets.js";

test("the train step is held to 100 ms on AVX2 and 50 ms from AVX-512 on", () => {
    assert.equal(benchTarget("train-step", "cpu", "avx2")?.maxMs, 100);
    assert.equal(benchTarget("train-step", "cpu", null)?.maxMs, 100);
    for (const level of ["avx512", "avx512bf16", "amx"] as const)
        assert.equal(benchTarget("train-step", "cpu", level)?.maxMs, 50, level);
    assert.equal(benchTarget("train-step", "cuda", "avx2")?.maxMs, 1.5);
    assert.equal(benchTarget("decoder", "cpu", "avx2"), undefined);
});

test("encoders: SPEC's seconds on every level, 1.25x onnxruntime on AVX2, 1.3x and bf16 2x on AVX-512", () => {
    const avx2 = benchTarget("vit_b", "cpu", "avx2");
    assert.equal(avx2?.maxSeconds, 8);
    assert.equal(avx2?.minRatioVsOnnxruntime, 1.25);
    assert.ok(!avx2?.text.includes("bf16"));
    const amx = benchTarget("vit_b", "cpu", "amx");
    assert.equal(amx?.minRatioVsOnnxruntime, 1.3);
    assert.match(amx?.text ?? "", /bf16 >= 2x our fp32/);
    assert.equal(benchTarget("tinyvit", "cpu", "avx512")?.maxSeconds, 0.8);
    assert.equal(benchTarget("tinyvit", "cpu", "avx512")?.minRatioVsOnnxruntime, 1.3);
});

test("the verdict checks every bound measured, and none without a value", () => {
    const t = benchTarget("tinyvit", "cpu", "avx512bf16");
    assert.match(targetNote(t, { seconds: 0.56, ratio: 1.39 }), /: met$/);
    assert.match(targetNote(t, { seconds: 0.56, ratio: 1.2 }), /: not met$/);
    assert.match(targetNote(t, { seconds: 0.9, ratio: 1.5 }), /: not met$/);
    assert.match(targetNote(t, {}), /\)$/);
    assert.match(targetNote(benchTarget("train-step", "cpu", "avx512bf16"), { ms: 51 }), /<= 50 ms\): not met$/);
    assert.match(targetNote(benchTarget("train-step", "cpu", "avx2"), { ms: 51 }), /<= 100 ms\): met$/);
    assert.equal(targetNote(undefined, { ms: 1 }), "");
    const vitb = benchTarget("vit_b", "cpu", "avx512bf16");
    assert.match(targetNote(vitb, { seconds: 5.4, ratio: 1.53, bf16Speedup: 1.55 }), /: not met$/);
    assert.match(targetNote(vitb, { seconds: 5.4, ratio: 1.53, bf16Speedup: 2.1 }), /: met$/);
    assert.match(targetNote(vitb, { seconds: 5.4, ratio: 1.53 }), /: met$/);
    assert.equal(benchTarget("vit_b", "cpu", "avx2")?.minBf16Speedup, undefined);
});

test("our forced avx2 level is not judged against onnxruntime's AVX-512 kernels", () => {
    const caveat = onnxruntimeRatioCaveat("avx2", "avx512bf16");
    assert.match(caveat ?? "", /not judged \(SA_ISA forces avx2/);
    const t = benchTarget("tinyvit", "cpu", "avx2");
    assert.match(targetNote(t, { seconds: 0.4, notJudged: caveat }), /\): the ratio is not judged .*; the rest met$/);
    assert.match(targetNote(t, { seconds: 0.9, notJudged: caveat }), /; the rest not met$/);
    assert.equal(onnxruntimeRatioCaveat("avx2", "avx2"), undefined);
    assert.equal(onnxruntimeRatioCaveat("avx512", "avx512bf16"), undefined);
    assert.equal(onnxruntimeRatioCaveat("amx", "amx"), undefined);
});

test("the PyTorch anchor on the reference BLAS is called unfair, on OpenBLAS named", () => {
    assert.match(torchBlasNote("reference /usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0"), /not a fair anchor/);
    assert.equal(torchBlasNote("openblas /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3"), "BLAS: openblas");
    assert.equal(
        torchBlasNote(
            "openblas /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3, reference /x/blas/libblas.so.3",
        ),
        "BLAS: openblas, reference",
    );
    assert.equal(torchBlasNote(undefined), "BLAS not reported");
    assert.equal(torchBlasNote("none mapped"), "BLAS not reported");
});

test.run();
