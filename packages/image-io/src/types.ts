/** An 8-bit image in row-major, channel-interleaved order (grey or RGB; alpha is never kept on decode). */
export interface RawImage {
    width: number;
    height: number;
    channels: 1 | 3;
    /** width * height * channels bytes. */
    data: Uint8Array;
}

/** An 8-bit image to encode: grey, RGB or RGBA. */
export interface EncodableImage {
    width: number;
    height: number;
    channels: 1 | 3 | 4;
    /** width * height * channels bytes. */
    data: Uint8Array;
}

/** A single-channel class-code image (one byte per pixel, the stored codes, never rescaled). */
export interface LabelImage {
    width: number;
    height: number;
    data: Uint8Array;
}
