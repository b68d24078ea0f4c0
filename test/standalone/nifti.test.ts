import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { encodeNifti, isGzip, type NiftiDatatype, parseNifti, readNifti, writeNifti } from "@sam-ablate/data";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { expectRejectsCode, expectThrowsCode } from "../helpers/expect-code.js";
import { scratchDir } from "../helpers/scratch.js";

const dir = scratchDir("sa-nifti-");

const SAMPLES: Record<NiftiDatatype, number[]> = {
    int8: [-128, -1, 0, 1, 127, 42],
    uint8: [0, 1, 128, 255, 7, 200],
    int16: [-32768, -1, 0, 1, 32767, 1234],
    uint16: [0, 1, 40000, 65535, 7, 300],
    int32: [-2147483648, -1, 0, 1, 2147483647, 16777217],
    uint32: [0, 1, 4294967295, 3000000000, 7, 300],
    int64: [-(2 ** 40), -1, 0, 1, 2 ** 45, 16777216],
    uint64: [0, 1, 2 ** 50, 3000000000, 7, 300],
    float32: [-1.5, 0, 0.1, 3.4e38, -7.25, 1e-20],
    float64: [-1.5, 0, 0.1, 1e300, -7.25, 1e-20],
};

const expectError = (fn: () => unknown, pattern: RegExp) => expectThrowsCode(fn, "ERR_SA_NIFTI", pattern);

const expectRejection = (p: Promise<unknown>, pattern: RegExp) => expectRejectsCode(p, "ERR_SA_NIFTI", pattern);

for (const [datatype, values] of Object.entries(SAMPLES) as [NiftiDatatype, number[]][]) {
    for (const gz of [false, true]) {
        for (const littleEndian of [true, false]) {
            test(`round trip ${datatype} ${gz ? ".nii.gz" : ".nii"} ${littleEndian ? "little" : "big"} endian`, async () => {
                const file = path.join(dir, `rt-${datatype}-${littleEndian ? "le" : "be"}.nii${gz ? ".gz" : ""}`);
                await writeNifti(
                    file,
                    { dims: [3, 2, 1], data: values, datatype, pixdim: [0.5, 0.75, 2] },
                    { littleEndian },
                );
                const vol = await readNifti(file);
                assert.equal(vol.dims, [3, 2, 1]);
                assert.equal(vol.pixdim, [0.5, 0.75, 2]);
                assert.is(vol.datatype, datatype);
                assert.is(vol.header.littleEndian, littleEndian);
                assert.is(vol.header.magic, "n+1");
                assert.equal(Array.from(vol.data), values.map(Math.fround));
            });
        }
    }
}

test("gzip is detected from the content, not the file name", async () => {
    const file = path.join(dir, "misnamed.nii");
    writeFileSync(
        file,
        encodeNifti({ dims: [2, 2, 2], data: [1, 2, 3, 4, 5, 6, 7, 8], datatype: "int16" }, { gzip: true }),
    );
    const vol = await readNifti(file);
    assert.equal(Array.from(vol.data), [1, 2, 3, 4, 5, 6, 7, 8]);
    const plain = path.join(dir, "plain.nii.gz");
    writeFileSync(plain, encodeNifti({ dims: [2, 1, 1], data: [9, 10], datatype: "uint8" }));
    assert.equal(Array.from((await readNifti(plain)).data), [9, 10]);
});

test("big-endian files have a byte-swapped sizeof_hdr", () => {
    const bytes = encodeNifti({ dims: [1, 1, 1], data: [258], datatype: "int16" }, { littleEndian: false });
    assert.equal(Array.from(bytes.subarray(0, 4)), [0, 0, 1, 92]);
    assert.equal(Array.from(bytes.subarray(352, 354)), [1, 2]);
    assert.is(parseNifti(bytes).data[0], 258);
});

test("scl_slope and scl_inter are applied; slope 0 means no scaling", () => {
    const stored = [0, 1, 2, -3];
    const scaled = parseNifti(
        encodeNifti({ dims: [4, 1, 1], data: stored, datatype: "int16", sclSlope: 2.5, sclInter: -10 }),
    );
    assert.equal(Array.from(scaled.data), [-10, -7.5, -5, -17.5]);
    assert.is(scaled.header.sclSlope, 2.5);
    const unscaled = parseNifti(
        encodeNifti({ dims: [4, 1, 1], data: stored, datatype: "int16", sclSlope: 0, sclInter: 5 }),
    );
    assert.equal(Array.from(unscaled.data), stored);
    const bigEndian = parseNifti(
        encodeNifti(
            { dims: [2, 1, 1], data: [10, 20], datatype: "uint8", sclSlope: 0.5, sclInter: 1 },
            { littleEndian: false },
        ),
    );
    assert.equal(Array.from(bigEndian.data), [6, 11]);
});

