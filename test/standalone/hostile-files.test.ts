// Hostile files (small on disk, huge once inflated or materialised) read in a child process: each
// must end in a coded error naming the file (or succeed reading only what its header declares)
// while the child's peak RSS stays far below the size the file claims.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { encodeNifti } from "@sam-ablate/data";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { gzipWithZeros } from "../helpers/bombs.js";
import { MB, probeRead } from "../helpers/child-probe.js";

const dir = mkdtempSync(path.join(tmpdir(), "sa-hostile-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));

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
    const file = put("trailing-zeros.nii.gz", gzipWithZeros(nii, 1024));
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
    const file = put("declares-16g.nii.gz", gzipWithZeros(nii, 64));
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
            gzipWithZeros(encodeNifti({ dims: [64, 64, 64], data: new Array(64 ** 3).fill(1), datatype: "int16" }), 0),
        ),
        { SA_MAX_DECODE_MB: "0.5" },
    );
    assert.is(lowered.result.code, "ERR_SA_NIFTI");
    assert.match(lowered.result.message ?? "", /small\.nii\.gz: .*more than the 0\.5 MB limit \(SA_MAX_DECODE_MB\)/);
});

test.run();
