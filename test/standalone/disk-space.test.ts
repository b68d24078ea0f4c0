// A run on a disk too small for its plan: `ablate` warns before it starts (run folder and cache
// folder counted on their own disks, or together on a shared one), and a disk that fills mid-run ends
// in ERR_SA_IO with a hint that says the disk is full and that the same command resumes.
import { statSync } from "node:fs";
import path from "node:path";
import { type DiskPlace, type DiskUseEstimate, diskPlace, diskSpaceWarnings } from "@sam-ablate/train";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { reportError } from "../../packages/cli/src/errors.js";
import { scratchDir } from "../helpers/scratch.js";

const MB = 1e6;
const estimate: DiskUseEstimate = {
    total: 900 * MB,
    units: 20,
    perUnit: 33 * MB,
    cache: 200 * MB,
    training: 40 * MB,
    unknown: [],
};
const place = (dir: string, device: number | null, freeMB: number | null): DiskPlace => ({
    dir,
    device,
    free: freeMB === null ? null : freeMB * MB,
});

test("enough space on a shared disk: no warning", () => {
    assert.equal(diskSpaceWarnings(estimate, place("/runs/a", 1, 901), place("/runs/a/cache", 1, 901)), []);
});

test("a shared disk smaller than the whole plan: one warning naming the folder and both sizes", () => {
    const w = diskSpaceWarnings(estimate, place("/runs/a", 1, 500), place("/runs/a/cache", 1, 500));
    assert.is(w.length, 1);
    assert.match(
        w[0] ?? "",
        /only 500\.0 MB free on the disk of \/runs\/a, where this plan expects to write about 900\.0 MB/,
    );
    assert.match(w[0] ?? "", /the same command resumes/);
});

test("separate disks: the run folder is checked for the units, the cache folder for the caches", () => {
    // 750 MB for the units fits in 800 MB; 200 MB of caches do not fit in 100 MB
    const w = diskSpaceWarnings(estimate, place("/runs/a", 1, 800), place("/scratch/cache", 2, 100));
    assert.is(w.length, 1);
    assert.match(w[0] ?? "", /disk of \/scratch\/cache, where this plan expects to write about 200\.0 MB/);
    const both = diskSpaceWarnings(estimate, place("/runs/a", 1, 600), place("/scratch/cache", 2, 100));
    assert.is(both.length, 2);
    assert.match(both[0] ?? "", /disk of \/runs\/a, where this plan expects to write about 700\.0 MB/);
});

test("unknown free space or device: no warning, and devices unknown count as separate disks", () => {
    assert.equal(diskSpaceWarnings(estimate, place("/runs/a", null, null), place("/c", null, null)), []);
    const w = diskSpaceWarnings(estimate, place("/runs/a", null, 10), place("/c", null, null));
    assert.is(w.length, 1);
    assert.match(w[0] ?? "", /about 700\.0 MB/);
});

test("diskPlace reads a folder that does not exist yet from its nearest existing ancestor", () => {
    const dir = scratchDir("sa-disk-");
    const p = diskPlace(path.join(dir, "not", "yet"));
    assert.is(p.dir, path.join(dir, "not", "yet"));
    assert.is(p.device, statSync(dir).dev);
    assert.ok(p.free !== null && p.free > 0, "free space read");
});

function reported(e: Error): { text: string; exit: number } {
    const write = process.stderr.write.bind(process.stderr);
    let text = "";
    process.stderr.write = ((chunk: string | Uint8Array) => {
        text += String(chunk);
        return true;
    }) as typeof process.stderr.write;
    try {
        const exit = reportError(e, false);
        return { text, exit };
    } finally {
        process.stderr.write = write;
    }
}

test("a full disk mid-run: ERR_SA_IO with a hint that the disk is full and the command resumes", () => {
    const e = Object.assign(new Error("unit train/mri/box/seed0 failed: ENOSPC: no space left on device, write"), {
        code: "ENOSPC",
    });
    const { text, exit } = reported(e);
    assert.match(text, /no space left on device, write \[ERR_SA_IO\]/);
    assert.match(text, /hint: the disk is full: free space .* run the same command again; finished units are kept/);
    assert.is.not(exit, 0);
    const other = reported(Object.assign(new Error("open /x: permission denied"), { code: "EACCES" }));
    assert.match(other.text, /\[ERR_SA_IO\]\n {2}hint: check that the path exists and is writable/);
});

test.run();
