// Hostile files (small on disk, huge once inflated or materialised) read in a child process: each
// must end in a coded error naming the file (or succeed reading only what its header declares)
// while the child's peak RSS stays far below the size the file claims.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { readPth, readSafetensors } from "@sam-ablate/checkpoint";
import { encodeNifti } from "@sam-ablate/data";
import { test } from "uvu";
import * as assert from "uvu/assert";
import * as bombs from "../helpers/bombs.js";
import { MB, probeRead } from "../helpers/child-probe.js";
import { PickleBytes } from "../helpers/pickle-bytes.js";
import { scratchDir } from "../helpers/scratch.js";

const dir = scratchDir("sa-hostile-");

const RSS_BOUND = 300 * MB;

function put(name: string, bytes: Uint8Array): string {
    const file = path.join(dir, name);
    writeFileSync(file, bytes);
    return file;
}

function report(what: string, file: string, rss: number): void {
    console.log(`  ${what}: ${path.basename(file)} child maxRSS ${(rss / MB).toFixed(0)} MB`);
}

test("a .nii.gz carrying 1 GiB of zeros after a small volume is read without inflating them", async () => {
    const nii = encodeNifti({ dims: [64, 64, 1], data: new Array(4096).fill(3), datatype: "uint8" });
    const file = put("trailing-zeros.nii.gz", bombs.gzipWithZeros(nii, 1024));
    const r = await probeRead("nifti", file);
    report("nifti trailing 1 GiB", file, r.maxRss);
    assert.equal(r.result, { ok: true }, r.stdout + r.stderr);
    assert.ok(r.maxRss < RSS_BOUND, `maxRSS ${r.maxRss}`);
});

test("a .nii.gz whose header declares 16 GiB is refused before inflating, naming the file", async () => {
    const nii = encodeNifti({ dims: [4, 4, 4], data: new Array(64).fill(0), datatype: "float32" });
    const view = new DataView(nii.buffer, nii.byteOffset);
    view.setInt16(42, 2048, true);
    view.setInt16(44, 2048, true);
    view.setInt16(46, 1024, true);
    const file = put("declares-16g.nii.gz", bombs.gzipWithZeros(nii, 64));
    const r = await probeRead("nifti", file);
    report("nifti declares 16 GiB", file, r.maxRss);
    assert.is(r.result.code, "ERR_SA_NIFTI", r.stdout + r.stderr);
    assert.match(
        r.result.message ?? "",
        /declares-16g\.nii\.gz: the header declares 2048x2048x1024 float32 .* more than the 2048 MB limit/,
    );
    assert.ok(r.maxRss < RSS_BOUND, `maxRSS ${r.maxRss}`);
    const lowered = await probeRead(
        "nifti",
        put(
            "small.nii.gz",
            bombs.gzipWithZeros(
                encodeNifti({ dims: [64, 64, 64], data: new Array(64 ** 3).fill(1), datatype: "int16" }),
                0,
            ),
        ),
        { SA_MAX_DECODE_MB: "0.5" },
    );
    assert.is(lowered.result.code, "ERR_SA_NIFTI");
    assert.match(lowered.result.message ?? "", /small\.nii\.gz: .*more than the 0\.5 MB limit \(SA_MAX_DECODE_MB\)/);
});

test("a zip record declared as 16 bytes that inflates to 600 MiB is refused without inflating it", async () => {
    const file = put("zip-bomb.pth", bombs.zipBombPth("w"));
    const r = await probeRead("pth", file);
    report("zip record 16 B declared, 600 MiB inflated", file, r.maxRss);
    assert.is(r.result.code, "ERR_SA_CHECKPOINT_CORRUPT", r.stdout + r.stderr);
    assert.match(
        r.result.message ?? "",
        /zip-bomb\.pth: zip record archive\/data\/0 inflates past the 16 bytes the directory declares/,
    );
    assert.ok(r.maxRss < RSS_BOUND, `maxRSS ${r.maxRss}`);
});

