/**
 * The most bytes one file may decode to (inflated gzip stream, voxel data and its float32 copy)
 * before anything that large is allocated: `SA_MAX_DECODE_MB` (default 2048 MiB), or the caller's
 * `maxBytes`.
 */
export const DEFAULT_MAX_DECODE_BYTES = 2048 * 1024 * 1024;

/** The decode limit in bytes: `override` when given, else `SA_MAX_DECODE_MB`, else the default. */
export function maxDecodeBytes(override?: number): number {
    if (override !== undefined && Number.isFinite(override) && override > 0) return override;
    const env = process.env.SA_MAX_DECODE_MB;
    if (env !== undefined && env.trim() !== "") {
        const mb = Number(env);
        if (Number.isFinite(mb) && mb > 0) return mb * 1024 * 1024;
    }
    return DEFAULT_MAX_DECODE_BYTES;
}

/** "12.3 MB" for messages. */
export function megabytes(bytes: number): string {
    const mb = bytes / (1024 * 1024);
    return `${mb >= 100 ? Math.round(mb) : Number(mb.toPrecision(3))} MB`;
}