test("data starts at vox_offset (extensions are skipped)", () => {
    const base = encodeNifti({ dims: [3, 1, 1], data: [7, 8, 9], datatype: "int16" });
    const withExt = new Uint8Array(base.length + 16);
    withExt.set(base.subarray(0, 352));
    withExt.set(base.subarray(352), 368);
    withExt[348] = 1;
    new DataView(withExt.buffer).setFloat32(108, 368, true);
    assert.equal(Array.from(parseNifti(withExt).data), [7, 8, 9]);
});

test("x varies fastest, then y, then z", () => {
    const data = Array.from({ length: 24 }, (_, i) => i);
    const vol = parseNifti(encodeNifti({ dims: [4, 3, 2], data, datatype: "int16" }));
    const at = (x: number, y: number, z: number) => vol.data[x + 4 * (y + 3 * z)];
    assert.is(at(1, 0, 0), 1);
    assert.is(at(0, 1, 0), 4);
    assert.is(at(0, 0, 1), 12);
});

test("4-D stacks are read channel after channel; 5-D data is rejected", () => {
    const bytes = encodeNifti({ dims: [2, 2, 3], data: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], datatype: "uint8" });
    const view = new DataView(bytes.buffer);
    view.setInt16(40, 4, true);
    view.setInt16(46, 1, true);
    view.setInt16(48, 3, true);
    const v = parseNifti(bytes);
    assert.equal(v.dims, [2, 2, 1]);
    assert.is(v.channels, 3);
    assert.equal(Array.from(v.data.subarray(8, 12)), [9, 10, 11, 12]);
    view.setInt16(40, 5, true);
    view.setInt16(48, 1, true);
    view.setInt16(50, 3, true);
    expectError(() => parseNifti(bytes, "fmri.nii"), /fmri\.nii: .*dim\[5\] = 3 .*not supported/);
});

test("truncated voxel data names the file and the sizes", async () => {
    const bytes = encodeNifti({ dims: [4, 4, 4], data: new Array(64).fill(1), datatype: "int16" });
    const file = path.join(dir, "truncated.nii");
    writeFileSync(file, bytes.subarray(0, bytes.length - 10));
    await expectRejection(
        readNifti(file),
        /truncated\.nii: truncated voxel data: 4x4x4 int16 needs 128 bytes at offset 352, the file holds 118/,
    );
    const gzFile = path.join(dir, "truncated.nii.gz");
    writeFileSync(
        gzFile,
        encodeNifti({ dims: [4, 4, 4], data: new Array(64).fill(1), datatype: "int16" }, { gzip: true }).subarray(
            0,
            50,
        ),
    );
    await expectRejection(readNifti(gzFile), /truncated\.nii\.gz: gzip stream is corrupt or truncated/);
    expectError(() => parseNifti(bytes.subarray(0, 100), "short.nii"), /short\.nii: truncated header: 100 bytes/);
});

test("inflation is bounded by the header: trailing data is not read, oversized headers are refused", async () => {
    const nii = encodeNifti({ dims: [2, 2, 1], data: [1, 2, 3, 4], datatype: "uint8" });
    const trailing = gzipSync(Buffer.concat([nii, Buffer.alloc(1 << 20)]));
    const file = path.join(dir, "trailing.nii.gz");
    writeFileSync(file, trailing);
    assert.equal(Array.from((await readNifti(file)).data), [1, 2, 3, 4]);
    expectError(
        () => parseNifti(trailing, "trailing.nii.gz"),
        /trailing\.nii\.gz: the gzip stream inflates past the 356 bytes its header declares/,
    );
    const cube = encodeNifti(
        { dims: [32, 32, 32], data: new Array(32 ** 3).fill(0), datatype: "int16" },
        { gzip: true },
    );
    const cubeFile = path.join(dir, "cube.nii.gz");
    writeFileSync(cubeFile, cube);
    await expectRejection(
        readNifti(cubeFile, { maxBytes: 65536 }),
        /cube\.nii\.gz: the header declares 32x32x32 int16 at offset 352 \(0\.125 MB decoded\), more than the 0\.0625 MB limit/,
    );
    expectError(
        () => parseNifti(cube, "cube.nii.gz", { maxBytes: 65536 }),
        /cube\.nii\.gz: the header declares 32x32x32 int16/,
    );
    assert.is(parseNifti(cube).data.length, 32 ** 3);
    const plainFile = path.join(dir, "cube.nii");
    writeFileSync(plainFile, gunzipSync(cube));
    await expectRejection(readNifti(plainFile, { maxBytes: 65536 }), /cube\.nii: the header declares/);
    assert.is((await readNifti(plainFile)).data.length, 32 ** 3);
});

