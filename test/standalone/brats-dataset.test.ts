import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { loadDataset, prepareBrats, validateManifest, writeNifti } from "@sam-ablate/data";
import { encodePng } from "@sam-ablate/image-io";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { expectRejectsCode } from "../helpers/expect-code.js";
import { scratchDir } from "../helpers/scratch.js";

const root = scratchDir("sa-dataset-");
const input = path.join(root, "input");
const out = path.join(root, "prepared");
const N = 32;

const expectManifestError = (p: Promise<unknown>, pattern: RegExp) => expectRejectsCode(p, "ERR_SA_MANIFEST", pattern);

test.before(async () => {
    for (let p = 1; p <= 5; p++) {
        const id = `P${p}`;
        mkdirSync(path.join(input, id), { recursive: true });
        const img = new Float32Array(N * N * 3);
        const seg = new Uint8Array(N * N * 3);
        for (let i = 0; i < img.length; i++) img[i] = 100 + ((i * p) % 97);
        for (let y = 5; y < 5 + p + 2; y++) for (let x = 5; x < 25; x++) seg[N * N + y * N + x] = 1;
        await writeNifti(path.join(input, id, `${id}_flair.nii`), { dims: [N, N, 3], data: img, datatype: "float32" });
        await writeNifti(path.join(input, id, `${id}_seg.nii`), { dims: [N, N, 3], data: seg, datatype: "uint8" });
    }
    await prepareBrats({ inputDir: input, outDir: out, minTumourPixels: 20, patchSize: N });
});

test("the loader exposes the split and reads patches lazily", async () => {
    const ds = await loadDataset(out);
    assert.is(ds.patches.length, 5);
    assert.is(ds.train.length + ds.test.length, 5);
    assert.is(ds.test.length, 1);
    for (const p of ds.patches) {
        const px = await ds.read(p);
        assert.is(px.size, N);
        assert.is(px.image.length, N * N * 3);
        assert.ok(px.mask.every((v) => v === 0 || v === 1));
        assert.is(
            px.mask.reduce((a, b) => a + b, 0),
            p.tumourPixels,
        );
    }
    assert.is(ds.patch("P3_z001").tumourPixels, 5 * 20);
    assert.throws(() => ds.patch("nope"), /no patch with id nope/);
});

test("a changed patch fails verification unless verify is off", async () => {
    const copy = path.join(root, "tampered");
    await prepareBrats({ inputDir: input, outDir: copy, minTumourPixels: 20, patchSize: N });
    const mask = new Uint8Array(N * N);
    writeFileSync(
        path.join(copy, "masks", "P1_z001.png"),
        await encodePng({ width: N, height: N, channels: 1, data: mask }),
    );
    await expectManifestError(
        (await loadDataset(copy)).read("P1_z001"),
        /P1_z001\.png: pixels differ from the manifest's digest/,
    );
    const unverified = await (await loadDataset(copy, { verify: false })).read("P1_z001");
    assert.is(
        unverified.mask.reduce((a, b) => a + b, 0),
        0,
    );
    mask[0] = 7;
    writeFileSync(
        path.join(copy, "masks", "P1_z001.png"),
        await encodePng({ width: N, height: N, channels: 1, data: mask }),
    );
    await expectManifestError(
        (await loadDataset(copy)).read("P1_z001"),
        /mask value 7 at pixel \(0, 0\); expected 0 or 255/,
    );
    unlinkSync(path.join(copy, "images", "P2_z001.png"));
    await expectManifestError(
        loadDataset(copy),
        /1 patch file\(s\) listed in the manifest are missing, e\.g\. .*P2_z001\.png/,
    );
});

test("invalid manifests are rejected with the reason", async () => {
    const manifest = JSON.parse(readFileSync(path.join(out, "manifest.json"), "utf8"));
    type Editable = {
        version: number;
        split: { train: string[]; test: string[] };
        patches: { id: string; patient: string; split: string }[];
    };
    const broken = (mutate: (m: Editable) => void) => {
        const m = structuredClone(manifest);
        mutate(m);
        return () => validateManifest(m, "m.json");
    };
    assert.throws(
        broken((m) => m.split.test.push(m.split.train[0] as string)),
        /m\.json: patient P\d is on both sides of the split/,
    );
    assert.throws(
        broken(
            (m) =>
                ((m.patches[0] as Editable["patches"][0]).split = m.patches[0]?.split === "train" ? "test" : "train"),
        ),
        /disagrees with its patient's side/,
    );
    assert.throws(
        broken((m) => ((m.patches[1] as Editable["patches"][0]).id = m.patches[0]?.id as string)),
        /appears twice/,
    );
    assert.throws(
        broken((m) => ((m.patches[0] as Editable["patches"][0]).id = "../escape")),
        /is not a valid patch id/,
    );
    assert.throws(
        broken((m) => (m.version = 99)),
        /version 99 is not supported/,
    );
    assert.throws(
        broken((m) => ((m.patches[0] as Editable["patches"][0]).patient = "ghost")),
        /patient "ghost" is not in patients/,
    );
    assert.throws(
        broken((m) => (m.split.train = m.split.train.slice(1))),
        /is on neither side of the split/,
    );
    const dir = path.join(root, "badjson");
    mkdirSync(dir);
    writeFileSync(path.join(dir, "manifest.json"), "{not json");
    await expectManifestError(loadDataset(dir), /manifest\.json: not valid JSON/);
    await expectManifestError(
        loadDataset(path.join(root, "empty-nothing")),
        /no manifest\.json \(not a prepared dataset folder\)/,
    );
});

test.run();
