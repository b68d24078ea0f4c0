// `bench --json` reports the ceilings it measured in the same run: the fp32 GEMM micro-kernel's peak
// always on the CPU and, when bf16 is timed on a CPU level with bf16 products (avx512bf16, amx), the
// bf16 products kernel's peak too, with the decoder's times; `--what embed` reports the embed step,
// the encoder alone and the host side alone per patch and leaves no temporary files. Nothing about
// speed is asserted.

import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { loadAddon } from "@sam-ablate/native";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { runCliOk } from "../helpers/cli.js";

const isa = loadAddon().systemInfo().isa;
const bf16Level = isa === "avx512bf16" || isa === "amx";

interface BenchJson {
    ok: boolean;
    isa: string;
    peakGflops?: number;
    peakGflopsBf16?: number;
    results: { what: string; msPerStep: number; msPerStep_bf16?: number; decoderPrecision?: string }[];
}

async function benchJson(args: string[]): Promise<BenchJson> {
    const r = await runCliOk(["bench", "--what", "decoder", "--repeats", "1", "--threads", "2", "--json", ...args]);
    return JSON.parse(r.stdout.trim().split("\n").pop() as string) as BenchJson;
}

test("bench --json: the fp32 peak always, no bf16 peak when bf16 is not timed", async () => {
    const j = await benchJson(["--decoder-precision", "fp32"]);
    assert.ok(j.ok);
    assert.is(j.isa, isa);
    assert.ok(typeof j.peakGflops === "number" && j.peakGflops > 0, `peakGflops ${j.peakGflops}`);
    assert.is(j.peakGflopsBf16, undefined);
    assert.ok((j.results[0]?.msPerStep ?? 0) > 0);
});

test("bench --json: the bf16 products kernel's peak beside the fp32 one when bf16 is timed", async () => {
    if (!bf16Level) {
        console.log(`  (CPU level ${isa}: no bf16 products, nothing to time)`);
        return;
    }
    const j = await benchJson(["--decoder-precision", "fp32", "bf16"]);
    assert.ok(typeof j.peakGflopsBf16 === "number" && j.peakGflopsBf16 > 0, `peakGflopsBf16 ${j.peakGflopsBf16}`);
    const row = j.results[0];
    assert.ok(row && row.msPerStep > 0 && (row.msPerStep_bf16 ?? 0) > 0, JSON.stringify(row));
});

test("bench --what embed --json: the pipeline, the encoder alone and the host side alone, per patch", async () => {
    const r = await runCliOk(["bench", "--what", "embed", "--repeats", "1", "--threads", "2", "--json"]);
    const j = JSON.parse(r.stdout.trim().split("\n").pop() as string) as {
        results: Record<string, number | string | number[]>[];
    };
    const row = j.results[0] as Record<string, number | string | number[]>;
    assert.is(row.what, "embed");
    assert.equal(row.patchSize, [256, 256]);
    assert.ok((row.patches as number) >= 8, `patches ${row.patches}`);
    for (const k of ["pipelineSeconds", "encoderSeconds", "hostSeconds"])
        assert.ok((row[k] as number) > 0 && Number.isFinite(row[k] as number), `${k} ${row[k]}`);
    assert.is(row.overhead, (row.pipelineSeconds as number) / (row.encoderSeconds as number) - 1);
    assert.equal(
        readdirSync(tmpdir()).filter((f) => f.startsWith("sa-bench-embed-")),
        [],
        "the bench's phantom dataset and caches were left behind",
    );
});

test.run();
