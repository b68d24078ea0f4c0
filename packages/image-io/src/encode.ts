import { errorText } from "@sam-ablate/errors";
import { writeFileAtomic } from "@sam-ablate/run-folder";
import sharp from "sharp";
import { ImageIoError } from "./errors.js";
import type { EncodableImage } from "./types.js";

/** PNG encoder settings. */
export interface PngOptions {
    /** zlib level 0-9 (default 6). */
    compressionLevel?: number;
}

/**
 * Encodes 8-bit grey, RGB or RGBA pixels as PNG. The output carries no timestamps or other
 * metadata, so the same pixels always give the same bytes.
 */
export async function encodePng(image: EncodableImage, options: PngOptions = {}): Promise<Uint8Array> {
    validateImage(image, "encodePng");
    const level = options.compressionLevel ?? 6;
    if (!Number.isInteger(level) || level < 0 || level > 9) {
        throw new ImageIoError("encodePng", `compressionLevel must be an integer 0-9, got ${level}`);
    }
    const { width, height, channels, data } = image;
    try {
        const pipeline = sharp(data, { raw: { width, height, channels } });
        const coloured = channels === 1 ? pipeline.toColourspace("b-w") : pipeline.toColourspace("srgb");
        const out = await coloured
            .png({ compressionLevel: level, adaptiveFiltering: false, palette: false })
            .toBuffer();
        return new Uint8Array(out.buffer, out.byteOffset, out.length);
    } catch (err) {
        throw new ImageIoError("encodePng", `PNG encoding failed (${errorText(err)})`, { cause: err });
    }
}

/** Encodes pixels as PNG and writes them atomically (temporary file + rename). */
export async function writePng(file: string, image: EncodableImage, options: PngOptions = {}): Promise<void> {
    const bytes = await encodePng(image, options);
    try {
        await writeFileAtomic(file, bytes);
    } catch (err) {
        throw new ImageIoError(file, `cannot write (${errorText(err)})`, { cause: err });
    }
}

/** Throws ImageIoError unless the image has positive integer sizes and width*height*channels bytes. */
export function validateImage(image: EncodableImage, source: string): void {
    const { width, height, channels, data } = image;
    if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
        throw new ImageIoError(source, `image size must be positive integers, got ${width}x${height}`);
    }
    if (channels !== 1 && channels !== 3 && channels !== 4) {
        throw new ImageIoError(source, `channels must be 1, 3 or 4, got ${String(channels)}`);
    }
    if (!(data instanceof Uint8Array) || data.length !== width * height * channels) {
        const got = data instanceof Uint8Array ? `${data.length} bytes` : "not a Uint8Array";
        throw new ImageIoError(
            source,
            `pixel data must be a Uint8Array of ${width * height * channels} bytes (${width}x${height}x${channels}), got ${got}`,
        );
    }
}
