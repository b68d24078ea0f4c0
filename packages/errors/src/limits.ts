/**
 * The most bytes one record, tensor or file read from untrusted input may decode to (an inflated zip
 * record or gzip stream, a materialised tensor, voxel data and its float32 copy) before anything that
 * large is allocated: the reader's `maxBytes` option, else `SA_MAX_DECODE_MB` MiB, else 2048 MiB. The
 * largest single tensor of SAM ViT-H is some 26 MB.
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
