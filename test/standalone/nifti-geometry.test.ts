// NIfTI geometry: sform over qform over pixdim, quaternions, axis codes, the canonical reorientation
// and its inverse, and header geometry copied by the writer.
import {
    axisCodes,
    canonicalReorientation,
    encodeNifti,
    headerAffine,
    type NiftiHeader,
    parseNifti,
    reorientVolume,
    restoreVolume,
} from "@sam-ablate/data";
import { test } from "uvu";
import * as assert from "uvu/assert";

const close = (a: number[][], b: number[][]) =>
    a.every((row, r) => row.every((v, c) => Math.abs(v - (b[r]?.[c] as number)) < 1e-5));

function header(over: Partial<NiftiHeader>): NiftiHeader {
    const bytes = encodeNifti({ dims: [2, 3, 4], data: new Uint8Array(24), datatype: "uint8", pixdim: [2, 3, 4] });
    return { ...parseNifti(bytes).header, ...over };
}

test("the default geometry is the canonical L, P, S with the voxel sizes", () => {
    const h = header({});
    const { affine, source } = headerAffine(h);
    assert.is(source, "sform");
    assert.ok(
        close(affine, [
            [-2, 0, 0, 0],
            [0, -3, 0, 0],
            [0, 0, 4, 0],
        ]),
        JSON.stringify(affine),
    );
    assert.is(axisCodes(affine), "LPS");
    assert.ok(canonicalReorientation(h).identity);
});

test("qform quaternions (when there is no sform) and pixdim alone", () => {
    // 180 degrees about z: b = c = 0, d = 1 -> diag(-1, -1, 1).
    const q = header({
        sformCode: 0,
        qformCode: 1,
        quatern: [0, 0, 1],
        qoffset: [5, 6, 7],
        pixdim: [1, 2, 3, 4, 0, 0, 0, 0],
    });
    const qa = headerAffine(q);
    assert.is(qa.source, "qform");
    assert.ok(
        close(qa.affine, [
            [-2, 0, 0, 5],
            [0, -3, 0, 6],
            [0, 0, 4, 7],
        ]),
        JSON.stringify(qa.affine),
    );
    // qfac -1 flips the third axis.
    const qf = headerAffine(
        header({
            sformCode: 0,
            qformCode: 1,
            quatern: [0, 0, 0],
            qoffset: [0, 0, 0],
            pixdim: [-1, 1, 1, 1, 0, 0, 0, 0],
        }),
    );
    assert.is(axisCodes(qf.affine), "RAI");
    const none = header({ sformCode: 0, qformCode: 0 });
    assert.is(headerAffine(none).source, "pixdim");
    assert.is(canonicalReorientation(none).stored, "");
    assert.ok(canonicalReorientation(none).identity);
});

test("a permuted and flipped volume comes back to L, P, S and restores exactly", () => {
    // Stored axes: 0 -> superior, 1 -> right, 2 -> anterior ("SRA").
    const h = header({
        sformCode: 1,
        srow: [
            [0, 1, 0, 0],
            [0, 0, 1, 0],
            [1, 0, 0, 0],
        ],
    });
    const r = canonicalReorientation(h);
    assert.is(r.stored, "SRA");
    assert.equal(r.perm, [1, 2, 0]);
    assert.equal(r.flip, [true, true, false]);
    const dims: [number, number, number] = [2, 3, 4];
    const data = Float32Array.from({ length: 24 }, (_, i) => i);
    const { data: c, dims: cd } = reorientVolume(data, dims, r);
    assert.equal(cd, [3, 4, 2]);
    // canonical (i, j, k) = stored (k, 2 - i, 3 - j)
    for (let k = 0; k < 2; k++)
        for (let j = 0; j < 4; j++)
            for (let i = 0; i < 3; i++)
                assert.is(c[i + 3 * (j + 4 * k)], data[k + 2 * (2 - i + 3 * (3 - j))] as number);
    assert.equal(Array.from(restoreVolume(c, dims, r)), Array.from(data));
});

test("the writer copies another header's geometry", () => {
    const h = header({
        sformCode: 2,
        qformCode: 1,
        quatern: [0, 0, 1],
        qoffset: [1, 2, 3],
        srow: [
            [0, 1, 0, 9],
            [1, 0, 0, 8],
            [0, 0, 2, 7],
        ],
        xyztUnits: 10,
    });
    const bytes = encodeNifti({
        dims: [2, 3, 4],
        data: new Uint8Array(24),
        datatype: "uint8",
        pixdim: [2, 3, 4],
        geometry: h,
    });
    const back = parseNifti(bytes).header;
    assert.is(back.sformCode, 2);
    assert.is(back.qformCode, 1);
    assert.equal(back.quatern, [0, 0, 1]);
    assert.equal(back.qoffset, [1, 2, 3]);
    assert.equal(back.srow, h.srow);
    assert.is(back.xyztUnits, 10);
    assert.equal(headerAffine(back), headerAffine(h));
});

test.run();
