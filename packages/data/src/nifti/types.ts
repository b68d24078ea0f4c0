import type { NiftiDatatype } from "./datatypes.js";

/** Parsed NIfTI-1 header fields (the subset that matters for voxel data and geometry). */
export interface NiftiHeader {
    /** True when the file is little endian (detected from sizeof_hdr). */
    littleEndian: boolean;
    /** dim[0..7] as stored. */
    dim: number[];
    /** Datatype code as stored. */
    datatypeCode: number;
    bitpix: number;
    /** pixdim[0..7] as stored (pixdim[0] is qfac). */
    pixdim: number[];
    voxOffset: number;
    sclSlope: number;
    sclInter: number;
    xyztUnits: number;
    calMax: number;
    calMin: number;
    intentCode: number;
    qformCode: number;
    sformCode: number;
    /** quatern_b, quatern_c, quatern_d. */
    quatern: [number, number, number];
    /** qoffset_x, qoffset_y, qoffset_z. */
    qoffset: [number, number, number];
    /** srow_x, srow_y, srow_z (4 values each). */
    srow: [number[], number[], number[]];
    descrip: string;
    /** "n+1" for single-file NIfTI-1. */
    magic: string;
}

/** A 3-D volume (or a 4-D stack of `channels` 3-D volumes) read from NIfTI-1. */
export interface NiftiVolume {
    /** Voxel counts along x, y, z (dim[1..3]; z = 1 for 2-D files). */
    dims: [number, number, number];
    /** dim[4] of a 4-D file (e.g. the 4 MR sequences of the Decathlon's brain tumours); 1 for 3-D. */
    channels: number;
    /** Voxel sizes along x, y, z (absolute pixdim[1..3]). */
    pixdim: [number, number, number];
    /** Voxel values after scl_slope/scl_inter, x fastest then y then z (then channel). */
    data: Float32Array;
    datatype: NiftiDatatype;
    header: NiftiHeader;
}