test("a zip record that declares more than the decode limit is refused before it is read", async () => {
    const zeros = 600;
    const file = put(
        "zip-600m.pth",
        bombs.pthWith(
            bombs.onePickle("w", 4, [4], [1]),
            bombs.deflatedRecord(
                bombs.deflateWithZeros(new Uint8Array(0), zeros),
                zeros * MB,
                bombs.crcWithZeros(new Uint8Array(0), zeros),
            ),
        ),
    );
    const r = await probeRead("pth", file, { SA_MAX_DECODE_MB: "256" });
    report("zip record declaring 600 MiB, limit 256 MiB", file, r.maxRss);
    assert.is(r.result.code, "ERR_SA_CHECKPOINT_LIMIT", r.stdout + r.stderr);
    assert.match(
        r.result.message ?? "",
        /zip-600m\.pth: zip record archive\/data\/0 declares 629145600 bytes \(600 MB\), more than the 256 MB limit \(SA_MAX_DECODE_MB\)/,
    );
    assert.ok(r.maxRss < RSS_BOUND, `maxRSS ${r.maxRss}`);
    const huge = put(
        "zip-3g.pth",
        bombs.pthWith(
            bombs.onePickle("w", 4, [4], [1]),
            bombs.deflatedRecord(bombs.deflateWithZeros(new Uint8Array(0), 1), 3 * 1024 * MB, 0),
        ),
    );
    const r2 = await probeRead("checkpoint", huge);
    assert.is(r2.result.code, "ERR_SA_CHECKPOINT_LIMIT", r2.stdout + r2.stderr);
    assert.match(r2.result.message ?? "", /zip-3g\.pth: .*more than the 2048 MB limit/);
});

test("a 4-element storage viewed with stride 0 as 2^30 elements is refused without the 4 GiB copy", async () => {
    const pkl = bombs.onePickle("w", 4, [1 << 15, 1 << 15], [0, 0]);
    const file = put("stride0.pth", bombs.pthWith(pkl, bombs.storedRecord("", new Uint8Array(16))));
    const r = await probeRead("pth", file);
    report("stride-0 view of 2^30 floats", file, r.maxRss);
    assert.is(r.result.code, "ERR_SA_CHECKPOINT_FORMAT", r.stdout + r.stderr);
    assert.match(
        r.result.message ?? "",
        /stride0\.pth: tensor of shape \[32768, 32768\] \(strides \[0, 0\]\) has 1073741824 elements, more than the 4 of its storage 0/,
    );
    assert.ok(r.maxRss < RSS_BOUND, `maxRSS ${r.maxRss}`);
    assert.ok(bombs.pthWith(pkl, bombs.storedRecord("", new Uint8Array(16))).length < 1024);
});

test("shared and self-referencing pickle containers convert once (no exponential blow-up, no stack overflow)", async () => {
    // extra = L40 where L0 = [] and Lk = [Lk-1, Lk-1] through the pickle memo: 2^40 leaves if expanded.
    const p = new PickleBytes().proto(2).emptyDict().str("model").emptyDict().str("w");
    p.tensor("FloatStorage", "0", 4, 0, [4], [1]).setitem().setitem();
    p.str("extra").raw(0x5d, 0x71, 0, 0x30);
    for (let k = 1; k <= 40; k++) p.raw(0x5d, 0x68, k - 1, 0x61, 0x68, k - 1, 0x61, 0x71, k, 0x30);
    p.raw(0x68, 40).setitem();
    p.str("loop").raw(0x5d, 0x71, 100, 0x68, 100, 0x61).setitem().stop();
    const pth = bombs.pthWith(p.bytes(), bombs.storedRecord("", new Uint8Array(16)));
    const ckpt = await readPth(pth, { file: "dag.pth" });
    let level = ckpt.extras.extra as unknown[];
    for (let k = 40; k > 0; k--) {
        assert.is(level.length, 2);
        assert.is(level[0], level[1]);
        level = level[0] as unknown[];
    }
    const loop = ckpt.extras.loop as unknown[];
    assert.is(loop[0], loop);
    assert.equal(ckpt.tensors.get("w")?.shape, [4]);
});

test("names read from a file are cut in messages (a 1 MB tensor name gives a short line)", () => {
    const name = "w".repeat(1 << 20);
    const header = new TextEncoder().encode(
        JSON.stringify({ [name]: { dtype: "Q9", shape: [1], data_offsets: [0, 4] } }),
    );
    const bytes = new Uint8Array(8 + header.length + 4);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(header.length), true);
    bytes.set(header, 8);
    try {
        readSafetensors(bytes, "long-name.safetensors");
        assert.unreachable("expected ERR_SA_SAFETENSORS");
    } catch (e) {
        const err = e as { code?: string; message: string };
        assert.is(err.code, "ERR_SA_SAFETENSORS", err.message.slice(0, 300));
        assert.match(err.message, /^long-name\.safetensors: .*"w{48}"\.\.\. \(1048576 characters\)/);
        assert.ok(err.message.length < 300, `${err.message.length} characters`);
    }
});

test.run();
