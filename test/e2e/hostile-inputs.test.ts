// Hostile inputs through the CLI, each in a child whose peak RSS is measured: oversized strategy
// counts, a YAML alias bomb, zip/stride-0/NaN checkpoints and a NIfTI bomb end with the documented
// exit code and one line naming the file, well below the memory the inputs claim.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { writeSafetensorsFile } from "@sam-ablate/checkpoint";
import { encodeNifti } from "@sam-ablate/data";
import { tensor } from "@sam-ablate/tensor";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { gzipWithZeros, onePickle, pthWith, storedRecord, zipBombPth } from "../helpers/bombs.js";
import { MB, type ProbeResult, probeCli } from "../helpers/child-probe.js";
import { ablateWithCheckpoint } from "../helpers/cli.js";
import { scratchDir } from "../helpers/scratch.js";

const tmp = scratchDir("sa-hostile-cli-");
const RSS_BOUND = 300 * MB;

/** Exit code, one `sam-ablate: ... [CODE]` line mentioning `names`, a hint, no stack, bounded RSS and output. */
function expectRefusal(r: ProbeResult, exit: number, code: string, names: RegExp, what: string): void {
    console.log(
        `  ${what}: exit ${r.code}, child maxRSS ${(r.maxRss / MB).toFixed(0)} MB, stderr ${r.stderr.length} bytes`,
    );
    assert.is(r.signal, null, `killed by ${r.signal}`);
    assert.is(r.code, exit, r.stderr.slice(0, 2000));
    const causes = r.stderr.split("\n").filter((l) => l.startsWith("sam-ablate: "));
    assert.is(causes.length, 1, r.stderr.slice(0, 2000));
    assert.ok(causes[0]?.endsWith(`[${code}]`), causes[0]);
    assert.match(causes[0] ?? "", names);
    assert.match(r.stderr, /\n {2}hint: /);
    assert.not.match(r.stderr, /at .*\.ts:\d+/, "a stack trace leaked");
    assert.ok(r.stderr.length < 2000, `stderr of ${r.stderr.length} bytes`);
    assert.ok(r.maxRss < RSS_BOUND, `maxRSS ${r.maxRss}`);
}

test("train --strategy points1000000000: a plan error at parse time, not an out-of-memory abort", async () => {
    const [none, out] = [path.join(tmp, "none"), path.join(tmp, "run-t")];
    const r = await probeCli(["train", "--data", none, "--strategy", "points1000000000", "--out", out]);
    expectRefusal(
        r,
        2,
        "ERR_SA_PLAN",
        /"points1000000000": .*1000000000 points in one prompt; at most 1024/,
        "train points1000000000",
    );
});

test("a plan with pos5_neg999999999_box is refused naming the plan file", async () => {
    const plan = path.join(tmp, "huge-neg.yaml");
    writeFileSync(plan, "extends: quick\nstrategies: [box, pos5_neg999999999_box]\n");
    const r = await probeCli(["ablate", "--plan", plan, "--out", path.join(tmp, "run-n")]);
    expectRefusal(
        r,
        2,
        "ERR_SA_PLAN",
        /huge-neg\.yaml: .*pos5_neg999999999_box.*at most 1024/,
        "plan pos5_neg999999999_box",
    );
});

test("a 400-byte YAML alias bomb is refused quickly, with a short message", async () => {
    const levels = "abcdefgh";
    let yaml = `a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n`;
    for (let i = 1; i < levels.length; i++) {
        const prev = levels[i - 1];
        yaml += `${levels[i]}: &${levels[i]} [${new Array(9).fill(`*${prev}`).join(",")}]\n`;
    }
    yaml += `strategies: [${new Array(9).fill("*h").join(",")}]\n`;
    const plan = path.join(tmp, "lol.yaml");
    writeFileSync(plan, yaml);
    assert.ok(yaml.length < 600, `${yaml.length} bytes`);
    const r = await probeCli(["ablate", "--plan", plan, "--out", path.join(tmp, "run-y")]);
    expectRefusal(r, 2, "ERR_SA_PLAN", /lol\.yaml: cannot parse the plan: .*alias/i, "YAML alias bomb");
});

test("checkpoints: a zip bomb, a stride-0 view and NaN weights end with exit 3 naming the file", async () => {
    const bomb = path.join(tmp, "bomb.pth");
    writeFileSync(bomb, zipBombPth("image_encoder.patch_embed.proj.weight"));
    const r1 = await probeCli(ablateWithCheckpoint(bomb, path.join(tmp, "run-z")));
    expectRefusal(
        r1,
        3,
        "ERR_SA_CHECKPOINT_CORRUPT",
        /bomb\.pth: zip record archive\/data\/0 inflates past the 16 bytes/,
        "zip bomb checkpoint",
    );

    const stride0 = path.join(tmp, "stride0.pth");
    writeFileSync(
        stride0,
        pthWith(
            onePickle("image_encoder.patch_embed.proj.weight", 4, [1 << 15, 1 << 15], [0, 0]),
            storedRecord("", new Uint8Array(16)),
        ),
    );
    const r2 = await probeCli(ablateWithCheckpoint(stride0, path.join(tmp, "run-s")));
    expectRefusal(
        r2,
        3,
        "ERR_SA_CHECKPOINT_FORMAT",
        /stride0\.pth: tensor of shape \[32768, 32768\]/,
        "stride-0 checkpoint",
    );

    const nan = path.join(tmp, "nan.safetensors");
    const w = new Float32Array(768 * 3 * 16 * 16);
    w[5] = Number.NaN;
    await writeSafetensorsFile(
        nan,
        new Map([["image_encoder.patch_embed.proj.weight", tensor("float32", [768, 3, 16, 16], w)]]),
    );
    const r3 = await probeCli(ablateWithCheckpoint(nan, path.join(tmp, "run-f")));
    expectRefusal(
        r3,
        3,
        "ERR_SA_CHECKPOINT_NONFINITE",
        /nan\.safetensors: tensor image_encoder\.patch_embed\.proj\.weight holds 1 non-finite value/,
        "NaN checkpoint",
    );
});

test("prepare brats with a .nii.gz declaring 16 GiB: exit 2 naming the file, nothing inflated", async () => {
    const input = path.join(tmp, "brats");
    const patient = path.join(input, "BraTS20_Training_001");
    mkdirSync(patient, { recursive: true });
    const flair = encodeNifti({ dims: [4, 4, 4], data: new Array(64).fill(0), datatype: "float32" });
    const view = new DataView(flair.buffer, flair.byteOffset);
    view.setInt16(42, 2048, true);
    view.setInt16(44, 2048, true);
    view.setInt16(46, 1024, true);
    writeFileSync(path.join(patient, "BraTS20_Training_001_flair.nii.gz"), gzipWithZeros(flair, 64));
    writeFileSync(
        path.join(patient, "BraTS20_Training_001_seg.nii.gz"),
        gzipWithZeros(encodeNifti({ dims: [4, 4, 4], data: new Array(64).fill(0), datatype: "uint8" }), 0),
    );
    const r = await probeCli(["prepare", "brats", "--input", input, "--out", path.join(tmp, "prepared")]);
    expectRefusal(
        r,
        2,
        "ERR_SA_NIFTI",
        /BraTS20_Training_001_flair\.nii\.gz: the header declares 2048x2048x1024 float32/,
        "NIfTI declaring 16 GiB",
    );
});

test.run();
