import { DataError } from "../errors.js";
import type { NiftiHeader } from "./types.js";

/** Size of a NIfTI-1 header in bytes. */
export const NIFTI1_HEADER_BYTES = 348;
/** Voxel data offset written by this package (header + 4-byte extension flag). */
export const NIFTI1_DEFAULT_VOX_OFFSET = 352;
const NIFTI2_HEADER_BYTES = 540;

/** Field offsets of the NIfTI-1 header (nifti1.h). */
const OFF = {
    sizeofHdr: 0,
    dim: 40,
    intentCode: 68,
    datatype: 70,
    bitpix: 72,
    pixdim: 76,
    voxOffset: 108,
    sclSlope: 112,
    sclInter: 116,
    xyztUnits: 123,
    calMax: 124,
    calMin: 128,
    descrip: 148,
    qformCode: 252,
    sformCode: 254,
    quatern: 256,
    qoffset: 268,
    srow: 280,
    magic: 344,
} as const;

/** Parses the 348-byte header at the start of `bytes`; detects byte order from sizeof_hdr. */
export function parseHeader(bytes: Uint8Array, source: string): NiftiHeader {
    if (bytes.length < NIFTI1_HEADER_BYTES) {
        throw new DataError(
            "ERR_SA_NIFTI",
            `${source}: truncated header: ${bytes.length} bytes (a NIfTI-1 header has ${NIFTI1_HEADER_BYTES})`,
        );
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const le = view.getInt32(OFF.sizeofHdr, true);
    const be = view.getInt32(OFF.sizeofHdr, false);
    let littleEndian: boolean;
    if (le === NIFTI1_HEADER_BYTES) littleEndian = true;
    else if (be === NIFTI1_HEADER_BYTES) littleEndian = false;
    else if (le === NIFTI2_HEADER_BYTES || be === NIFTI2_HEADER_BYTES) {
        throw new DataError(
            "ERR_SA_NIFTI",
            `${source}: NIfTI-2 files are not supported (sizeof_hdr 540); convert to NIfTI-1`,
        );
    } else {
        throw new DataError(
            "ERR_SA_NIFTI",
            `${source}: bad sizeof_hdr ${le} (expected 348 in either byte order); not a NIfTI-1 file`,
        );
    }
    const i16 = (o: number) => view.getInt16(o, littleEndian);
    const f32 = (o: number) => view.getFloat32(o, littleEndian);
    const magic = ascii(bytes, OFF.magic, 4);
    const dim = Array.from({ length: 8 }, (_, i) => i16(OFF.dim + 2 * i));
    const pixdim = Array.from({ length: 8 }, (_, i) => f32(OFF.pixdim + 4 * i));
    return {
        littleEndian,
        dim,
        datatypeCode: i16(OFF.datatype),
        bitpix: i16(OFF.bitpix),
        pixdim,
        voxOffset: f32(OFF.voxOffset),
        sclSlope: f32(OFF.sclSlope),
        sclInter: f32(OFF.sclInter),
        xyztUnits: bytes[OFF.xyztUnits] as number,
        calMax: f32(OFF.calMax),
        calMin: f32(OFF.calMin),
        intentCode: i16(OFF.intentCode),
        qformCode: i16(OFF.qformCode),
        sformCode: i16(OFF.sformCode),
        quatern: [f32(OFF.quatern), f32(OFF.quatern + 4), f32(OFF.quatern + 8)],
        qoffset: [f32(OFF.qoffset), f32(OFF.qoffset + 4), f32(OFF.qoffset + 8)],
        srow: [0, 1, 2].map((r) => [0, 1, 2, 3].map((c) => f32(OFF.srow + 16 * r + 4 * c))) as [
            number[],
            number[],
            number[],
        ],
        descrip: ascii(bytes, OFF.descrip, 80),
        magic,
    };
}

/** Fields needed to write a header. */
export interface HeaderFields {
    dims: [number, number, number] | [number, number, number, number];
    datatypeCode: number;
    bitpix: number;
    pixdim: [number, number, number];
    sclSlope: number;
    sclInter: number;
    descrip: string;
    littleEndian: boolean;
    /** Geometry to copy (another header's qform/sform) or an sform affine; default canonical L, P, S. */
    geometry?: NiftiHeader | [number[], number[], number[]];
}

/**
 * Builds a single-file NIfTI-1 header plus the 4-byte empty extension flag (352 bytes). Geometry:
 * the given header's qform and sform (codes, quaternion, offsets, srow, qfac, units), or an sform
 * from the given rows, or by default sform_code 1 with srow diag(-dx, -dy, dz) (the canonical L, P, S
 * orientation), qform_code 0, units mm.
 */
export function encodeHeader(fields: HeaderFields): Uint8Array {
    const out = new Uint8Array(NIFTI1_DEFAULT_VOX_OFFSET);
    const view = new DataView(out.buffer);
    const le = fields.littleEndian;
    view.setInt32(OFF.sizeofHdr, NIFTI1_HEADER_BYTES, le);
    out[38] = "r".charCodeAt(0);
    const dim = [fields.dims.length, ...fields.dims, 1, 1, 1, 1].slice(0, 8);
    for (const [i, v] of dim.entries()) view.setInt16(OFF.dim + 2 * i, v, le);
    view.setInt16(OFF.datatype, fields.datatypeCode, le);
    view.setInt16(OFF.bitpix, fields.bitpix, le);
    const pixdim = [1, ...fields.pixdim, 0, 0, 0, 0];
    for (const [i, v] of pixdim.entries()) view.setFloat32(OFF.pixdim + 4 * i, v, le);
    view.setFloat32(OFF.voxOffset, NIFTI1_DEFAULT_VOX_OFFSET, le);
    view.setFloat32(OFF.sclSlope, fields.sclSlope, le);
    view.setFloat32(OFF.sclInter, fields.sclInter, le);
    out[OFF.xyztUnits] = 2;
    for (let i = 0; i < Math.min(fields.descrip.length, 79); i++)
        out[OFF.descrip + i] = fields.descrip.charCodeAt(i) & 0x7f;
    const g = fields.geometry;
    if (g && !Array.isArray(g)) {
        view.setFloat32(OFF.pixdim, (g.pixdim[0] ?? 1) < 0 ? -1 : 1, le);
        out[OFF.xyztUnits] = g.xyztUnits;
        view.setInt16(OFF.qformCode, g.qformCode, le);
        view.setInt16(OFF.sformCode, g.sformCode, le);
        for (let i = 0; i < 3; i++) {
            view.setFloat32(OFF.quatern + 4 * i, g.quatern[i] as number, le);
            view.setFloat32(OFF.qoffset + 4 * i, g.qoffset[i] as number, le);
        }
        for (let r = 0; r < 3; r++)
            for (let c = 0; c < 4; c++) view.setFloat32(OFF.srow + 16 * r + 4 * c, g.srow[r]?.[c] as number, le);
    } else {
        view.setInt16(OFF.qformCode, 0, le);
        view.setInt16(OFF.sformCode, 1, le);
        const rows =
            g ??
            [0, 1, 2].map((r) =>
                [0, 1, 2, 3].map((c) => (c === r ? (fields.pixdim[r] as number) * (r < 2 ? -1 : 1) : 0)),
            );
        for (let r = 0; r < 3; r++)
            for (let c = 0; c < 4; c++) view.setFloat32(OFF.srow + 16 * r + 4 * c, rows[r]?.[c] as number, le);
    }
    out.set([0x6e, 0x2b, 0x31, 0x00], OFF.magic);
    return out;
}

function ascii(bytes: Uint8Array, offset: number, length: number): string {
    let s = "";
    for (let i = 0; i < length; i++) {
        const c = bytes[offset + i] as number;
        if (c === 0) break;
        s += String.fromCharCode(c);
    }
    return s;
}