test("a directory is named as such", async () => {
    await expectRejection(readNifti(dir), /is a directory, not a NIfTI file/);
});

test("a wrong sizeof_hdr is rejected", () => {
    const bytes = encodeNifti({ dims: [1, 1, 1], data: [0], datatype: "uint8" });
    new DataView(bytes.buffer).setInt32(0, 349, true);
    expectError(() => parseNifti(bytes, "bad.nii"), /bad\.nii: bad sizeof_hdr 349/);
    new DataView(bytes.buffer).setInt32(0, 540, true);
    expectError(() => parseNifti(bytes, "v2.nii"), /NIfTI-2/);
});

test("unsupported datatypes are named by code", () => {
    const bytes = encodeNifti({ dims: [1, 1, 1], data: [0], datatype: "float64" });
    new DataView(bytes.buffer).setInt16(70, 1536, true);
    expectError(() => parseNifti(bytes, "big.nii"), /big\.nii: unsupported datatype 1536 \(float128\)/);
    new DataView(bytes.buffer).setInt16(70, 128, true);
    expectError(() => parseNifti(bytes), /unsupported datatype 128 \(rgb24\)/);
    new DataView(bytes.buffer).setInt16(70, 3, true);
    expectError(() => parseNifti(bytes), /unsupported datatype 3 \(not a NIfTI-1 datatype\)/);
});

test("non-positive dimensions, bad magic and bad vox_offset are rejected", () => {
    const make = () => encodeNifti({ dims: [2, 2, 2], data: new Array(8).fill(0), datatype: "uint8" });
    let bytes = make();
    new DataView(bytes.buffer).setInt16(44, 0, true);
    expectError(() => parseNifti(bytes, "zero.nii"), /zero\.nii: dim\[2\] = 0/);
    bytes = make();
    new DataView(bytes.buffer).setInt16(40, 9, true);
    expectError(() => parseNifti(bytes), /dim\[0\] = 9/);
    bytes = make();
    bytes.set([0x6e, 0x69, 0x31, 0], 344);
    expectError(() => parseNifti(bytes), /header\/image pairs/);
    bytes = make();
    bytes.set([0x41, 0x42, 0x43, 0], 344);
    expectError(() => parseNifti(bytes), /bad magic 'ABC'/);
    bytes = make();
    new DataView(bytes.buffer).setFloat32(108, 100, true);
    expectError(() => parseNifti(bytes), /invalid vox_offset 100/);
});

test("a missing file is an ERR_SA_NIFTI naming it", async () => {
    await expectRejection(readNifti(path.join(dir, "nope.nii.gz")), /nope\.nii\.gz: file not found/);
});

test("the writer checks values, sizes and gzip", async () => {
    expectError(
        () => encodeNifti({ dims: [2, 1, 1], data: [1, 1.5], datatype: "int16" }),
        /value 1\.5 at voxel 1 does not fit int16/,
    );
    expectError(() => encodeNifti({ dims: [2, 1, 1], data: [1, 256], datatype: "uint8" }), /value 256 .* uint8/);
    expectError(
        () => encodeNifti({ dims: [2, 2, 1], data: [1, 2], datatype: "uint8" }),
        /data has 2 values, dims 2x2x1 need 4/,
    );
    expectError(() => encodeNifti({ dims: [0, 2, 1], data: [], datatype: "uint8" }), /dims must be/);
    const gz = path.join(dir, "w.nii.gz");
    await writeNifti(gz, { dims: [1, 1, 1], data: [3], datatype: "float32" });
    const raw = path.join(dir, "w.nii");
    await writeNifti(raw, { dims: [1, 1, 1], data: [3], datatype: "float32" });
    assert.ok(isGzip(readFileSync(gz)));
    assert.not.ok(isGzip(readFileSync(raw)));
    assert.equal(gunzipSync(readFileSync(gz)), readFileSync(raw));
    assert.ok(isGzip(gzipSync(Buffer.from("x"))));
});

test.run();
