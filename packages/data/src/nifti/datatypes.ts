/** NIfTI-1 voxel types this package reads and writes. */
export type NiftiDatatype =
    | "int8"
    | "uint8"
    | "int16"
    | "uint16"
    | "int32"
    | "uint32"
    | "int64"
    | "uint64"
    | "float32"
    | "float64";

/** Properties of one supported voxel type. */
export interface DatatypeInfo {
    name: NiftiDatatype;
    /** NIfTI-1 datatype code (nifti1.h DT_*). */
    code: number;
    bytes: number;
    integer: boolean;
    min: number;
    max: number;
}

const SUPPORTED: readonly DatatypeInfo[] = [
    { name: "uint8", code: 2, bytes: 1, integer: true, min: 0, max: 255 },
    { name: "int16", code: 4, bytes: 2, integer: true, min: -32768, max: 32767 },
    { name: "int32", code: 8, bytes: 4, integer: true, min: -2147483648, max: 2147483647 },
    { name: "float32", code: 16, bytes: 4, integer: false, min: -3.4028234663852886e38, max: 3.4028234663852886e38 },
    { name: "float64", code: 64, bytes: 8, integer: false, min: -Number.MAX_VALUE, max: Number.MAX_VALUE },
    { name: "int8", code: 256, bytes: 1, integer: true, min: -128, max: 127 },
    { name: "uint16", code: 512, bytes: 2, integer: true, min: 0, max: 65535 },
    { name: "uint32", code: 768, bytes: 4, integer: true, min: 0, max: 4294967295 },
    // 64-bit integers are read as float32 (exact up to 2^24, like every other type here).
    { name: "int64", code: 1024, bytes: 8, integer: true, min: -Number.MAX_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER },
    { name: "uint64", code: 1280, bytes: 8, integer: true, min: 0, max: Number.MAX_SAFE_INTEGER },
];

/** Names of the NIfTI-1 datatype codes that exist but are not supported here (for error messages). */
const UNSUPPORTED_NAMES: ReadonlyMap<number, string> = new Map([
    [0, "unknown"],
    [1, "binary"],
    [32, "complex64"],
    [128, "rgb24"],
    [1536, "float128"],
    [1792, "complex128"],
    [2048, "complex256"],
    [2304, "rgba32"],
]);

/** The supported type with this NIfTI code, or undefined. */
export function datatypeByCode(code: number): DatatypeInfo | undefined {
    return SUPPORTED.find((d) => d.code === code);
}

/** The supported type with this name; throws for an unknown name. */
export function datatypeByName(name: NiftiDatatype): DatatypeInfo {
    const info = SUPPORTED.find((d) => d.name === name);
    if (!info) throw new Error(`unknown NIfTI datatype name '${String(name)}'`);
    return info;
}

/** Human description of a datatype code for error messages, e.g. "1024 (int64)". */
export function describeDatatypeCode(code: number): string {
    const known = datatypeByCode(code)?.name ?? UNSUPPORTED_NAMES.get(code);
    return known ? `${code} (${known})` : `${code} (not a NIfTI-1 datatype)`;
}

/** Names of all supported types, for messages. */
export const SUPPORTED_DATATYPES: readonly NiftiDatatype[] = SUPPORTED.map((d) => d.name);
